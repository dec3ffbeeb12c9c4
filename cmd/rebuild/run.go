package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
)

// runOptions are the flags of `rebuild run` (and of rebuild without a
// command, and of rebuild demo).
type runOptions struct {
	IO   *IOStreams
	Sys  *System
	Load loadOptions
	selectOptions

	Jobs      int
	Yes       bool
	Ask       bool
	DryRun    bool
	Verbose   bool
	Output    string
	Strict    bool
	Keep      int
	KeepSet   bool // --keep was given
	KeepSince string
	// LogsRemoved: the logs go away when the run ends (the demo's sandbox
	// holds them), so the summary does not point at them.
	LogsRemoved bool
}

func newRunCmd(f *Factory, runF func(*runOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the graph (the default command)",
		Args:  noArgs,
	}
	bindRun(cmd, f, runF)
	return cmd
}

// bindRun gives cmd the run flags and makes it run the graph (or runF).
func bindRun(cmd *cobra.Command, f *Factory, runF func(*runOptions) error) *runOptions {
	o := &runOptions{IO: f.IO, Sys: f.Sys}
	addRunFlags(cmd, f, o)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.parse(cmd, f); err != nil {
			return err
		}
		if runF != nil {
			return runF(o)
		}
		return runRun(o)
	}
	return o
}

func addRunFlags(cmd *cobra.Command, f *Factory, o *runOptions) {
	addSelectFlags(cmd, f, &o.selectOptions)
	fl := cmd.Flags()
	fl.IntVarP(&o.Jobs, "jobs", "j", 0, "tasks at once (default max(4, CPUs); config key jobs)")
	fl.Int("parallel-hosts", 0, "with hosts: the most hosts at work at once, besides --jobs (default 10; config key parallel_hosts)")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "answer every question with its documented yes answer")
	fl.BoolVar(&o.Ask, "ask", false, "show the diff and confirm before activating")
	fl.String("confirm-timeout", "", "roll back on its own unless the gates pass and the configuration is kept within this long, e.g. 60s (task.activate.confirm_timeout)")
	fl.BoolVarP(&o.DryRun, "dry-run", "n", false, "show the plan and what each task would change; change nothing")
	fl.BoolVarP(&o.Verbose, "verbose", "v", false, "stream every task's output, prefixed [task]")
	fl.StringVar(&o.Output, "output", "auto", "output: auto, tty, plain, json or quiet")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"auto", "tty", "plain", "json", "quiet"}, cobra.ShellCompDirectiveNoFileComp))
	fl.BoolVar(&o.Strict, "strict", false, "exit 1 when any task failed, not only a critical one")
	fl.IntVar(&o.Keep, "keep", 0, "generations: keep the newest N (config task.generations.keep)")
	fl.StringVar(&o.KeepSince, "keep-since", "", "generations: keep those younger than this, e.g. 7d (task.generations.keep_since)")
	fl.Bool("rebuild", false, "build: evaluate even when nothing the evaluation reads changed since the last build (task.build.fingerprint = false)")
	// Read through the configuration's flag layer only (taskOptionFlags),
	// checked with task.activate's other options.
	fl.String("reboot", "never", "at the end of a successful run: never, when-needed or always reboot (task.activate.reboot)")
	_ = cmd.RegisterFlagCompletionFunc("reboot", cobra.FixedCompletions(
		[]string{nixos.RebootNever, nixos.RebootWhenNeeded, nixos.RebootAlways}, cobra.ShellCompDirectiveNoFileComp))
}

// parse checks the run flags that need no configuration and records what
// the run needs of the command line.
func (o *runOptions) parse(cmd *cobra.Command, f *Factory) error {
	if cmd.Flags().Changed("jobs") && o.Jobs < 1 {
		return usagef("--jobs must be at least 1, got %d", o.Jobs)
	}
	if err := checkSelectFlags(cmd); err != nil {
		return err
	}
	o.KeepSet = cmd.Flags().Changed("keep")
	o.Load = f.loadOptions(cmd, o.Jobs)
	return nil
}

