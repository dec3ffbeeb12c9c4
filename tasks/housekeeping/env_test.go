package housekeeping

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
// a config file) and prompter.
func run(t *testing.T, task tasks.Task, name, home string, opts map[string]any, p *taskstest.Prompter, setup ...func(*tasks.Env)) result {
	t.Helper()
	env := tasks.NewEnv(name, nil, nil)
	env.Home = home
	env.Options = config.Task{Name: name, Options: opts, File: "/test/config.toml"}
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
	err := task.Run(context.Background(), env)
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

// asNobody makes dir unreadable and runs f as a user the permission
// applies to: root reads a mode-000 folder anyway, so as root the whole
// process takes nobody's effective uid while f runs, and every folder
// from dir up to / is opened to group and others first (nobody keeps
// root's group).
func asNobody(t *testing.T, dir string, f func()) {
	t.Helper()
	if os.Geteuid() == 0 {
		for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(d, fi.Mode().Perm()|0o055); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	if os.Geteuid() != 0 {
		f()
		return
	}
	if err := syscall.Seteuid(65534); err != nil {
		t.Skipf("running as root and cannot drop to nobody to make a folder unreadable: %v", err)
	}
	defer func() {
		if err := syscall.Seteuid(0); err != nil {
			panic("cannot get root back: " + err.Error())
		}
	}()
	f()
}
