package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/internal/demo"
	"github.com/rebuild-nixos/rebuild/render"
)

// demoOptions are the flags of `rebuild demo`: the run flags, and whether
// to keep the sandbox.
type demoOptions struct {
	Run         *runOptions
	KeepSandbox bool
}

const demoLong = `Run the whole graph against a sandbox in a temporary directory: a private
Nix store, a test host flake with a path: input that has just been
updated, a git repository with a bare remote to push to, a system profile
with a few old generations, current/booted system links, and a home with
caches, a log that grew too big, Claude Code sessions, learning data and
old backups. Nothing of yours is read or changed (--config, REBUILD_*
settings and /etc/rebuild/config.toml are ignored), and no root is
needed. You see a real update, build, diff, activation, acceptance,
commit, generation cleanup and push, with the disk analysis, cache cleanup,
analytics and analyzers beside them.

Needs nix (on Debian: apt-get install nix-bin). Run flags apply, e.g.
rebuild demo --yes, rebuild demo --only=system --output json.`

func newDemoCmd(f *Factory, runF func(*demoOptions) error) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole graph in a throwaway sandbox",
		Long:  demoLong,
		Args:  noArgs,
	}
	o.Run = bindRun(cmd, f, func(*runOptions) error {
		for _, fl := range []string{"config", "flake", "host", "elevate", "reboot"} {
			if cmd.Flags().Changed(fl) {
				return usagef("rebuild demo runs in its own sandbox and takes no --%s", fl)
			}
		}
		if runF != nil {
			return runF(o)
		}
		return demoRun(o)
	})
	cmd.Flags().BoolVar(&o.KeepSandbox, "keep-sandbox", false, "keep the sandbox directory afterwards, to look around")
	return cmd
}

// demoRun builds the sandbox in a new temporary directory, runs the graph
// in it, and removes it (unless --keep-sandbox).
func demoRun(o *demoOptions) error {
	sys := o.Run.Sys
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
	fmt.Fprintf(o.Run.IO.Err, "rebuild demo: building the sandbox in %s …\n", dir)
	s, err := demo.Build(ctx, dir, sys.Now())
	stop()
	if s != nil {
		defer o.removeSandbox(s)
	} else {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		return fmt.Errorf("demo sandbox: %w", err)
	}
	if v := getenv(sys.Environ, demo.BuildSecondsVar); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return usagef("%s=%q: want a number of seconds", demo.BuildSecondsVar, v)
		}
		if err := s.SetBuildSeconds(n); err != nil {
			return fmt.Errorf("demo sandbox: %w", err)
		}
	}
	return runRun(o.inSandbox(s))
}

// inSandbox is the run in the sandbox: everything it touches is the
// sandbox's, its HOME, its store, its state directory. Nothing of the
// user's is read, nor the system-wide file (its metrics_file, or a task's
// folders, would point the demo at the machine).
func (o *demoOptions) inSandbox(s *demo.Sandbox) *runOptions {
	dsys := *o.Run.Sys
	dsys.Home = s.Home
	dsys.SystemFile = "-"
	dsys.Environ = s.RebuildEnviron(o.Run.Sys.Environ)
	r := *o.Run
	r.Sys = &dsys
	r.Load.File = s.ConfigFile()
	r.LogsRemoved = !o.KeepSandbox
	return &r
}

// removeSandbox removes the sandbox, or keeps it, and ends the summary
// saying which: the summary's log folder was in it.
func (o *demoOptions) removeSandbox(s *demo.Sandbox) {
	// Below the summary, except with --output json, whose stdout is
	// JSON only.
	w := o.Run.IO.Out
	if o.Run.Output == render.ModeJSON {
		w = o.Run.IO.Err
	}
	if o.KeepSandbox {
		fmt.Fprintf(w, "rebuild demo: the sandbox is kept in %s\n", s.Root)
		return
	}
	if err := s.Remove(); err != nil {
		fmt.Fprintf(o.Run.IO.Err, "rebuild demo: removing %s: %v\n", s.Root, err)
		return
	}
	fmt.Fprintf(w, "rebuild demo: the sandbox %s was removed, and the run's logs with it (--keep-sandbox keeps them)\n", s.Root)
}
