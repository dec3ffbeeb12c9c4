package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

func newRollbackCmd(sys *System, g *globalOptions) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Go back to the previous system generation",
		Long: `Point the system profile at the generation before the current one and run
its switch-to-configuration switch. Refuses when there is no previous
generation. Needs root (see elevate).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, sys, g, 0)
			if err != nil {
				return err
			}
			env := tasks.NewEnv("rollback", statusPrinter{sys}, nil)
			env.Log = sys.Err
			env.Now = sys.Now
			env.Config = cfg
			env.Home = sys.Home
			env.DryRun = dryRun
			runner := &proc.Runner{Environ: sys.Environ, Subreaper: sys.Subreaper}
			env.Runner = runner
			var term *proc.Terminal
			if sys.StdinTTY() && sys.StdoutTTY() {
				term = &proc.Terminal{In: sys.In, Out: sys.OutFile, Err: sys.OutFile}
			}
			env.Prompt = render.NewPrompter(nil, nil, nil, false)
			// Switching back must not be cut in half either: the first
			// signal is held back, the second goes through.
			ctx, stop := holdSignals(context.Background(), func(os.Signal) {
				fmt.Fprintln(sys.Err, "rebuild: rollback is in progress: a half-switched system is worse than waiting; press Ctrl-C again to interrupt anyway")
			})
			defer stop()
			if !dryRun {
				el := &proc.Elevator{Method: cfg.Elevate, Runner: runner, Euid: func() int { return sys.Euid }}
				defer el.Close()
				prefix, err := el.Acquire(ctx, term)
				if err != nil {
					return err
				}
				runner.Elevate = prefix
			}
			if err := nixos.Rollback(ctx, env); err != nil {
				return err
			}
			for _, a := range env.Report().Actions {
				fmt.Fprintln(sys.Out, a)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "say which generation it would go back to; change nothing")
	return cmd
}

// statusPrinter shows a one-off command's status lines on stderr.
type statusPrinter struct{ sys *System }

func (p statusPrinter) Status(_, line string) { fmt.Fprintf(p.sys.Err, "… %s\n", line) }
