// Package shell runs the tasks users define in config.toml with `run`: a
// command line run with `sh -c`, its output logged, its latest meaningful
// line shown as the live status.
package shell

import (
	"context"
	"errors"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Task is a user-defined task.
type Task struct {
	// Command is the shell command line.
	Command string
	// Dir is the working directory (the flake directory when it exists).
	Dir string
	// Interactive tasks are attached to the terminal.
	Interactive bool
}

// Run runs the command. An interactive task with no terminal is skipped:
// there is nobody to answer it.
func (t Task) Run(ctx context.Context, env *tasks.Env) error {
	if env.Runner == nil {
		return errors.New("no command runner")
	}
	c := proc.Cmd{
		Args:   []string{"sh", "-c", t.Command},
		Dir:    t.Dir,
		Log:    env.Log,
		Status: env.StatusFunc(),
	}
	if t.Interactive {
		if env.Terminal == nil {
			return tasks.Skip("no terminal: interactive task not run")
		}
		c.Terminal = env.Terminal
	}
	return env.Runner.Run(ctx, c)
}
