package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// runOptions are the flags of `rebuild run`.
type runOptions struct {
	jobs      int
	yes       bool
	ask       bool
	dryRun    bool
	verbose   bool
	output    string
	strict    bool
	keep      int
	keepSince string
}

func addRunFlags(cmd *cobra.Command, sys *System, g *globalOptions, o *runOptions) {
	addSelectFlags(cmd, sys, g)
	f := cmd.Flags()
	f.IntVarP(&o.jobs, "jobs", "j", 0, "tasks at once (default max(4, CPUs); config key jobs)")
	f.BoolVarP(&o.yes, "yes", "y", false, "answer every question with its documented yes answer")
	f.BoolVar(&o.ask, "ask", false, "show the diff and confirm before activating")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "show the plan and what each task would change; change nothing")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "stream every task's output, prefixed [task]")
	f.StringVar(&o.output, "output", "auto", "output: auto, tty, plain, json or quiet")
	f.BoolVar(&o.strict, "strict", false, "exit 1 when any task failed, not only a critical one")
	f.IntVar(&o.keep, "keep", 0, "generations: keep the newest N (config task.generations.keep)")
	f.StringVar(&o.keepSince, "keep-since", "", "generations: keep those younger than this, e.g. 7d (task.generations.keep_since)")
}

func newRunCmd(sys *System, g *globalOptions) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the graph (the default command)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRun(cmd, sys, g, o)
		},
	}
	addRunFlags(cmd, sys, g, o)
	return cmd
}

