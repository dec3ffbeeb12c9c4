package config

import (
	"maps"
	"slices"
	"time"
)

// Config is the effective configuration: every layer merged, checked and
// resolved (paths have ~ expanded, Host and StateDir are filled in).
type Config struct {
	Flake         string // the flake directory
	Host          string // nixosConfigurations.<Host>; the short hostname unless set
	Profile       string // the system profile
	CurrentSystem string // the running system
	BootedSystem  string // the booted system
	Elevate       string // sudo | doas | run0 | none
	Jobs          int    // 0 = auto, see EffectiveJobs
	StateDir      string // logs and history
	KeepLogs      int    // runs whose logs are kept, ≥ 1
	MetricsFile   string // "" = no metrics
	LogMax        int64  // bytes a task's log keeps (head and tail); 0 = no cap
	HistoryMax    int64  // history.jsonl past this many bytes drops its oldest runs; 0 = never
	// FlakeSource is where flake was set: a file, SourceEnvironment,
	// SourceFlags or FlagSource("--flake"); "" when it is the built-in
	// default. A default is only
	// a place to look; a setting is what the user asked for (see the
	// lookup in cmd/rebuild).
	FlakeSource string

	Tasks map[string]Task // every [task.NAME] table, keyed by NAME; never nil
	// Hosts are the [host.NAME] tables, keyed by NAME; empty: one host,
	// this machine, nixosConfigurations.<Host>.
	Hosts map[string]Host
	// Rollout is how activations of several hosts follow each other:
	// all, one-by-one or canary.
	Rollout string
	// ParallelHosts bounds how many hosts have tasks running at once.
	ParallelHosts int
	Sources       []string // the files actually loaded, in order
}

// EffectiveJobs returns how many tasks may run at once on a machine with
// cpus CPUs: Jobs when set, else max(4, cpus).
func (c *Config) EffectiveJobs(cpus int) int {
	if c.Jobs > 0 {
		return c.Jobs
	}
	return max(4, cpus)
}

// TaskNames returns the names of the configured tasks, sorted.
func (c *Config) TaskNames() []string {
	names := slices.Sorted(maps.Keys(c.Tasks))
	return names
}

// Task is one [task.NAME] table: the standard keys, typed, and the options
// of a built-in task, raw. A nil pointer or zero value means "not set", so
// a task's own defaults stay; an empty, non-nil list means "set to none".
type Task struct {
	Name                 string
	Run                  string   // non-empty: a task of the user's own (plain words run directly, else sh -c)
	Needs, After, Groups []string // kebab-case names
	Critical             *bool
	Interactive          *bool
	Enabled              *bool
	Gate                 *bool          // a check after activate: if it fails, the system is rolled back
	Timeout              time.Duration  // > 0 when set
	Options              map[string]any // every other key, raw as TOML gave it (strings from the environment); nil when none
	File                 string         // the file, "environment" or "flags" that last set a key of this task

	sources map[string]string // key → the layer that set it, for errors
}

// IsUser reports whether the task is the user's own (it has run).
func (t Task) IsUser() bool { return t.Run != "" }

// Source returns the layer that set key, for messages: a file's path,
// "environment", "flag --NAME" or "flags"; for a key no layer set, the
// layer that last set a key of the task, else "defaults".
func (t Task) Source(key string) string {
	if s := t.source(key); s != "" {
		return s
	}
	return SourceDefaults
}

// source returns the layer that set key, for error messages.
func (t Task) source(key string) string {
	if s, ok := t.sources[key]; ok {
		return s
	}
	return t.File
}
