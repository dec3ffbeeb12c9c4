// Package shell runs the tasks users define in config.toml with `run`: a
// command line, its output logged, its latest meaningful line shown as the
// live status. A line of plain words is executed directly; anything else
// runs with `sh -c` (argv.go says which is which).
package shell

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

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
		if direct, ok := t.direct(argv, c, commandEnv(env.Runner, c.Env)); ok {
			err := env.Runner.Run(ctx, direct)
			// A file without #! is a shell script to a shell (execve
			// says ENOEXEC): the shell runs it, as it would have.
			if !errors.Is(err, syscall.ENOEXEC) {
				return err
			}
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

// direct is c running argv without a shell, when the shell would run that
// program (runnable), with the PWD the shell would give it (shellPWD);
// cenv is the command's whole environment.
func (t Task) direct(argv []string, c proc.Cmd, cenv []string) (proc.Cmd, bool) {
	if !t.runnable(argv[0], cenv) {
		return c, false
	}
	c.Args = argv
	if pwd, ok := shellPWD(cenv, t.Dir); ok {
		c.Env = append(append([]string(nil), c.Env...), "PWD="+pwd)
	}
	return c, true
}

// runnable reports whether program is one the shell would execute: found
// on the PATH the command runs with (cenv's), or, given as a path, an
// executable regular file there. When it is not, the line goes to the
// shell, whose "not found" (127) or "Permission denied" (126) the user
// then gets, as with any other line. A program found only in a relative
// PATH entry is left to the runner, which refuses it and says why
// (proc.LookPath).
func (t Task) runnable(program string, cenv []string) bool {
	if !strings.Contains(program, "/") {
		_, err := proc.LookPath(program, getenv(cenv, "PATH"))
		return !errors.Is(err, exec.ErrNotFound)
	}
	if !filepath.IsAbs(program) && t.Dir != "" {
		program = filepath.Join(t.Dir, program)
	}
	st, err := os.Stat(program)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// shellPWD is the PWD a shell started in dir exports, which a program it
// runs then sees: the inherited one (cenv's) when it names that directory
// (a path through links is kept), else the directory's path as getcwd
// gives it (no links). ok is false when that is the inherited one. The
// runner hands a program rebuild's own environment, whose PWD is
// rebuild's folder, not dir.
func shellPWD(cenv []string, dir string) (pwd string, ok bool) {
	inherited := getenv(cenv, "PWD")
	here := dir
	if here == "" {
		here = "."
	}
	if filepath.IsAbs(inherited) && sameFile(inherited, here) {
		return "", false
	}
	if dir == "" {
		wd, err := unix.Getwd()
		return wd, err == nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	// Not there: the runner says why it cannot go there.
	pwd, err = filepath.EvalSymlinks(abs)
	return pwd, err == nil
}

func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// commandEnv is the environment a command of r gets, extra included.
func commandEnv(r *proc.Runner, extra []string) []string {
	base := r.Environ
	if base == nil {
		base = os.Environ()
	}
	if len(extra) == 0 {
		return base
	}
	return append(append([]string(nil), base...), extra...)
}

// getenv reads key from a KEY=VALUE list; the last one wins, as in exec.
func getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
