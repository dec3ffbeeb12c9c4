package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// historyOptions are the flags of `rebuild history`.
type historyOptions struct {
	IO    *IOStreams
	Sys   *System
	Load  loadOptions
	Task  string
	Limit int
	JSON  bool
}

func newHistoryCmd(f *Factory, runF func(*historyOptions) error) *cobra.Command {
	o := &historyOptions{IO: f.IO, Sys: f.Sys}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Show past runs, or one task's past runs with --task",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Limit < 1 {
				return usagef("--limit must be at least 1, got %d", o.Limit)
			}
			o.Load = f.loadOptions(cmd, 0)
			if runF != nil {
				return runF(o)
			}
			return historyRun(o)
		},
	}
	cmd.Flags().StringVar(&o.Task, "task", "", "show this task's runs (a per-host task's on every host: build, or build@web1 for one)")
	cmd.Flags().IntVar(&o.Limit, "limit", 20, "at most this many runs, newest last")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "one JSON object per run")
	return cmd
}

func historyRun(o *historyOptions) error {
	cfg, err := loadConfig(o.Sys, o.Load)
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.StateDir, "history.jsonl")
	// Newest first, and only as far back as --limit needs: a long history
	// costs what is shown.
	var runs []schedule.RunRecord
	seen := false
	skipped, err := schedule.ReadHistoryBackward(path, func(r schedule.RunRecord) bool {
		seen = true
		if o.Task != "" && len(instances(r, o.Task)) == 0 {
			return true
		}
		runs = append(runs, r)
		return len(runs) < o.Limit
	})
	if err != nil {
		return err
	}
	slices.Reverse(runs)
	if o.Task != "" && len(runs) == 0 && seen {
		return usagef("no run in %s has a task %q", path, o.Task)
	}
	if o.JSON {
		enc := json.NewEncoder(o.IO.Out)
		for _, r := range runs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(runs) == 0 {
		fmt.Fprintf(o.IO.Out, "no runs recorded yet (%s)\n", path)
		return nil
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	if o.Task != "" {
		writeTaskRuns(tw, runs, o.Task)
	} else {
		writeRuns(tw, runs)
	}
	if skipped > 0 {
		fmt.Fprintf(tw, "(%d unreadable or over-long line(s) in %s skipped)\n", skipped, path)
	}
	return tw.Flush()
}

// writeRuns is the table of whole runs.
func writeRuns(w io.Writer, runs []schedule.RunRecord) {
	fmt.Fprintln(w, "RUN\tSTARTED\tWALL\tEXIT\tTASKS")
	for _, r := range runs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", r.RunID, r.Start.Local().Format("2006-01-02 15:04"),
			short(time.Duration(r.WallMS)*time.Millisecond), r.ExitCode, countStates(r))
	}
}

// instances are the names under which run r recorded task: task itself,
// and in a run with hosts each host's instance of it (build@web1, …),
// sorted.
func instances(r schedule.RunRecord, task string) []string {
	var out []string
	for name, t := range r.Tasks {
		if name == task || (t.Host != "" && name == tasks.OnHost(task, t.Host)) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// writeTaskRuns is the table of one task's runs, with its ETA; a task
// that ran per host has a row per host and run, and an ETA per host (the
// one its next run on that host is given).
func writeTaskRuns(w io.Writer, runs []schedule.RunRecord, task string) {
	perHost := false
	for _, r := range runs {
		for _, n := range instances(r, task) {
			perHost = perHost || r.Tasks[n].Host != ""
		}
	}
	if perHost {
		fmt.Fprintln(w, "RUN\tSTARTED\tHOST\tSTATE\tDURATION\tREASON")
	} else {
		fmt.Fprintln(w, "RUN\tSTARTED\tSTATE\tDURATION\tREASON")
	}
	var names []string
	for _, r := range runs {
		for _, n := range instances(r, task) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
			t := r.Tasks[n]
			d := short(time.Duration(t.DurationMS) * time.Millisecond)
			if t.WaitMS > 0 {
				d += fmt.Sprintf(" (%s waiting for answers)", short(time.Duration(t.WaitMS)*time.Millisecond))
			}
			host := ""
			if perHost {
				host = t.Host + "\t"
			}
			fmt.Fprintf(w, "%s\t%s\t%s%s\t%s\t%s\n", r.RunID, r.Start.Local().Format("2006-01-02 15:04"), host, t.State, d, t.Reason)
		}
	}
	est := schedule.Estimates(runs, "")
	if !perHost {
		if med := est[task]; med > 0 {
			fmt.Fprintf(w, "\nETA (median of the last 10 successes): %s, time waiting for answers left out\n", short(med))
		}
		return
	}
	sort.Strings(names)
	first := true
	for _, n := range names {
		if med := est[n]; med > 0 {
			if first {
				fmt.Fprintln(w, "\nETA per host (median of the last 10 successes there, time waiting for answers left out):")
				first = false
			}
			_, host := tasks.SplitHost(n)
			if host == "" {
				host = "(without hosts)"
			}
			fmt.Fprintf(w, "  %s\t%s\n", host, short(med))
		}
	}
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
