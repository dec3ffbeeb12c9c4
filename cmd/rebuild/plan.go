package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// planOptions are the flags of `rebuild plan`.
type planOptions struct {
	IO   *IOStreams
	Sys  *System
	Load loadOptions
	selectOptions
}

func newPlanCmd(f *Factory, runF func(*planOptions) error) *cobra.Command {
	o := &planOptions{IO: f.IO, Sys: f.Sys}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what would run, in which waves, with estimated times and the critical path; runs nothing",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkSelectFlags(cmd); err != nil {
				return err
			}
			o.Load = f.loadOptions(cmd, 0)
			if runF != nil {
				return runF(o)
			}
			return planRun(o)
		},
	}
	addSelectFlags(cmd, f, &o.selectOptions)
	return cmd
}

func planRun(o *planOptions) error {
	p, err := buildPlan(o.Sys, o.Load, o.selectOptions)
	if err != nil {
		return err
	}
	// One write, not one per line: a plan of 1,000 tasks is as many lines.
	w := bufio.NewWriter(o.IO.Out)
	if err := writePlan(w, p, loadEstimates(p)); err != nil {
		return err
	}
	return w.Flush()
}

// writePlan prints the waves of the selected graph with estimates, the
// critical path, and the sequential sum beside it.
func writePlan(w io.Writer, p *plan, est func(string) time.Duration) error {
	if p.graph.Len() == 0 {
		_, err := fmt.Fprintln(w, "nothing selected: no task would run")
		return err
	}
	var seq time.Duration
	for i, wave := range p.graph.Waves() {
		fmt.Fprintf(w, "wave %d\n", i+1)
		for _, name := range wave {
			s := p.specs[name]
			num := "·"
			if s.Phase > 0 {
				num = fmt.Sprint(s.Phase)
			}
			note := ""
			if s.Disabled {
				note = "  (skipped: disabled)"
				if s.DisabledReason != "" {
					note = "  (skipped: " + s.DisabledReason + ")"
				}
			} else {
				seq += est(name)
			}
			fmt.Fprintf(w, "  %2s  %-22s ~%s%s\n", num, name, short(est(name)), note)
		}
	}
	// Estimates, and said so: the summary of a run shows the measured
	// critical path, which may differ.
	cp, total := p.graph.CriticalPath(est)
	fmt.Fprintf(w, "critical path: %s (~%s, from estimates)\n", strings.Join(cp, " → "), short(total))
	fmt.Fprintf(w, "estimated: ~%s in parallel, ~%s one after another\n", short(total), short(seq))
	fmt.Fprintln(w, "estimates: the median of a task's last 10 successful runs here (time waiting for answers left out), else its default")
	writePlanFlake(w, p)
	return nil
}

// writePlanFlake says which flake the selected tasks would use, or that
// there is none and a run would stop before its first task. Nothing is
// evaluated: plan runs nothing.
func writePlanFlake(w io.Writer, p *plan) {
	users := selected(p, func(s tasks.Spec) bool { return s.UsesFlake || s.UsesHost })
	switch {
	case len(users) == 0:
	case p.flake.Err != nil:
		fmt.Fprintf(w, "flake: none; a run would stop before its first task (%s need one):\n", andList(users))
		for _, l := range strings.Split(p.flake.Err.Error(), "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	default:
		fmt.Fprintf(w, "flake: %s (from %s)\n", p.cfg.Flake, p.flake.From)
	}
}

// short formats a duration for people: 1m40s, 2.5s, 120ms.
func short(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}
