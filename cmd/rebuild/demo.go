package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/internal/demo"
)

func newDemoCmd(sys *System, g *globalOptions) *cobra.Command {
	o := &runOptions{}
	var keepSandbox bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole graph in a throwaway sandbox",
		Long: `Run the whole graph against a sandbox in a temporary directory: a private
Nix store, a test host flake with a path: input that has just been
updated, a git repository with a bare remote to push to, a system profile
with a few old generations, current/booted system links, and a home with
caches, a log that grew too big, Claude Code sessions, learning data and
old backups. Nothing of yours is read or changed (--config, REBUILD_*
settings and /etc/rebuild/config.toml are ignored), and no root is
needed. You see a real update, build, diff, activation, acceptance,
generation cleanup and push, with the disk analysis, cache cleanup,
analytics and analyzers beside them.

Needs nix (on Debian: apt-get install nix-bin). Run flags apply, e.g.
rebuild demo --yes, rebuild demo --only=system --output json.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range []string{"config", "flake", "host", "elevate"} {
				if cmd.Flags().Changed(f) {
					return usagef("rebuild demo runs in its own sandbox and takes no --%s", f)
				}
			}
			if _, err := exec.LookPath("nix"); err != nil {
				return usagef("rebuild demo needs Nix, and there is no nix on PATH.\n" +
					"  On Debian or Ubuntu: apt-get install nix-bin\n" +
					"  Elsewhere: https://nixos.org/download")
			}
			dir, err := os.MkdirTemp("", "rebuild-demo-")
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			fmt.Fprintf(sys.Err, "rebuild demo: building the sandbox in %s …\n", dir)
			s, err := demo.Build(ctx, dir, sys.Now())
			stop()
			if s != nil {
				defer func() {
					if keepSandbox {
						fmt.Fprintf(sys.Err, "rebuild demo: sandbox kept in %s\n", dir)
						return
					}
					if err := s.Remove(); err != nil {
						fmt.Fprintf(sys.Err, "rebuild demo: removing %s: %v\n", dir, err)
					}
				}()
			} else {
				defer os.RemoveAll(dir)
			}
			if err != nil {
				return fmt.Errorf("demo sandbox: %w", err)
			}
			// Everything the run touches is the sandbox's: its HOME, its
			// store, its state directory. Nothing of the user's is read,
			// nor the system-wide file (its metrics_file, or a task's
			// folders, would point the demo at the machine).
			dsys := *sys
			dsys.Home = s.Home
			dsys.SystemFile = "-"
			dsys.Environ = s.RebuildEnviron(sys.Environ)
			dg := *g
			dg.configFile = s.ConfigFile()
			dg.flake, dg.host, dg.elevate = "", "", ""
			return runRun(cmd, &dsys, &dg, o)
		},
	}
	addRunFlags(cmd, sys, g, o)
	cmd.Flags().BoolVar(&keepSandbox, "keep-sandbox", false, "keep the sandbox directory afterwards, to look around")
	return cmd
}