// runRun runs the graph: plan, lock, then the run itself.
func runRun(o *runOptions) error {
	mode, err := render.Resolve(o.Output, o.IO.IsStdoutTTY())
	if err != nil {
		return &usageError{err}
	}
	if o.KeepSet && o.Keep < 1 {
		return usagef("--keep must be at least 1, got %d", o.Keep)
	}
	// --ask, --keep and --keep-since reach their tasks through the
	// configuration's flag layer (configFlags), checked with the rest.
	p, err := buildPlan(o.Sys, o.Load, o.selectOptions)
	if err != nil {
		return err
	}
	if p.graph.Len() == 0 && p.full.Len() > 0 {
		return o.selectOptions.emptyError()
	}
	// Before anything starts: a run that cannot do what it was asked
	// says so once, and leaves no trace.
	if err := preflight(o, p); err != nil {
		return err
	}
	reboot, err := rebootPolicyOf(p.cfg)
	if err != nil {
		return err
	}
	est := loadEstimates(p)
	if o.DryRun {
		if err := writeDryRunPlan(o, p, mode, est); err != nil {
			return err
		}
	}
	now := o.Sys.Now()
	lock, err := schedule.AcquireLock(p.cfg.StateDir, now)
	if err != nil {
		return err
	}
	defer lock.Release()
	return runLocked(o, p, mode, est, render.NewRunID(now), reboot)
}

// writeDryRunPlan prints the plan before a dry run. The plan is text: with
// --output json it goes to stderr, so that stdout stays one JSON object
// per line.
func writeDryRunPlan(o *runOptions, p *plan, mode string, est func(string) time.Duration) error {
	w := o.IO.Out
	if mode == render.ModeJSON {
		w = o.IO.Err
	}
	if err := writePlan(w, p, est); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

// runLocked runs the plan once the state directory is ours: the display,
// the logs, root, the scheduler, and what is recorded afterwards.
func runLocked(o *runOptions, p *plan, mode string, est func(string) time.Duration, runID string, reboot rebootPolicy) error {
	s, err := openSession(o, p, mode, est, runID)
	if err != nil {
		return err
	}
	// Root is asked for once, up front, before the live display starts and
	// before the first task that needs it, and kept alive for the run: a
	// two-hour build never ends at a password prompt nobody is there for.
	ex := newExecutor(o.Sys, p.cfg.Elevate, s.term)
	defer ex.Close()
	if needsRoot(p, o.DryRun) {
		if err := ex.acquireRoot(context.Background(), s.rend); err != nil {
			s.close()
			return err
		}
	}
	board := cleanupBoard(p.graph, p.specs)
	askCleanupAs(board, s.prompter, p.specs)
	share := startSSHShare(p.hosts, o.Sys.Environ, ex.runner)
	defer share.Close()
	fill := taskEnv{cfg: p.cfg, hosts: hostEnvs(p.cfg, p.hosts), sshControl: share.Dir(), prompter: s.prompter, askers: askers(p.specs), runner: ex.runner, term: s.term, home: o.Sys.Home, yes: o.Yes, cleanup: board, screen: s.screen()}.fill
	r, err := schedule.New(p.graph, p.specs, schedule.Options{
		Jobs: jobsFor(p, o), ParallelHosts: p.cfg.ParallelHosts, Now: o.Sys.Now, Sink: schedule.Sinks{withdrawOnFinish(board), s.rend}, Logs: s.logs.Open, Estimate: est, DryRun: o.DryRun,
		Env: fill,
	})
	if err != nil {
		s.close()
		return err
	}
	stopPlanning := func() {}
	if !o.DryRun {
		stopPlanning = planEarly(board, p.specs, p.graph.Order(), fill, o.Sys.Now, s.logs.Open)
	}
	// SIGINT, SIGTERM and SIGHUP interrupt the run, held back once during
	// activation (signals.go); caught until the very end, so a signal
	// after the run cannot cut the history short.
	stopSignals := onStopSignals(func(os.Signal) { r.Interrupt() })
	defer stopSignals()
	sum := r.Execute(context.Background())
	// Early planners still waiting (their task was skipped) go before the
	// logs close.
	stopPlanning()
	confirmAtEnd(r, sum, ex.runner, p.cfg)
	return reboot.rebootAfter(o, ex, sum, s.finish(r, sum))
}

// needsRoot reports whether a task that will run needs root.
func needsRoot(p *plan, dryRun bool) bool {
	for _, n := range p.graph.Order() {
		s := p.specs[n]
		if s.Root && rootHere(p.cfg, s) && !s.Disabled && (!dryRun || s.DryRun) {
			return true
		}
	}
	return false
}

func jobsFor(p *plan, o *runOptions) int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return defaultJobs(p.cfg)
}

// loadEstimates returns the ETA source: the median of a task's last ten
// successful runs on this host, else its default estimate. They come
// from the history's compact summary, not the history itself.
func loadEstimates(p *plan) func(string) time.Duration {
	med, _ := schedule.LoadEstimates(filepath.Join(p.cfg.StateDir, "history.jsonl"), p.cfg.Host)
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