func runRun(cmd *cobra.Command, sys *System, g *globalOptions, o *runOptions) error {
	if cmd.Flags().Changed("jobs") && o.jobs < 1 {
		return usagef("--jobs must be at least 1, got %d", o.jobs)
	}
	if cmd.Flags().Changed("keep") && o.keep < 1 {
		return usagef("--keep must be at least 1, got %d", o.keep)
	}
	if err := checkSelectFlags(cmd); err != nil {
		return err
	}
	mode, err := render.Resolve(o.output, sys.StdoutTTY())
	if err != nil {
		return &usageError{err}
	}
	p, err := buildPlan(cmd, sys, g, o.jobs)
	if err != nil {
		return err
	}
	if o.dryRun {
		// The plan is text: with --output json it goes to stderr, so that
		// stdout stays one JSON object per line.
		w := sys.Out
		if mode == render.ModeJSON {
			w = sys.Err
		}
		if err := writePlan(w, p, loadEstimates(p)); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}

	now := sys.Now()
	stateDir := p.cfg.StateDir
	lock, err := schedule.AcquireLock(stateDir, now)
	if err != nil {
		return err
	}
	defer lock.Release()

	est := loadEstimates(p)
	runID := render.NewRunID(now)
	color := !g.noColor && sys.Getenv("NO_COLOR") == "" && mode == "tty"

	infos := make([]render.TaskInfo, 0, p.graph.Len())
	for _, n := range p.graph.Nodes() {
		s := p.specs[n.Name]
		infos = append(infos, render.TaskInfo{Name: n.Name, Seed: s.Seed, Critical: s.Critical, Interactive: s.Interactive, ETA: est(n.Name)})
	}
	preds := map[string][]string{}
	for _, e := range p.graph.Edges() {
		preds[e.To] = append(preds[e.To], e.From)
	}
	rend, err := render.New(mode, render.Options{Out: sys.Out, Err: sys.Err, Now: sys.Now, Color: color,
		Verbose: o.verbose, Tasks: infos, Width: sys.Width, RemainingETA: render.CriticalRemaining(infos, preds)})
	if err != nil {
		return &usageError{err}
	}
	var verbose io.Writer
	if o.verbose {
		verbose = rend.VerboseWriter()
	}
	logs, err := render.OpenLogs(filepath.Join(stateDir, "logs"), runID, p.cfg.KeepLogs, verbose)
	if err != nil {
		rend.Close()
		return fmt.Errorf("logs: %w", err)
	}

	var term *proc.Terminal
	interactive := sys.StdinTTY() && sys.StdoutTTY()
	if interactive && mode == render.ModeTTY {
		term = &proc.Terminal{In: sys.In, Out: sys.OutFile, Err: sys.OutFile}
	}
	// Only the live terminal display asks questions: plain and json
	// output never prompt, whatever stdin is.
	var promptIn, promptOut *os.File
	if mode == render.ModeTTY && interactive {
		promptIn, promptOut = sys.In, sys.OutFile
	}
	prompter := render.NewPrompter(promptIn, promptOut, rend, color)

	runner := &proc.Runner{Environ: sys.Environ}
	if w := proc.ForeignOwnerWarning(p.cfg.Flake, sys.Euid); w != "" {
		fmt.Fprintf(sys.Err, "rebuild: warning: %s\n", w)
	}
	// Root is asked for once, up front, before the live display starts and
	// before the first task that needs it, and kept alive for the run: a
	// two-hour build never ends at a password prompt nobody is there for.
	elevator := &proc.Elevator{Method: p.cfg.Elevate, Runner: runner, Euid: func() int { return sys.Euid }}
	defer elevator.Close()
	if needsRoot(p, o.dryRun) {
		rend.Pause()
		prefix, err := elevator.Acquire(context.Background(), term)
		rend.Resume()
		if err != nil {
			rend.Close()
			logs.Close()
			return err
		}
		runner.Elevate = prefix
	}
	r, err := schedule.New(p.graph, p.specs, schedule.Options{
		Jobs: jobsFor(p, o), Now: sys.Now, Sink: rend, Logs: logs.Open, Estimate: est,
		Prompt: prompter, Runner: runner, Terminal: term, Config: p.cfg, Home: sys.Home,
		DryRun: o.dryRun, Yes: o.yes,
	})
	if err != nil {
		rend.Close()
		logs.Close()
		return err
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGINT {
					r.Interrupt()
				} else {
					stop()
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	sum := r.Execute(ctx)
	code := sum.ExitCode(o.strict)
	rend.Summary(sum, logs.Dir())
	rend.Close()
	logs.Close()
	if err := logs.Prune(); err != nil {
		fmt.Fprintf(sys.Err, "rebuild: pruning old logs: %v\n", err)
	}
	// A dry run is not a run: its quick, changeless tasks would drag the
	// ETAs of the next real run down.
	if !o.dryRun {
		rec := schedule.NewRunRecord(runID, p.cfg.Host, sum, code, r.Values().Snapshot())
		if err := schedule.AppendHistory(filepath.Join(stateDir, "history.jsonl"), rec); err != nil {
			fmt.Fprintf(sys.Err, "rebuild: recording history: %v\n", err)
		}
	}
	if p.cfg.MetricsFile != "" && !o.dryRun {
		if err := render.WriteMetrics(p.cfg.MetricsFile, sum, code, sys.Now()); err != nil {
			fmt.Fprintf(sys.Err, "rebuild: writing metrics: %v\n", err)
		}
	}
	if code != 0 {
		return &exitError{code}
	}
	return nil
}

// needsRoot reports whether a task that will run needs root.
func needsRoot(p *plan, dryRun bool) bool {
	for _, n := range p.graph.Order() {
		s := p.specs[n]
		if s.Root && !s.Disabled && (!dryRun || s.DryRun) {
			return true
		}
	}
	return false
}

func jobsFor(p *plan, o *runOptions) int {
	if o.jobs > 0 {
		return o.jobs
	}
	return defaultJobs(p.cfg)
}

// loadEstimates returns the ETA source: the median of a task's last ten
// successful runs on this host, else its default estimate.
func loadEstimates(p *plan) func(string) time.Duration {
	runs, _, _ := schedule.ReadHistory(filepath.Join(p.cfg.StateDir, "history.jsonl"))
	med := schedule.Estimates(runs, p.cfg.Host)
	return func(name string) time.Duration {
		if d, ok := med[name]; ok {
			return d
		}
		if d := p.specs[name].Estimate; d > 0 {
			return d
		}
		return time.Second
	}
}

var _ tasks.Prompter = (*render.Prompter)(nil)
