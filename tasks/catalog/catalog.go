// Package catalog is the table of built-in tasks and the place where they
// meet the user's configuration: per-task overrides, disabled tasks, each
// built-in task's options (decoded and checked here, before anything
// runs), and the tasks users define themselves with `run`; in a run over
// several hosts, one instance of each per-host task per host (hosts.go).
//
// A built-in task is registered here only once it works; nothing is a
// placeholder. Built-in `after` edges to a built-in task that is not
// registered are dropped (the graph of DESIGN.md is filled in family by
// family), while an edge the user wrote to an unknown name is an error:
// typos must not pass silently.
package catalog

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/suggest"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude"
	"github.com/rebuild-nixos/rebuild/tasks/cleanup"
	"github.com/rebuild-nixos/rebuild/tasks/git"
	"github.com/rebuild-nixos/rebuild/tasks/housekeeping"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
	"github.com/rebuild-nixos/rebuild/tasks/shell"
)

// families lists the Specs functions of every built-in family.
var families = []func() []tasks.Spec{
	nixos.Specs, git.Specs, housekeeping.Specs, cleanup.Specs, claude.Specs,
}

// Builtins returns every registered built-in task, in phase order.
func Builtins() []tasks.Spec {
	var out []tasks.Spec
	for _, f := range families {
		out = append(out, f()...)
	}
	sortSpecs(out)
	return out
}

// sortSpecs orders by phase, unnumbered tasks last; tasks of one phase
// keep their registration order (the sort is stable): families' order,
// then each family's Specs order. The graph's topological order does the
// rest.
func sortSpecs(s []tasks.Spec) {
	rank := func(sp tasks.Spec) int {
		if sp.Phase > 0 {
			return sp.Phase
		}
		return 1000
	}
	sort.SliceStable(s, func(i, j int) bool { return rank(s[i]) < rank(s[j]) })
}

// Options are the run-wide switches that change the catalogue.
type Options struct {
	// NoUpdate disables flake-update (--no-update).
	NoUpdate bool
	// UserDir is where user tasks run (the flake directory).
	UserDir string
	// Hosts are the hosts of a run over several machines, in order (the
	// order of --on, else by name): every per-host task runs once on each
	// (hosts.go). None: the one machine, and no task is per host.
	Hosts []config.Host
	// Rollout is how the hosts' activations follow each other
	// (config.RolloutAll, RolloutOne, RolloutCanary; "" is all).
	Rollout string
}

// standard keys every built-in accepts in its [task.NAME] table.
var standardBuiltin = []string{"timeout", "enabled", "needs", "after", "groups", "critical", "gate"}

// Assemble merges builtins with cfg's [task.NAME] tables and returns the
// specs of the run, built-ins first in phase order, then user tasks by
// name; with o.Hosts, each per-host task once per host (hosts.go).
// Every built-in task comes back bound to its options, decoded and
// checked: any mistake in the configuration is an error here, before the
// first task starts.
func Assemble(cfg *config.Config, builtins []tasks.Spec, o Options) ([]tasks.Spec, error) {
	specs, byName := cloneBuiltins(builtins)
	names := cfg.TaskNames()
	// Every name a table or an edge may use: the built-in tasks and the
	// configured tables.
	var all []string
	for _, b := range builtins {
		all = append(all, b.Name)
	}
	all = append(all, names...)
	sort.Strings(all)
	var users []tasks.Spec
	for _, name := range names {
		tc := cfg.Tasks[name]
		i, builtin := byName[name]
		switch {
		case builtin:
			if err := applyTable(&specs[i], tc); err != nil {
				return nil, err
			}
		case tc.Run == "":
			msg := fmt.Sprintf("[task.%s] is not a built-in task, and has no run = \"…\" to be a task of your own", name)
			if s := suggest.Closest(name, all); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			msg += "; built-in tasks: " + strings.Join(builtinNames(builtins), ", ")
			return nil, &config.Error{File: tc.File, Key: "task." + name, Msg: msg}
		default:
			users = append(users, userSpec(name, tc, o.UserDir))
		}
	}
	if err := bindOptions(cfg, specs); err != nil {
		return nil, err
	}
	if o.NoUpdate {
		if i, ok := byName["flake-update"]; ok {
			specs[i].Disabled = true
			specs[i].DisabledReason = "--no-update"
		}
	}
	specs = append(specs, users...)
	if err := checkEdges(specs, all); err != nil {
		return nil, err
	}
	if err := gateEdges(specs); err != nil {
		return nil, err
	}
	return expandHosts(cfg, specs, o)
}

// cloneBuiltins copies the registered specs, so the run's changes stay
// its own, and drops their after edges to tasks not registered (yet).
func cloneBuiltins(builtins []tasks.Spec) ([]tasks.Spec, map[string]int) {
	byName := map[string]int{}
	specs := make([]tasks.Spec, 0, len(builtins))
	for _, b := range builtins {
		byName[b.Name] = len(specs)
		b.Groups = clone(b.Groups)
		b.Needs = clone(b.Needs)
		b.After = clone(b.After)
		specs = append(specs, b)
	}
	for i := range specs {
		specs[i].After = slices.DeleteFunc(specs[i].After, func(a string) bool {
			_, ok := byName[a]
			return !ok
		})
	}
	return specs, byName
}

