package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// listOptions are the flags of `rebuild list` (the global ones only).
type listOptions struct {
	IO   *IOStreams
	Sys  *System
	Load loadOptions
}

func newListCmd(f *Factory, runF func(*listOptions) error) *cobra.Command {
	o := &listOptions{IO: f.IO, Sys: f.Sys}
	return &cobra.Command{
		Use:   "list",
		Short: "List every task: number, name, groups, edges, flags, enabled",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Load = f.loadOptions(cmd, 0)
			if runF != nil {
				return runF(o)
			}
			return listRun(o)
		},
	}
}

func listRun(o *listOptions) error {
	p, err := buildPlan(o.Sys, o.Load, selectOptions{})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTASK\tGROUPS\tNEEDS\tAFTER\tFLAGS\tENABLED")
	for _, n := range p.full.Nodes() {
		s := p.specs[n.Name]
		num := "·"
		if s.Phase > 0 {
			num = fmt.Sprint(s.Phase)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", num, n.Name, dash(n.Groups), dash(n.Needs), dash(n.After), dash(specFlags(s)), enabled(s))
	}
	return tw.Flush()
}

// specFlags names the flags a task has, as list shows them.
func specFlags(s tasks.Spec) []string {
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{s.Critical, "critical"}, {s.Interactive, "interactive"}, {s.Gate, "gate"}, {s.Root, "root"}, {s.DryRun, "dry-run"}, {s.User, "user"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	return flags
}

// enabled is list's ENABLED column: yes, or no with the reason.
func enabled(s tasks.Spec) string {
	if !s.Disabled {
		return "yes"
	}
	if s.DisabledReason != "" {
		return "no (" + s.DisabledReason + ")"
	}
	return "no"
}

func dash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
