package taskstest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// Result is how a task run by Run ended: its error, its report and its
// log.
type Result struct {
	Err error
	Rep tasks.Report
	Log string
}

// Outcome is the run's end as the summary words it: "succeeded",
// "failed: …", or the outcome ("skipped: …", "declined: …").
func (r Result) Outcome() string {
	if o, ok := tasks.AsOutcome(r.Err); ok {
		return o.Error()
	}
	if r.Err != nil {
		return "failed: " + r.Err.Error()
	}
	return "succeeded"
}

// All is every summary line and the log, for "does it mention" checks.
func (r Result) All() string {
	return strings.Join(r.Rep.Actions, "\n") + "\n" + strings.Join(r.Rep.Stats, "\n") + "\n" + strings.Join(r.Rep.Warnings, "\n") + "\n" + r.Log
}

// Run runs task, a tasks.Configurable, as the task called name, with a
// fresh Env on home: the flake at <home>/nixos-config, the clock at now
// (the real one when zero), the prompter p (none when nil), and options
// as if from a config file, over the task's defaults. setup changes the
// Env last. Binding the options is part of the run, as the catalogue
// does it before a run: an error there is the task's error.
func Run(t *testing.T, task tasks.Task, name, home string, now time.Time, opts map[string]any, p *Prompter, setup ...func(*tasks.Env)) Result {
	t.Helper()
	env := tasks.NewEnv(name, nil, nil)
	env.Home = home
	if !now.IsZero() {
		env.Now = func() time.Time { return now }
	}
	env.Config = &config.Config{Flake: filepath.Join(home, "nixos-config"), Tasks: map[string]config.Task{}}
	if p != nil {
		p.T = t
		env.Prompt = p
	}
	log := &Buffer{}
	env.Log = log
	for _, s := range setup {
		s(env)
	}
	task, err := task.(tasks.Configurable).Configure(config.Task{Name: name, Options: opts, File: "/test/config.toml"})
	if err == nil {
		err = task.Run(context.Background(), env)
	}
	return Result{err, env.Report(), log.String()}
}
