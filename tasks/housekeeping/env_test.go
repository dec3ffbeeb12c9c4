package housekeeping

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// result is how a task run ended: its error, its report and its log.
type result struct {
	err error
	rep tasks.Report
	log string
}

// all is every summary line and the log, for "does it mention" checks.
func (r result) all() string {
	return strings.Join(r.rep.Actions, "\n") + "\n" + strings.Join(r.rep.Stats, "\n") + "\n" + strings.Join(r.rep.Warnings, "\n") + "\n" + r.log
}

// run runs task with a fresh Env on home, the given options (as if from
// a config file, over the task's defaults) and prompter.
func run(t *testing.T, task tasks.Task, name, home string, opts map[string]any, p *taskstest.Prompter, setup ...func(*tasks.Env)) result {
	t.Helper()
	env := tasks.NewEnv(name, nil, nil)
	env.Home = home
	env.Config = &config.Config{Flake: filepath.Join(home, "nixos-config"), Tasks: map[string]config.Task{}}
	if p != nil {
		p.T = t
		env.Prompt = p
	}
	log := &taskstest.Buffer{}
	env.Log = log
	for _, s := range setup {
		s(env)
	}
	// Bound to its options as the catalogue does before a run: an error
	// there is the task's error.
	task, err := task.(tasks.Configurable).Configure(config.Task{Name: name, Options: opts, File: "/test/config.toml"})
	if err == nil {
		err = task.Run(context.Background(), env)
	}
	return result{err, env.Report(), log.String()}
}

func outcome(err error) string {
	if o, ok := tasks.AsOutcome(err); ok {
		return o.Error()
	}
	if err != nil {
		return "failed: " + err.Error()
	}
	return "succeeded"
}
