package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/schedule"
)

func newHistoryCmd(sys *System, g *globalOptions) *cobra.Command {
	var (
		task   string
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Show past runs, or one task's past runs with --task",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return usagef("--limit must be at least 1, got %d", limit)
			}
			cfg, err := loadConfig(cmd, sys, g, 0)
			if err != nil {
				return err
			}
			path := filepath.Join(cfg.StateDir, "history.jsonl")
			// Newest first, and only as far back as --limit needs: a long
			// history costs what is shown.
			var runs []schedule.RunRecord
			seen := false
			skipped, err := schedule.ReadHistoryBackward(path, func(r schedule.RunRecord) bool {
				seen = true
				if _, ok := r.Tasks[task]; task != "" && !ok {
					return true
				}
				runs = append(runs, r)
				return len(runs) < limit
			})
			if err != nil {
				return err
			}
			slices.Reverse(runs)
			if task != "" && len(runs) == 0 && seen {
				return usagef("no run in %s has a task %q", path, task)
			}
			if asJSON {
				enc := json.NewEncoder(sys.Out)
				for _, r := range runs {
					if err := enc.Encode(r); err != nil {
						return err
					}
				}
				return nil
			}
			if len(runs) == 0 {
				fmt.Fprintf(sys.Out, "no runs recorded yet (%s)\n", path)
				return nil
			}
			tw := tabwriter.NewWriter(sys.Out, 0, 0, 2, ' ', 0)
			if task != "" {
				fmt.Fprintln(tw, "RUN\tSTARTED\tSTATE\tDURATION\tREASON")
				for _, r := range runs {
					t := r.Tasks[task]
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.RunID, r.Start.Local().Format("2006-01-02 15:04"), t.State,
						short(time.Duration(t.DurationMS)*time.Millisecond), t.Reason)
				}
				if med := schedule.Estimates(runs, "")[task]; med > 0 {
					fmt.Fprintf(tw, "\nETA (median of the last 10 successes): %s\n", short(med))
				}
			} else {
				fmt.Fprintln(tw, "RUN\tSTARTED\tWALL\tEXIT\tTASKS")
				for _, r := range runs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.RunID, r.Start.Local().Format("2006-01-02 15:04"),
						short(time.Duration(r.WallMS)*time.Millisecond), r.ExitCode, countStates(r))
				}
			}
			if skipped > 0 {
				fmt.Fprintf(tw, "(%d unreadable or over-long line(s) in %s skipped)\n", skipped, path)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&task, "task", "", "show this task's runs")
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many runs, newest last")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per run")
	return cmd
}

// countStates summarises a run: "12 succeeded, 1 failed".
func countStates(r schedule.RunRecord) string {
	n := map[schedule.State]int{}
	for _, t := range r.Tasks {
		n[t.State]++
	}
	var states []string
	for s := range n {
		states = append(states, string(s))
	}
	sort.Strings(states)
	out := ""
	for i, s := range states {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%d %s", n[schedule.State(s)], s)
	}
	return out
}
