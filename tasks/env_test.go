package tasks_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// reporter records status lines by task.
type reporter struct {
	mu    sync.Mutex
	lines []string
}

func (r *reporter) Status(task, line string) {
	r.mu.Lock()
	r.lines = append(r.lines, task+": "+line)
	r.mu.Unlock()
}

func TestEnvStatusGoesToTheReporterUnderTheTasksName(t *testing.T) {
	r := &reporter{}
	env := tasks.NewEnv("build", r, nil)
	env.Status("evaluating %s", "host")
	env.StatusFunc()("building foo")
	if want := []string{"build: evaluating host", "build: building foo"}; !slices.Equal(r.lines, want) {
		t.Errorf("status lines %q, want %q", r.lines, want)
	}
	// Without a reporter a status line goes nowhere, and nothing breaks.
	tasks.NewEnv("x", nil, nil).Status("ignored")
}

func TestEnvReportIsLoggedAndCopied(t *testing.T) {
	env := tasks.NewEnv("disk", nil, nil)
	log := &taskstest.Buffer{}
	env.Log = log
	env.Action("deleted %d files", 3)
	env.Stat("freed %s", "1 GiB")
	env.Warn("could not read %s", "~/x")
	rep := env.Report()
	if !slices.Equal(rep.Actions, []string{"deleted 3 files"}) || !slices.Equal(rep.Stats, []string{"freed 1 GiB"}) ||
		!slices.Equal(rep.Warnings, []string{"could not read ~/x"}) {
		t.Errorf("report %+v", rep)
	}
	if log.String() != "deleted 3 files\nfreed 1 GiB\ncould not read ~/x\n" {
		t.Errorf("log %q", log.String())
	}
	// The report is a copy: what the task records later does not change it.
	rep.Actions[0] = "changed"
	env.Action("more")
	if again := env.Report(); !slices.Equal(again.Actions, []string{"deleted 3 files", "more"}) {
		t.Errorf("report after more %q", again.Actions)
	}
}

func TestEnvReportConcurrentWriters(t *testing.T) {
	env := tasks.NewEnv("disk", nil, nil)
	env.Log = &taskstest.Buffer{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				env.Stat("x")
			}
		})
	}
	wg.Wait()
	if n := len(env.Report().Stats); n != 800 {
		t.Errorf("%d stats, want 800", n)
	}
}

func TestEnvShowReachesThePersonOnlyWithATerminal(t *testing.T) {
	env := tasks.NewEnv("caches", nil, nil)
	log := &taskstest.Buffer{}
	env.Log = log
	env.Show("table\n\n") // no prompter at all: the log only
	p := &taskstest.Prompter{}
	env.Prompt = p
	env.Show("no terminal")
	if env.Interactive() || len(p.Printed()) != 0 {
		t.Errorf("shown without a terminal: %q", p.Printed())
	}
	p.Terminal = true
	env.Show("with a terminal")
	env.Show("") // nothing to show: nothing shown
	if !env.Interactive() || !slices.Equal(p.Printed(), []string{"with a terminal"}) {
		t.Errorf("printed %q", p.Printed())
	}
	if log.String() != "table\nno terminal\nwith a terminal\n" {
		t.Errorf("log %q", log.String())
	}
}

func TestEnvExpand(t *testing.T) {
	env := tasks.NewEnv("x", nil, nil)
	env.Home = "/home/u"
	for in, want := range map[string]string{
		"~": "/home/u", "~/.cache": "/home/u/.cache", "/etc": "/etc", "~other/x": "~other/x", "a/~/b": "a/~/b",
	} {
		if got := env.Expand(in); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnvFlake(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, "nixos-config"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := tasks.NewEnv("push", nil, nil)
	env.Home = home
	if _, _, err := env.Flake(); err == nil {
		t.Error("no configuration: no error")
	}
	for _, c := range []struct{ flake, ref, dir, err string }{
		{"~/nixos-config", filepath.Join(home, "nixos-config"), filepath.Join(home, "nixos-config"), ""},
		{"path:" + home, "path:" + home, home, ""},
		{"git+file://" + home + "?ref=main", "git+file://" + home + "?ref=main", "", ""},
		{"github:owner/repo", "github:owner/repo", "", ""},
		{"~/missing", "", "", "does not exist"},
		{"", "", "", "no flake configured"},
	} {
		env.Config = &config.Config{Flake: c.flake}
		ref, d, err := env.Flake()
		if ref != c.ref || d != c.dir || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%q: ref %q dir %q err %v; want %q %q %q", c.flake, ref, d, err, c.ref, c.dir, c.err)
		}
		if fd, _ := env.FlakeDir(); fd != c.dir {
			t.Errorf("%q: FlakeDir %q", c.flake, fd)
		}
	}
}

func TestOutcomes(t *testing.T) {
	for _, c := range []struct {
		err  error
		kind tasks.Kind
		text string
	}{
		{tasks.Skip("no %s", "data"), tasks.Skipped, "skipped: no data"},
		{tasks.Decline("kept %d", 3), tasks.Declined, "declined: kept 3"},
	} {
		o, ok := tasks.AsOutcome(c.err)
		if !ok || o.Kind != c.kind || c.err.Error() != c.text {
			t.Errorf("%v: %+v %v", c.err, o, ok)
		}
	}
	if _, ok := tasks.AsOutcome(context.Canceled); ok {
		t.Error("a plain error is an outcome")
	}
}
