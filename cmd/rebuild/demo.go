package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/tasks/claude/claudedemo"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
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
			s, err := newDemoSandbox(ctx, dir)
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
			cfgPath := filepath.Join(dir, "rebuild.toml")
			if err := os.WriteFile(cfgPath, []byte(demoConfig(s, dir)), 0o644); err != nil {
				return err
			}
			// Everything the run touches is the sandbox's: its HOME, its
			// store, its state directory. Nothing of the user's is read,
			// nor the system-wide file (its metrics_file, or a task's
			// folders, would point the demo at the machine).
			dsys := *sys
			dsys.Home = s.Home
			dsys.SystemFile = "-"
			dsys.Environ = demoEnviron(s, sys.Environ, dir)
			dg := *g
			dg.configFile = cfgPath
			dg.flake, dg.host, dg.elevate = "", "", ""
			return runRun(cmd, &dsys, &dg, o)
		},
	}
	addRunFlags(cmd, sys, g, o)
	cmd.Flags().BoolVar(&keepSandbox, "keep-sandbox", false, "keep the sandbox directory afterwards, to look around")
	return cmd
}

// newDemoSandbox makes the sandbox: three old generations to clean, and
// the input updated to foo 1.2 so flake-update, build and diff have work.
func newDemoSandbox(ctx context.Context, dir string) (*nixtest.Sandbox, error) {
	s, err := nixtest.New(ctx, dir)
	if err != nil {
		return s, err
	}
	for _, v := range []string{"1.0.1", "1.0.2", "1.1"} {
		if _, err := s.AddGeneration(ctx, v); err != nil {
			return s, err
		}
	}
	now := time.Now()
	if err := seedDemoHome(s.Home, s.Flake, now); err != nil {
		return s, err
	}
	if err := claudedemo.Seed(s.Home, s.Flake, now); err != nil {
		return s, err
	}
	if err := os.WriteFile(filepath.Join(dir, "claude-generator.sh"), []byte(demoGenerator), 0o755); err != nil {
		return s, err
	}
	return s, s.SetVersion("1.2")
}

func demoConfig(s *nixtest.Sandbox, dir string) string {
	q := func(v string) string { return fmt.Sprintf("%q", v) }
	return strings.Join([]string{
		"# rebuild demo: everything points into the sandbox.",
		"flake = " + q(s.Flake),
		"host = " + q(s.Host),
		"profile = " + q(s.Profile),
		"current_system = " + q(s.CurrentSystem),
		"booted_system = " + q(s.BootedSystem),
		`elevate = "none"`,
		"state_dir = " + q(filepath.Join(dir, "state")),
		"",
		"[task.generations]",
		"keep = 2",
		"",
		"# The configuration generator: an offline stand-in for",
		"# claude-nixos-automation's update-all (see claude-generator.sh).",
		"[task.claude-config]",
		"command = [\"sh\", " + q(filepath.Join(dir, "claude-generator.sh")) + "]",
		"",
		"# The sandbox's caches, not yours: its HOME is the sandbox's.",
		"[task.caches]",
		`paths = ["~/.cache/uv", "~/.npm", "~/.cache/yarn", "~/.cache/chromium"]`,
		"",
	}, "\n")
}

// demoEnviron is the user's environment with the sandbox's Nix, HOME and
// XDG directories, and without REBUILD_* settings that would point the
// demo elsewhere.
func demoEnviron(s *nixtest.Sandbox, base []string, dir string) []string {
	var kept []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "REBUILD_") || strings.HasPrefix(k, "XDG_") {
			continue
		}
		kept = append(kept, kv)
	}
	env := s.Environ(kept)
	return append(env,
		"XDG_CONFIG_HOME="+filepath.Join(s.Home, ".config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_DATA_HOME="+filepath.Join(s.Home, ".local", "share"))
}
