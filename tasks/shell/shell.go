// Package shell runs the tasks users define in config.toml with `run`: a
// command line, its output logged, its latest meaningful line shown as the
// live status. A line of plain words is executed directly; anything else
// runs with `sh -c` (argv.go says which is which).
package shell

import (
	"context"
	"errors"
	"syscall"

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
		Dir:    t.Dir,
		Log:    env.Log,
		Status: env.StatusFunc(),
	}
	// A task run once per host (a gate: smoke@web1) is told which host it
	// checks: its nixosConfigurations name and where it runs.
	if env.Host != nil {
		c.Env = []string{"NIXOS_HOST=" + env.Host.Name, "NIXOS_TARGET=" + env.Target().Target}
	}
	if t.Interactive {
		if env.Terminal == nil {
			return tasks.Skip("no terminal: interactive task not run")
		}
		c.Terminal = env.Terminal
	}
	if argv, ok := directArgv(t.Command); ok {
		c.Args = argv
		err := env.Runner.Run(ctx, c)
		// A file without #! is a shell script to a shell (execve says
		// ENOEXEC): the shell runs it, as it would have.
		if !errors.Is(err, syscall.ENOEXEC) {
			return err
		}
	}
	c.Args = []string{"sh", "-c", execLine(t.Command)}
	err := env.Runner.Run(ctx, c)
	// The error names the line the user wrote, not our exec in front.
	var pe *proc.Error
	if errors.As(err, &pe) {
		pe.Cmd = proc.CommandLine([]string{"sh", "-c", t.Command})
	}
	return err
}