// applyTable changes a built-in task as its [task.NAME] table says (its
// options are bound later, by bindOptions).
func applyTable(sp *tasks.Spec, tc config.Task) error {
	name := sp.Name
	if tc.Run != "" {
		return &config.Error{File: tc.File, Key: "task." + name + ".run",
			Msg: fmt.Sprintf("task.%s.run: %q is a built-in task; a task of your own needs another name", name, name)}
	}
	if tc.Interactive != nil {
		opts := append(append([]string(nil), standardBuiltin...), sp.OptionKeys()...)
		return &config.Error{File: tc.File, Key: "task." + name + ".interactive",
			Msg: fmt.Sprintf("task.%s.interactive: cannot be changed for a built-in task (it may set: %s)", name, strings.Join(opts, ", "))}
	}
	if tc.Timeout > 0 {
		sp.Timeout = tc.Timeout
	}
	if tc.Enabled != nil {
		sp.Disabled = !*tc.Enabled
	}
	if tc.Critical != nil {
		sp.Critical = *tc.Critical
	}
	if tc.Gate != nil {
		sp.Gate = *tc.Gate
	}
	sp.Needs = union(sp.Needs, tc.Needs)
	sp.After = union(sp.After, tc.After)
	sp.Groups = union(sp.Groups, tc.Groups)
	sp.Source = tc.File
	return nil
}

// userSpec is the task of the user's own that the table tc defines.
func userSpec(name string, tc config.Task, dir string) tasks.Spec {
	return tasks.Spec{
		Name:        name,
		Description: tc.Run,
		Groups:      clone(tc.Groups),
		Needs:       clone(tc.Needs),
		After:       clone(tc.After),
		Critical:    deref(tc.Critical),
		Interactive: deref(tc.Interactive),
		Gate:        deref(tc.Gate),
		Timeout:     tc.Timeout,
		Disabled:    tc.Enabled != nil && !*tc.Enabled,
		Estimate:    10 * time.Second,
		User:        true,
		Source:      tc.File,
		Task:        shell.Task{Command: tc.Run, Dir: dir, Interactive: deref(tc.Interactive)},
	}
}

// checkEdges refuses an edge the configuration wrote to a name that is
// not a task: a typo must not pass silently. all is sorted.
func checkEdges(specs []tasks.Spec, all []string) error {
	for _, sp := range specs {
		if sp.Source == "" {
			continue
		}
		for _, edge := range []struct {
			kind    string
			targets []string
		}{{"needs", sp.Needs}, {"after", sp.After}} {
			for _, target := range edge.targets {
				if _, found := slices.BinarySearch(all, target); found {
					continue
				}
				msg := fmt.Sprintf("task.%s.%s: unknown task %q", sp.Name, edge.kind, target)
				if s := suggest.Closest(target, all); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				msg += "; tasks: " + strings.Join(all, ", ")
				return &config.Error{File: sp.Source, Key: fmt.Sprintf("task.%s.%s", sp.Name, edge.kind), Msg: msg}
			}
		}
	}
	return nil
}

// bindOptions binds every built-in task to its options, before anything
// runs: a bad option stops the run as a configuration error naming where
// it was set, instead of failing its task after the build. A task the
// configuration disables is only checked for unknown keys, and keeps its
// defaults.
func bindOptions(cfg *config.Config, builtins []tasks.Spec) error {
	for i := range builtins {
		sp := &builtins[i]
		tc := cfg.Tasks[sp.Name]
		if sp.Disabled {
			tc.Name = sp.Name
			if err := tc.CheckOptions(sp.OptionKeys()...); err != nil {
				return err
			}
			continue
		}
		task, err := sp.Configure(tc)
		if err != nil {
			return err
		}
		sp.Task = task
		if a, ok := task.(tasks.EdgeAdjuster); ok {
			a.AdjustEdges(sp)
		}
	}
	return nil
}

// OptionDocs returns the options of every built-in task that has some,
// with their defaults, for `rebuild config show` and `rebuild config init`.
func OptionDocs(builtins []tasks.Spec) []config.TaskOptions {
	var out []config.TaskOptions
	for _, sp := range builtins {
		c, ok := sp.Task.(tasks.Configurable)
		if !ok {
			continue
		}
		out = append(out, config.TaskOptions{Name: sp.Name, Description: sp.Description, Options: tasks.DescribeOptions(c)})
	}
	return out
}

func builtinNames(b []tasks.Spec) []string {
	if len(b) == 0 {
		return []string{"(none registered)"}
	}
	out := make([]string, len(b))
	for i, s := range b {
		out[i] = s.Name
	}
	sort.Strings(out)
	return out
}

func deref(b *bool) bool { return b != nil && *b }

func clone(s []string) []string { return append([]string(nil), s...) }

// union appends the elements of b missing from a.
func union(a, b []string) []string {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}
