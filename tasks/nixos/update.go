package nixos

import (
	"context"
	"regexp"
	"strings"
	"sync"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// FlakeUpdate is the flake-update task: `nix flake update` in the flake
// directory, or, with the option inputs = ["nixpkgs", …], `nix flake lock
// --update-input X` for each (which works on every Nix version; `nix flake
// update X` only on new ones). Statistic: which inputs changed.
type FlakeUpdate struct{ Options FlakeUpdateOptions }

// FlakeUpdateOptions are the options of [task.flake-update].
type FlakeUpdateOptions struct {
	Inputs []string `option:"inputs" doc:"update only these inputs (nix flake lock --update-input X); empty: all of them"`
}

func defaultFlakeUpdateOptions() FlakeUpdateOptions { return FlakeUpdateOptions{Inputs: []string{}} }

// Configure implements tasks.Configurable.
func (u FlakeUpdate) Configure(t config.Task) (tasks.Task, error) {
	u.Options = defaultFlakeUpdateOptions()
	err := tasks.DecodeOptions(t, &u.Options)
	return u, err
}

// TaskOptions implements tasks.Configurable.
func (u FlakeUpdate) TaskOptions() any { return u.Options }

// Run updates the lock file.
func (u FlakeUpdate) Run(ctx context.Context, env *tasks.Env) error {
	inputs := u.Options.Inputs
	_, dir, err := env.Flake()
	if err != nil {
		return err
	}
	if dir == "" {
		return tasks.Skip("the flake %s is not a local directory: nothing to update", env.Config.Flake)
	}
	if env.DryRun {
		return u.dryRun(ctx, env, dir)
	}
	args := []string{"nix", "flake", "update"}
	if len(inputs) > 0 {
		args = []string{"nix", "flake", "lock"}
		for _, in := range inputs {
			args = append(args, "--update-input", in)
		}
	}
	var changes lockChanges
	if err := run(ctx, env, proc.Cmd{Args: args, Dir: dir, OnLine: changes.line}); err != nil {
		return err
	}
	got := changes.list()
	if len(got) == 0 {
		env.Stat("inputs: none changed")
		return nil
	}
	env.Action("updated flake.lock")
	for _, c := range got {
		env.Stat("input %s", c)
	}
	return nil
}

// lockChanges collects Nix's report of a lock file update: a line
// "• Updated input 'pkgs':" (or Added, Removed) followed by the old and the
// new locked reference, each ending with its date, e.g. "(2026-11-25)".
type lockChanges struct {
	mu      sync.Mutex
	changes []string
	dates   []string // dates of the current change's old and new lock
}

var (
	lockChangeRE = regexp.MustCompile(`^\s*(?:•\s*)?(Updated|Added|Removed) input '([^']+)'`)
	lockDateRE   = regexp.MustCompile(`^\s*(?:→\s*)?'[^']*'\s*\((\d{4}-\d{2}-\d{2})\)\s*$`)
)

func (c *lockChanges) line(l string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := lockChangeRE.FindStringSubmatch(l); m != nil {
		c.finish()
		c.changes = append(c.changes, m[2]+" "+strings.ToLower(m[1]))
		c.dates = nil
		return
	}
	if m := lockDateRE.FindStringSubmatch(l); m != nil && len(c.changes) > 0 {
		c.dates = append(c.dates, m[1])
	}
}

// finish adds the dates to the last change: "nixpkgs updated (2024-05-01 → 2024-05-20)".
func (c *lockChanges) finish() {
	if n := len(c.changes); n > 0 && len(c.dates) > 0 {
		if len(c.dates) == 2 && c.dates[0] == c.dates[1] {
			c.dates = c.dates[:1]
		}
		c.changes[n-1] += " (" + strings.Join(c.dates, " → ") + ")"
		c.dates = nil
	}
}

func (c *lockChanges) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finish()
	return append([]string(nil), c.changes...)
}
