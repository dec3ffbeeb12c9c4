package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newListCmd(sys *System, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every task: number, name, groups, edges, flags, enabled",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := buildPlan(cmd, sys, g, 0)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(sys.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "#\tTASK\tGROUPS\tNEEDS\tAFTER\tFLAGS\tENABLED")
			for _, n := range p.full.Nodes() {
				s := p.specs[n.Name]
				num := "·"
				if s.Seed > 0 {
					num = fmt.Sprint(s.Seed)
				}
				var flags []string
				for _, f := range []struct {
					on   bool
					name string
				}{{s.Critical, "critical"}, {s.Interactive, "interactive"}, {s.Root, "root"}, {s.DryRun, "dry-run"}, {s.User, "user"}} {
					if f.on {
						flags = append(flags, f.name)
					}
				}
				enabled := "yes"
				if s.Disabled {
					enabled = "no"
					if s.DisabledReason != "" {
						enabled = "no (" + s.DisabledReason + ")"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", num, n.Name, dash(n.Groups), dash(n.Needs), dash(n.After), dash(flags), enabled)
			}
			return tw.Flush()
		},
	}
}

func dash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
