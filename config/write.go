package config

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	gotoml "github.com/pelletier/go-toml/v2"
)

// WriteTOML writes the effective configuration as TOML that Load reads
// back to the same Config: the top-level keys in the order of the
// template, then one [task.NAME] table per task, sorted by name, with the
// standard keys first and the options sorted. Unset task keys are left out.
func (c *Config) WriteTOML(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("# rebuild: effective configuration\n")
	top := []struct {
		key string
		val any
	}{
		{"flake", c.Flake},
		{"host", c.Host},
		{"profile", c.Profile},
		{"current_system", c.CurrentSystem},
		{"booted_system", c.BootedSystem},
		{"elevate", c.Elevate},
		{"jobs", c.Jobs},
		{"state_dir", c.StateDir},
		{"keep_logs", c.KeepLogs},
		{"metrics_file", c.MetricsFile},
	}
	for _, kv := range top {
		if err := writeKV(&b, kv.key, kv.val); err != nil {
			return err
		}
	}
	for _, name := range c.TaskNames() {
		if !IsName(name) {
			return fmt.Errorf("config: task name %q is not kebab-case", name)
		}
		t := c.Tasks[name]
		fmt.Fprintf(&b, "\n[task.%s]\n", name)
		var kvs []struct {
			key string
			val any
		}
		add := func(key string, val any) {
			kvs = append(kvs, struct {
				key string
				val any
			}{key, val})
		}
		if t.Run != "" {
			add("run", t.Run)
		}
		for _, l := range []struct {
			key  string
			list []string
		}{{"needs", t.Needs}, {"after", t.After}, {"groups", t.Groups}} {
			if l.list != nil {
				add(l.key, l.list)
			}
		}
		for _, f := range []struct {
			key string
			val *bool
		}{{"critical", t.Critical}, {"interactive", t.Interactive}, {"enabled", t.Enabled}} {
			if f.val != nil {
				add(f.key, *f.val)
			}
		}
		if t.Timeout > 0 {
			add("timeout", formatDuration(t.Timeout))
		}
		for _, key := range sortedKeys(t.Options) {
			if isStandardTaskKey(key) {
				return fmt.Errorf("config: task %s: option %q clashes with a standard key", name, key)
			}
			add(key, t.Options[key])
		}
		for _, kv := range kvs {
			if err := writeKV(&b, kv.key, kv.val); err != nil {
				return fmt.Errorf("config: task %s: %w", name, err)
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeKV writes one "key = value" line; tables and arrays stay inline so
// every value fits on its line under its [task.NAME] header.
func writeKV(b *bytes.Buffer, key string, val any) error {
	var line bytes.Buffer
	enc := gotoml.NewEncoder(&line).SetTablesInline(true).SetArraysMultiline(false)
	if err := enc.Encode(map[string]any{key: val}); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	s := line.String()
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	b.WriteString(s)
	return nil
}

// InitTemplate returns a commented config.toml for `rebuild config init`.
// Every key is documented and shown with its default, commented out, so the
// file as written changes nothing and Load accepts it; removing the "#" in
// front of a setting (or a [task.NAME] header) makes it count.
func InitTemplate() string { return initTemplate }

const initTemplate = `# rebuild configuration (TOML).
#
# Layers, later wins: built-in defaults < /etc/rebuild/config.toml
# < this file (or --config FILE, or REBUILD_CONFIG=FILE)
# < REBUILD_* environment variables < command-line flags.
# Every setting below shows its default; remove the leading "#" to change it.
# An unknown key is an error. ~ at the start of a path is your home.
# Each key has an environment variable: jobs is REBUILD_JOBS, and
# [task.flake-update] timeout is REBUILD_TASK__FLAKE_UPDATE__TIMEOUT.

# The flake that holds the NixOS configuration (--flake). When neither
# --flake nor this sets it, rebuild looks at NH_OS_FLAKE, NH_FLAKE,
# /etc/nixos (when it has a flake.nix), then the default below (when it
# has one).
#flake = "~/nixos-config"

# Which nixosConfigurations.<host> to build; empty means this machine's
# short hostname (-H, --host).
#host = ""

# The system profile whose generations are listed and cleaned.
#profile = "/nix/var/nix/profiles/system"

# The running system, and the system that was booted.
#current_system = "/run/current-system"
#booted_system = "/run/booted-system"

# How the tasks that need root (activate, rollback, deleting generations)
# get it: sudo | doas | run0 | none (--elevate).
#elevate = "sudo"

# How many tasks run at once; 0 means max(4, number of CPUs) (-j, --jobs).
#jobs = 0

# Where logs and run history go; empty means $XDG_STATE_HOME/rebuild,
# else ~/.local/state/rebuild.
#state_dir = ""

# How many runs' logs are kept (at least 1).
#keep_logs = 20

# A file for Prometheus metrics (text format), written after each run;
# empty means none.
#metrics_file = ""

# Tasks (see ` + "`rebuild list`" + `). A [task.NAME] table with the name of a
# built-in task changes that task. These keys work in every task table:
#   needs       = ["a"]   run after a, and only if a succeeded or was skipped
#   after       = ["b"]   run after b, whatever its outcome
#   groups      = ["g"]   groups it belongs to, for --only and --skip
#   critical    = true    its failure aborts the run
#   interactive = true    it needs the terminal
#   enabled     = false   never run it
#   timeout     = "2h"    cancel it after this long ("90s", "30m", "2h")
# Any other key is an option of the built-in task; each task checks its own.
#
#[task.build]
#timeout = "2h"
#
#[task.caches]
#paths = ["~/.cache/uv", "~/.npm"]

# A table with a new name and run is a task of your own: run is a shell
# command line (run with sh -c). It takes the keys above and no others.
#
#[task.vulnix]
#run = "vulnix --system"
#after = ["activate"]
#groups = ["security"]
#critical = false
`
