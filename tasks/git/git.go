package git

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// repo is a git work tree at dir.
type repo struct {
	env *tasks.Env
	dir string
}

// openRepo returns the flake's repository; ok is false when the flake is
// not a local directory inside a git work tree.
func openRepo(ctx context.Context, env *tasks.Env, dir string) (*repo, bool) {
	if dir == "" {
		return nil, false
	}
	r := &repo{env: env, dir: dir}
	out, err := r.out(ctx, "rev-parse", "--is-inside-work-tree")
	return r, err == nil && strings.TrimSpace(out) == "true"
}

// out runs git and returns its standard output; standard error goes to
// the task log.
func (r *repo) out(ctx context.Context, args ...string) (string, error) {
	var b strings.Builder
	err := r.run(ctx, proc.Cmd{Stdout: &b}, args...)
	return b.String(), err
}

func (r *repo) run(ctx context.Context, c proc.Cmd, args ...string) error {
	if r.env.Runner == nil {
		return errors.New("no command runner")
	}
	c.Args = append([]string{"git"}, args...)
	c.Dir = r.dir
	c.Log = r.env.Log
	c.Env = append(c.Env, "GIT_TERMINAL_PROMPT=0")
	if !inEnviron(r.env.Runner.Environ, "GIT_SSH_COMMAND") && !inEnviron(r.env.Runner.Environ, "GIT_SSH") {
		c.Env = append(c.Env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	return r.env.Runner.Run(ctx, c)
}

func inEnviron(environ []string, key string) bool {
	if environ == nil {
		_, ok := os.LookupEnv(key)
		return ok
	}
	for _, kv := range environ {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// gitMessage is what git said when it failed: its last lines, on one line.
func gitMessage(err error) string {
	var pe *proc.Error
	if !errors.As(err, &pe) || len(pe.Tail) == 0 {
		return err.Error()
	}
	var lines []string
	for _, l := range pe.Tail {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "hint:") {
			lines = append(lines, l)
		}
	}
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return strings.Join(lines, "; ")
}
