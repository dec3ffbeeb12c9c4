package main

import (
	"github.com/spf13/cobra"
)

// graphOptions are the flags of `rebuild graph`.
type graphOptions struct {
	IO   *IOStreams
	Sys  *System
	Load loadOptions
	selectOptions
	Format string
}

func newGraphCmd(f *Factory, runF func(*graphOptions) error) *cobra.Command {
	o := &graphOptions{IO: f.IO, Sys: f.Sys}
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
			o.Load = f.loadOptions(cmd, 0)
			if runF != nil {
				return runF(o)
			}
			return graphRun(o)
		},
	}
	cmd.Flags().StringVar(&o.Format, "format", "text", "text, dot, mermaid or json")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "dot", "mermaid", "json"}, cobra.ShellCompDirectiveNoFileComp))
	addSelectFlags(cmd, f, &o.selectOptions)
	return cmd
}

func graphRun(o *graphOptions) error {
	p, err := buildPlan(o.Sys, o.Load, o.selectOptions)
	if err != nil {
		return err
	}
	switch o.Format {
	case "text":
		return p.graph.WriteText(o.IO.Out)
	case "dot":
		return p.graph.WriteDOT(o.IO.Out)
	case "mermaid":
		return p.graph.WriteMermaid(o.IO.Out)
	case "json":
		return p.graph.WriteJSON(o.IO.Out)
	}
	return usagef("--format %q: allowed: text, dot, mermaid, json", o.Format)
}
