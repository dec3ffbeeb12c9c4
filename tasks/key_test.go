package tasks_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// built is a value with a history record of its own, like nixos.Built.
type built struct {
	Out     string
	Changed bool
}

func (b built) Record() map[string]string { return map[string]string{"out": b.Out} }

func TestKeyHandsOnTypedValues(t *testing.T) {
	vals := tasks.NewValues()
	key := tasks.NewKey[built]("build", "built")
	if _, ok := key.Get(vals); ok {
		t.Error("a value before anything was handed on")
	}
	build := tasks.NewEnv("build", nil, vals)
	key.Put(build, built{Out: "/nix/store/x", Changed: true})
	activate := tasks.NewEnv("activate", nil, vals)
	got, ok := key.Get(activate)
	if !ok || got != (built{Out: "/nix/store/x", Changed: true}) {
		t.Errorf("activate got %+v %v", got, ok)
	}
	if key.String() != "build.built" {
		t.Errorf("String %q", key.String())
	}
	// Two keys of the same task are two values.
	other := tasks.NewKey[string]("build", "other")
	if _, ok := other.Get(vals); ok {
		t.Error("another key of build has a value")
	}
	// An Env made without Values keeps its own.
	lone := &tasks.Env{Name: "build"}
	key.Put(lone, built{Out: "/alone"})
	if b, _ := key.Get(lone); b.Out != "/alone" {
		t.Errorf("lone Env: %+v", b)
	}
}

// Only the task a key names may put it: another doing so is a wiring
// mistake, which panics (and the scheduler turns into that task's failure).
func TestKeyPutByAnotherTaskPanics(t *testing.T) {
	key := tasks.NewKey[string]("build", "out")
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "task diff cannot hand on build.out") {
			t.Errorf("recovered %v", r)
		}
	}()
	key.Put(tasks.NewEnv("diff", nil, nil), "x")
}

// History keeps what it kept when values were untyped: strings under
// task.key, and what a Recorded value records; other values stay out.
func TestSnapshotKeepsStringsAndRecords(t *testing.T) {
	vals := tasks.NewValues()
	tasks.NewKey[built]("build", "built").Put(vals, built{Out: "/nix/store/new", Changed: true})
	tasks.DiffSummary.Put(vals, "foo 1.0 → 1.2")
	tasks.Activated.Put(vals, tasks.Activation{Path: "/nix/store/new", Generation: 4, Previous: 3,
		Rollback: func(context.Context, *tasks.Env) error { return nil }})
	tasks.NewKey[string]("accept", "commit").Put(vals, "abc1234")
	tasks.NewKey[[]string]("learn-mcp", "suggestions").Put(vals, []string{"not kept"})
	tasks.NewKey[int]("x", "n").Put(vals, 3)
	want := map[string]any{
		"build.out":          "/nix/store/new",
		"diff.summary":       "foo 1.0 → 1.2",
		"activate.activated": "/nix/store/new",
		"accept.commit":      "abc1234",
	}
	if got := vals.Snapshot(); !maps.Equal(got, want) {
		t.Errorf("snapshot %v, want %v", got, want)
	}
}

// A per-host task's value is its host's: activate@web1 reads what
// build@web1 put, never build@web2's, and a task of the whole run reads a
// host's through On.
func TestKeyIsPerHost(t *testing.T) {
	k := tasks.NewKey[string]("build", "out")
	vals := tasks.NewValues()
	k.Put(tasks.NewEnv("build@web1", nil, vals), "/nix/store/web1")
	k.Put(tasks.NewEnv("build@web2", nil, vals), "/nix/store/web2")
	if got, _ := k.Get(tasks.NewEnv("activate@web1", nil, vals)); got != "/nix/store/web1" {
		t.Errorf("activate@web1 got %q, want web1's", got)
	}
	if got, _ := k.Get(tasks.NewEnv("activate@web2", nil, vals)); got != "/nix/store/web2" {
		t.Errorf("activate@web2 got %q, want web2's", got)
	}
	if _, ok := k.Get(tasks.NewEnv("activate", nil, vals)); ok {
		t.Error("a task without a host read a per-host value")
	}
	if got, _ := k.On("web2").Get(tasks.NewEnv("summary", nil, vals)); got != "/nix/store/web2" {
		t.Errorf("On(web2) got %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("diff@web1 could hand on build's value")
		}
	}()
	k.Put(tasks.NewEnv("diff@web1", nil, vals), "x")
}

func TestSplitHost(t *testing.T) {
	for name, want := range map[string][2]string{"build@web1": {"build", "web1"}, "build": {"build", ""}} {
		task, host := tasks.SplitHost(name)
		if task != want[0] || host != want[1] || tasks.OnHost(task, host) != name {
			t.Errorf("tasks.SplitHost(%q) = %q, %q", name, task, host)
		}
	}
}
