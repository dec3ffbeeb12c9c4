package config

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	gotoml "github.com/pelletier/go-toml/v2"

	"github.com/rebuild-nixos/rebuild/internal/hostname"
)

// TaskOptions describes the options of a built-in task, for WriteTOML and
// InitTemplate, which know no task of their own: the catalogue hands them
// in.
type TaskOptions struct {
	Name        string
	Description string // one line, shown above the task's table by InitTemplate
	Options     []OptionDoc
}

// OptionDoc is one option of a built-in task.
type OptionDoc struct {
	Key string
	// Default is the value when the key is not set, as TOML holds it
	// (string, int64, bool, []string); nil when the option has no default
	// value (not setting it means something of its own, which Doc says).
	Default any
	Doc     string // what it does, one line
}

// WriteTOML writes the effective configuration as TOML that Load reads
// back to the same Config: the top-level keys in the order of the
// template, then one [task.NAME] table per task, sorted by name, with the
// standard keys first and the options sorted. Unset task keys are left out.
//
// builtins, when given, adds what the built-in tasks do with the options
// nobody set: each such option is written with its default, marked
// "# default" (and one without a default as a comment saying what unset
// means), in the table of its task, which is written even when no layer
// touched it. Loaded back, those values are set rather than defaulted.
func (c *Config) WriteTOML(w io.Writer, builtins ...TaskOptions) error {
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
		{"log_max", formatSize(c.LogMax)},
		{"history_max", formatSize(c.HistoryMax)},
	}
	for _, kv := range top {
		if kv.key == "host" && len(c.Hosts) > 0 {
			// TOML has host as a string or as tables, not both: the
			// tables below name the hosts.
			fmt.Fprintf(&b, "# host = %q: this machine; the [host.NAME] tables below name the hosts\n", c.Host)
			continue
		}
		if err := writeKV(&b, kv.key, kv.val); err != nil {
			return err
		}
	}
	if err := c.writeHostKeys(&b); err != nil {
		return err
	}
	docs := map[string]TaskOptions{}
	for _, bt := range builtins {
		if len(bt.Options) > 0 {
			docs[bt.Name] = bt
		}
	}
	names := c.TaskNames()
	for name := range docs {
		if _, ok := c.Tasks[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if !IsName(name) {
			return fmt.Errorf("config: task name %q is not kebab-case", name)
		}
		fmt.Fprintf(&b, "\n[task.%s]\n", name)
		if err := writeTaskTable(&b, c.Tasks[name], docs[name].Options); err != nil {
			return fmt.Errorf("config: task %s: %w", name, err)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeHostKeys writes rollout and parallel_hosts, and every [host.NAME]
// table, sorted by name. Without hosts, rollout and parallel_hosts are
// written only when set (they mean nothing then), else as a comment with
// the value hosts would give them.
func (c *Config) writeHostKeys(b *bytes.Buffer) error {
	if len(c.Hosts) == 0 && c.Rollout == "" && c.ParallelHosts == 0 {
		fmt.Fprintf(b, "# with [host.NAME] tables: rollout = %q, parallel_hosts = %d\n", RolloutAll, DefaultParallelHosts)
	} else {
		if c.Rollout != "" {
			if err := writeKV(b, "rollout", c.Rollout); err != nil {
				return err
			}
		}
		if c.ParallelHosts != 0 {
			if err := writeKV(b, "parallel_hosts", c.ParallelHosts); err != nil {
				return err
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Hosts)) {
		h := c.Hosts[name]
		if p := hostname.Problem(name); p != "" || h.Name != name {
			return fmt.Errorf("config: host %q: name %s", name, p)
		}
		fmt.Fprintf(b, "\n[host.%s]\n", tomlKey(name))
		lines := []struct {
			key string
			val any
			set bool
		}{
			{"target", cmp.Or(h.Target, TargetLocal), true},
			{"build_on", cmp.Or(h.BuildOn, BuildLocal), true},
			{"tags", h.Tags, h.Tags != nil},
			{"elevate", h.Elevate, h.Elevate != ""},
			{"ssh_options", h.SSHOptions, h.SSHOptions != nil},
			{"confirm_timeout", durationValue(h.ConfirmTimeout), h.ConfirmTimeout != nil},
			{"keep", intValue(h.Keep), h.Keep != nil},
			{"keep_since", h.KeepSince, h.KeepSince != ""},
			{"gates", h.Gates, h.Gates != nil},
		}
		for _, l := range lines {
			if !l.set {
				continue
			}
			if err := writeKV(b, l.key, l.val); err != nil {
				return fmt.Errorf("config: host %s: %w", name, err)
			}
		}
	}
	return nil
}

// tomlKey writes a table name as TOML reads it: bare when it can be,
// else quoted (a host name with '.').
func tomlKey(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return strconv.Quote(s)
		}
	}
	return s
}

func durationValue(d *time.Duration) any {
	if d == nil {
		return nil
	}
	return formatDuration(*d)
}

func intValue(n *int) any {
	if n == nil {
		return nil
	}
	return *n
}

// tableLine is one line of a [task.NAME] table.
type tableLine struct {
	key     string
	val     any
	comment string // after the value: "default"; with no value, the whole line
}

// writeTaskTable writes the body of t's table: its standard keys, then
// its options and those of docs (a built-in task's) that t does not set,
// sorted.
func writeTaskTable(b *bytes.Buffer, t Task, docs []OptionDoc) error {
	var lines []tableLine
	add := func(key string, val any) { lines = append(lines, tableLine{key: key, val: val}) }
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
	}{{"critical", t.Critical}, {"interactive", t.Interactive}, {"enabled", t.Enabled}, {"gate", t.Gate}} {
		if f.val != nil {
			add(f.key, *f.val)
		}
	}
	if t.Timeout > 0 {
		add("timeout", formatDuration(t.Timeout))
	}
	opts := map[string]tableLine{}
	for key, v := range t.Options {
		opts[key] = tableLine{key: key, val: v}
	}
	for _, o := range docs {
		switch _, set := opts[o.Key]; {
		case set:
		case o.Default == nil:
			opts[o.Key] = tableLine{key: o.Key, comment: o.Key + " (not set): " + o.Doc}
		default:
			opts[o.Key] = tableLine{key: o.Key, val: o.Default, comment: "default"}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(opts)) {
		if isStandardTaskKey(key) {
			return fmt.Errorf("option %q clashes with a standard key", key)
		}
		lines = append(lines, opts[key])
	}
	for _, l := range lines {
		if l.val == nil {
			fmt.Fprintf(b, "# %s\n", l.comment)
			continue
		}
		if err := writeKV(b, l.key, l.val); err != nil {
			return err
		}
		if l.comment != "" {
			b.Truncate(b.Len() - 1) // writeKV ends the line
			fmt.Fprintf(b, "  # %s\n", l.comment)
		}
	}
	return nil
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
//
// builtins, when given, are written as a commented [task.NAME] table each,
// every option with its one-line description and its default (an option
// without a default only described), in place of the two examples of
// built-in tables.
func InitTemplate(builtins ...TaskOptions) string {
	if len(builtins) == 0 {
		return initHead + initBuiltinExamples + initTail
	}
	var b bytes.Buffer
	b.WriteString(initHead)
	for _, bt := range builtins {
		if len(bt.Options) == 0 {
			continue
		}
		fmt.Fprintf(&b, "#\n# %s: %s\n#[task.%s]\n", bt.Name, bt.Description, bt.Name)
		for _, o := range bt.Options {
			if o.Default == nil {
				fmt.Fprintf(&b, "# %s (not set by default): %s\n", o.Key, o.Doc)
				continue
			}
			fmt.Fprintf(&b, "# %s: %s\n", o.Key, o.Doc)
			var line bytes.Buffer
			if err := writeKV(&line, o.Key, o.Default); err != nil {
				// A default is a string, number, boolean or list: the
				// encoder takes every one of them.
				panic(fmt.Sprintf("config: default of task.%s.%s: %v", bt.Name, o.Key, err))
			}
			b.WriteString("#" + line.String())
		}
	}
	b.WriteString(initTail)
	return b.String()
}

const initHead = `# rebuild configuration (TOML).
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

# The most a task's log keeps: past it, the first and the last half of it
# stay, with a line saying how much was cut ("50MiB", "1GiB"; 0: no cap).
#log_max = "50MiB"

# history.jsonl past this size drops its oldest runs, keeping about half
# of it (0: keep every run).
#history_max = "10MiB"

# Many machines. Without a [host.NAME] table rebuild manages this machine
# (host above). Each [host.NAME] table is nixosConfigurations.NAME of the
# flake, built and activated by a chain of its own: build@NAME →
# copy@NAME → diff@NAME, activate@NAME → its gates → accept@NAME →
# generations@NAME. flake-update, commit, push and the housekeeping run
# once. --on NAME,@TAG picks hosts (default: all of them, by name).
# NAME: a letter or a digit, then letters, digits, '-', '_' and '.'.
# A file holds either host = "NAME" or [host.NAME] tables, not both.
# In a variable, NAME is in capitals with _ for '-', '.' and '_':
# REBUILD_HOST__WEB1__TARGET.
#
# With hosts, how their activations follow each other: all at once,
# one-by-one (each after the one before passed its gates), or canary (the
# first host, its gates, then the rest); a failed gate stops the hosts
# after it (--rollout).
# rollout = "all"
# With hosts, the most hosts at work at once, besides jobs (--parallel-hosts).
# parallel_hosts = 10
#
# [host.web1]
# Where the system runs: "local" (this machine), or user@addr[:port] over
# SSH, an IPv6 address in brackets ([2001:db8::1]).
# target = "root@web1.example.org"
# Where it is built: "local", "target" (on the target itself), or another
# host's name (that host builds it as a Nix remote builder).
# build_on = "local"
# Names for --on @servers.
# tags = ["servers"]
# How to become root on the target: sudo, doas, run0 or none (default:
# elevate above).
# elevate = "sudo"
# More arguments for ssh, also for nix copy and remote builds.
# ssh_options = ["-i", "~/.ssh/deploy", "-o", "ConnectTimeout=5"]
# This host's task.activate.confirm_timeout, task.generations.keep and
# keep_since.
# confirm_timeout = "60s"
# keep = 5
# keep_since = "14d"
# The gate tasks that check this host after activation (default: every
# gate; [] for none).
# gates = ["health"]

# Tasks (see ` + "`rebuild list`" + `). A [task.NAME] table with the name of a
# built-in task changes that task. These keys work in every task table:
#   needs       = ["a"]   run after a, and only if a succeeded or was skipped
#   after       = ["b"]   run after b, whatever its outcome
#   groups      = ["g"]   groups it belongs to, for --only and --skip
#   critical    = true    its failure aborts the run
#   interactive = true    it needs the terminal
#   enabled     = false   never run it
#   gate        = true    a check after activate (with needs = ["activate"]):
#                         if it fails, the system is rolled back
#   timeout     = "2h"    cancel it after this long ("90s", "30m", "2h")
# Any other key is an option of the built-in task; each task checks its own.
`

const initBuiltinExamples = `#
#[task.build]
#timeout = "2h"
#
#[task.caches]
#paths = ["~/.cache/uv", "~/.npm"]
`

const initTail = `
# A table with a new name and run is a task of your own: run is a shell
# command line (run directly when it is plain words, else with sh -c). It
# takes the keys above and no others.
#
#[task.vulnix]
#run = "vulnix --system"
#after = ["activate"]
#groups = ["security"]
#critical = false
`
