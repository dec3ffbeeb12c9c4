package tasks

import (
	"context"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
)

// Task is the unit of work. Run returns nil on success, an error from
// Skip or Decline for the two deliberate non-successes, and any other
// error for a failure. Run must return promptly once ctx is done.
type Task interface {
	Run(ctx context.Context, env *Env) error
}

// Func adapts a function to Task.
type Func func(ctx context.Context, env *Env) error

// Run calls f.
func (f Func) Run(ctx context.Context, env *Env) error { return f(ctx, env) }

// Resource names shared by the built-in tasks.
const (
	// ResourceTTY is held by a task whose command is attached to the
	// terminal (an interactive user task): the terminal is its alone while
	// it runs. Questions are not a resource: they go through the Prompter,
	// whose queue shows one at a time.
	ResourceTTY = "tty"
	// ResourceClaudeMD is held by tasks that rewrite a project's CLAUDE.md.
	ResourceClaudeMD = "claude-md"
)

// Spec is a task together with what the scheduler needs to know about it.
// The names in a Spec are the names users see in `rebuild list`.
type Spec struct {
	Name        string
	Phase       int // phase number of the original script, 1–14; 0 = none
	Description string
	Groups      []string
	Needs       []string // run after these, only if they succeeded or skipped on purpose
	After       []string // run after these, whatever their outcome
	Critical    bool     // a failure aborts the whole run
	// Interactive: the task asks the person (through the Prompter). A user
	// task that is interactive has its command attached to the terminal,
	// which implies the tty resource.
	Interactive bool
	// Cleanup: the task asks through the run's one cleanup plan
	// (CleanupBoard), not on its own. It does not hold the tty while it
	// works out its plan: the cleanup tasks plan side by side.
	Cleanup   bool
	Resources []string // exclusive named locks
	Timeout   time.Duration
	Disabled  bool // counts as done (skipped) for its dependents
	// DisabledReason replaces "disabled" as the skip reason (e.g. --no-update).
	DisabledReason string
	Estimate       time.Duration // default duration when history has none
	// HoldInterrupt marks a task during which a first Ctrl-C is held back
	// (activation: a half-switched system is worse than waiting).
	HoldInterrupt bool
	// Gate: a check of the system its needs activated (health, or a
	// user's `gate = true`). If it fails, the system is rolled back to the
	// generation the activation replaced, the activation ends rolled-back
	// and what needs it after the gates is skipped. Whatever else needs
	// the task a gate checks runs after the gate (catalog adds the edges).
	Gate bool
	// Root: the task runs commands through the elevation program; it is
	// asked for once, before the first such task.
	Root bool
	// UsesFlake: the task works on the flake (its directory or its
	// outputs), so a run that selects it first checks that there is one.
	// UsesHost: it builds nixosConfigurations.<host>, so the run first
	// checks that the flake has that host.
	UsesFlake, UsesHost bool
	// DryRun: the task supports --dry-run (it then shows exactly what it
	// would change and changes nothing). Other tasks are skipped in a dry run.
	DryRun bool
	// PerHost: the task acts on one machine (build, copy, diff, activate,
	// the gates, accept, generations); with [host.*] tables it runs once
	// per selected host, as NAME@HOST (see OnHost). HostsOnly: it exists
	// only then (copy: a single local host has nothing to copy).
	PerHost, HostsOnly bool
	// Host is the host of a per-host task's instance ("" for a task of
	// the whole run): the scheduler bounds the hosts at work at once by it,
	// and events carry it.
	Host string
	// Source is the configuration file that defined or changed this task,
	// for error messages ("" for an untouched built-in).
	Source string
	// User is true for a task defined in config.toml with `run`.
	User bool
	// Task does the work. A built-in task with options is a Configurable,
	// registered with its defaults; Configure binds it to the
	// configuration's.
	Task Task
}

// Configure returns the task bound to t, its [task.NAME] table (zero when
// there is none): a Configurable gets its options decoded over its
// defaults and checked; any other task accepts no option key. Every error
// is a *config.Error naming the layer, the key, the value and what is
// allowed.
func (s Spec) Configure(t config.Task) (Task, error) {
	t.Name = s.Name
	if c, ok := s.Task.(Configurable); ok {
		return c.Configure(t)
	}
	return s.Task, t.CheckOptions()
}

// OptionKeys returns the keys the task accepts in [task.NAME] besides the
// standard ones (timeout, enabled, needs, after, groups, critical).
func (s Spec) OptionKeys() []string {
	c, ok := s.Task.(Configurable)
	if !ok {
		return nil
	}
	var keys []string
	for _, o := range DescribeOptions(c) {
		keys = append(keys, o.Key)
	}
	return keys
}

// AllResources is Resources plus tty for an interactive user task, sorted
// and without duplicates. A built-in task that asks holds no tty: its
// questions wait in the Prompter's queue, not the task.
func (s Spec) AllResources() []string {
	seen := map[string]bool{}
	var out []string
	add := func(r string) {
		if r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	if s.Interactive && s.User {
		add(ResourceTTY)
	}
	for _, r := range s.Resources {
		add(r)
	}
	sortStrings(out)
	return out
}
