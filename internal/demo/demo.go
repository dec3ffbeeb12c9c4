package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Build makes the demo's world under dir (which should be empty): a
// sandbox with three old generations to clean, the input updated to foo
// 1.2 so flake-update, build and diff have work, a home seeded for the
// housekeeping and claude tasks, the generator stand-in, and the rebuild
// configuration (ConfigFile) pointing at all of it; now is the clock the
// seeded files are dated by. Remove the sandbox when done, also when Build
// fails with a non-nil Sandbox: the store is read-only.
func Build(ctx context.Context, dir string, now time.Time) (*Sandbox, error) {
	s, err := NewSandbox(ctx, dir)
	if err != nil {
		return s, err
	}
	for _, v := range []string{"1.0.1", "1.0.2", "1.1"} {
		if _, err := s.AddGeneration(ctx, v); err != nil {
			return s, err
		}
	}
	if err := seedHome(s.Home, s.Flake, now); err != nil {
		return s, err
	}
	if err := SeedClaude(s.Home, s.Flake, now); err != nil {
		return s, err
	}
	if err := os.WriteFile(s.generatorPath(), []byte(claudeGenerator), 0o755); err != nil {
		return s, err
	}
	if err := os.WriteFile(s.ConfigFile(), []byte(s.config()), 0o644); err != nil {
		return s, err
	}
	return s, s.SetVersion("1.2")
}

// BuildSecondsVar names the environment variable that makes the demo's
// build take that many seconds (see Sandbox.SetBuildSeconds): tests slow
// it down to watch the display while it runs. It is not a rebuild
// setting, so it is not a REBUILD_* variable.
const BuildSecondsVar = "NIXTEST_BUILD_SECONDS"

// ConfigFile is the rebuild configuration Build writes: everything in it
// points into the sandbox.
func (s *Sandbox) ConfigFile() string { return filepath.Join(s.Root, "rebuild.toml") }

// stateDir is the state directory of a run in the sandbox: its lock,
// history and logs.
func (s *Sandbox) stateDir() string { return filepath.Join(s.Root, "state") }

// generatorPath is where Build writes files/claude-generator.sh.
func (s *Sandbox) generatorPath() string { return filepath.Join(s.Root, "claude-generator.sh") }

func (s *Sandbox) config() string {
	q := func(v string) string { return fmt.Sprintf("%q", v) }
	return strings.Join([]string{
		"# rebuild demo: everything points into the sandbox.",
		"flake = " + q(s.Flake),
		"host = " + q(s.Host),
		"profile = " + q(s.Profile),
		"current_system = " + q(s.CurrentSystem),
		"booted_system = " + q(s.BootedSystem),
		`elevate = "none"`,
		"state_dir = " + q(s.stateDir()),
		"",
		"[task.generations]",
		"keep = 2",
		"",
		"# The configuration generator: an offline stand-in for",
		"# claude-nixos-automation's update-all (see claude-generator.sh).",
		"[task.claude-config]",
		"command = [\"sh\", " + q(s.generatorPath()) + "]",
		"",
		"# The sandbox's caches, not yours: its HOME is the sandbox's.",
		"[task.caches]",
		`paths = ["~/.cache/uv", "~/.npm", "~/.cache/yarn", "~/.cache/chromium"]`,
		"",
	}, "\n")
}

// RebuildEnviron is the environment of a rebuild run in the sandbox: base
// (the user's) with the sandbox's Nix, HOME and XDG directories, and
// without REBUILD_* settings that would point the run elsewhere.
func (s *Sandbox) RebuildEnviron(base []string) []string {
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
		"XDG_STATE_HOME="+s.stateDir(),
		"XDG_DATA_HOME="+filepath.Join(s.Home, ".local", "share"))
}
