package main

import (
	"github.com/spf13/cobra"
)

func newGraphCmd(sys *System, g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the task graph as text, DOT, Mermaid or JSON",
		Long: `Print the task graph. Solid edges are needs (run only after success),
dashed edges are after (ordering only). --only and --skip select as for a run.

  rebuild graph --format dot | dot -Tsvg > graph.svg`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkSelectFlags(cmd); err != nil {
				return err
			}
			p, err := buildPlan(cmd, sys, g, 0)
			if err != nil {
				return err
			}
			switch format {
			case "text":
				return p.graph.WriteText(sys.Out)
			case "dot":
				return p.graph.WriteDOT(sys.Out)
			case "mermaid":
				return p.graph.WriteMermaid(sys.Out)
			case "json":
				return p.graph.WriteJSON(sys.Out)
			}
			return usagef("--format %q: allowed: text, dot, mermaid, json", format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, dot, mermaid or json")
	addSelectFlags(cmd, sys, g)
	return cmd
}
