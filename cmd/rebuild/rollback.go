package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
)

// rollbackOptions are the flags of `rebuild rollback`.
type rollbackOptions struct {
	IO     *IOStreams
	Sys    *System
	Load   loadOptions
	DryRun bool
	To     int // --to: this generation, not the previous one; 0 unset
}

func newRollbackCmd(f *Factory, runF func(*rollbackOptions) error) *cobra.Command {
	o := &rollbackOptions{IO: f.IO, Sys: f.Sys}
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Go back to the previous system generation, or to generation N with --to",
		Long: `Point the system profile at the generation before the current one and run
its switch-to-configuration switch. Refuses when there is no previous
generation. With --to N, generation N instead (rebuild generations lists
them); refused when there is no such generation or it is already current
and running. Refused while another rebuild runs (exit 3); an interrupted
run's activation or confirm watchdog that still runs is waited for first.
Needs root (see elevate).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("to") && o.To < 1 {
				return usagef("--to must be a generation number (1 or more), got %d", o.To)
			}
			o.Load = f.loadOptions(cmd, 0)
			if runF != nil {
				return runF(o)
			}
			return rollbackRun(o)
		},
	}
	cmd.Flags().BoolVarP(&o.DryRun, "dry-run", "n", false, "say which generation it would go back to; change nothing")
	cmd.Flags().IntVar(&o.To, "to", 0, "go to this generation (see rebuild generations)")
	return cmd
}

// rollbackRun runs nixos.Rollback outside the graph, with run's executor:
// root asked for once up front (on the terminal when there is one), and no
// questions.
func rollbackRun(o *rollbackOptions) error {
	cfg, err := loadConfig(o.Sys, o.Load)
	if err != nil {
		return err
	}
	ex := newExecutor(o.Sys, cfg.Elevate, o.IO.Terminal())
	defer ex.Close()
	env := tasks.NewEnv("rollback", statusPrinter{o.IO}, nil)
	// Each thing is said once: progress (the commands' meaningful lines
	// among it) as "… status" on stderr, the result on stdout. A log on
	// stderr as well would repeat both; a failed command's error carries
	// its last lines.
	env.Log = io.Discard
	env.Now = o.Sys.Now
	env.Config = cfg
	env.Home = o.Sys.Home
	env.DryRun = o.DryRun
	env.Runner = ex.runner
	env.Prompt = render.NewConversation(nil).Prompter(render.Asker{Label: "rollback"})
	// Switching back must not be cut in half either: the first signal
	// is held back, the second goes through.
	ctx, stop := holdSignals(context.Background(), func(os.Signal) {
		fmt.Fprintln(o.IO.Err, "rebuild: rollback is in progress: a half-switched system is worse than waiting; press Ctrl-C again to interrupt anyway")
	})
	defer stop()
	// One run at a time: a rollback in the middle of a run's activation
	// would leave the machine half-switched.
	lock, err := schedule.AcquireLock(cfg.StateDir, o.Sys.Now())
	if err != nil {
		return err
	}
	defer lock.Release()
	if !o.DryRun {
		if err := ex.acquireRoot(ctx, nil); err != nil {
			return err
		}
	}
	// Warnings (what an earlier run left) are said however the rollback ends.
	defer func() {
		for _, w := range env.Report().Warnings {
			fmt.Fprintf(o.IO.Err, "rebuild: warning: %s\n", w)
		}
	}()
	if err := nixos.SettleEarlier(ctx, env); err != nil {
		return err
	}
	roll := nixos.Rollback
	if o.To > 0 {
		roll = func(ctx context.Context, env *tasks.Env) error { return nixos.RollbackTo(ctx, env, o.To) }
	}
	if err := roll(ctx, env); err != nil {
		return err
	}
	rep := env.Report()
	for _, a := range rep.Actions {
		fmt.Fprintln(o.IO.Out, a)
	}
	return nil
}

// statusPrinter shows a one-off command's status lines on stderr.
type statusPrinter struct{ io *IOStreams }

func (p statusPrinter) Status(_, line string) { fmt.Fprintf(p.io.Err, "… %s\n", line) }
