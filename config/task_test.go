package config

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestUserTask(t *testing.T) {
	e := newEnv(t)
	p := e.user(`
[task.vulnix]
run = "vulnix --system"
needs = ["build"]
after = ["activate", "diff"]
groups = ["security"]
critical = false
interactive = true
enabled = true
timeout = "1h30m"

[task.quiet]
run = "true"
needs = []
`)
	c := mustLoad(t, e.opts())
	want := Task{
		Name:        "vulnix",
		Run:         "vulnix --system",
		Needs:       []string{"build"},
		After:       []string{"activate", "diff"},
		Groups:      []string{"security"},
		Critical:    ptr(false),
		Interactive: ptr(true),
		Enabled:     ptr(true),
		Timeout:     90 * time.Minute,
		File:        p,
	}
	got := c.Tasks["vulnix"]
	got.sources = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("vulnix:\n got %+v\nwant %+v", got, want)
	}
	if !got.IsUser() {
		t.Error("vulnix is not a user task")
	}
	q := c.Tasks["quiet"]
	if q.Needs == nil || len(q.Needs) != 0 {
		t.Errorf("needs = [] must be set and empty, got %#v", q.Needs)
	}
	if q.After != nil || q.Critical != nil || q.Timeout != 0 || q.Options != nil {
		t.Errorf("unset keys must stay unset: %+v", q)
	}
}

func TestBuiltinTaskOptions(t *testing.T) {
	e := newEnv(t)
	p := e.user(`
[task.build]
timeout = "2h"

[task.caches]
paths = ["~/.cache/uv", "~/.npm"]
max_age = "30d"
keep = 3
dry = true
label = "nightly"
grace = "90s"
bad_grace = "soon"
neg_grace = "-1s"
`)
	c := mustLoad(t, e.opts())
	build := c.Tasks["build"]
	if build.IsUser() || build.Timeout != 2*time.Hour || build.Options != nil {
		t.Errorf("build: %+v", build)
	}
	if err := build.CheckOptions(); err != nil {
		t.Errorf("build has no options: %v", err)
	}

	caches := c.Tasks["caches"]
	if caches.IsUser() {
		t.Error("caches is not a user task")
	}
	if err := caches.CheckOptions("paths", "max_age", "keep", "dry", "label", "grace", "bad_grace", "neg_grace"); err != nil {
		t.Errorf("CheckOptions with every key allowed: %v", err)
	}
	err := caches.CheckOptions("pahts", "max_age", "keep", "dry", "label", "grace", "bad_grace", "neg_grace")
	if err == nil {
		t.Fatal("CheckOptions accepted an unknown key")
	}
	ce := err.(*Error)
	if ce.File != p || ce.Key != "task.caches.paths" {
		t.Errorf("File %q Key %q", ce.File, ce.Key)
	}
	wantIn(t, err.Error(), p+`: unknown key "task.caches.paths" (did you mean "pahts"?); known keys: after, bad_grace, critical, dry, enabled, gate, grace, groups, interactive, keep, label, max_age, needs, neg_grace, pahts, run, timeout`)

	err = build.CheckOptions("x")
	if err != nil {
		t.Errorf("no options: %v", err)
	}
	wantIn(t, caches.CheckOptions().Error(), `unknown key "task.caches.bad_grace" (task caches has no options)`)
}

func TestGetters(t *testing.T) {
	e := newEnv(t)
	p := e.user(`
[task.caches]
paths = ["~/.cache/uv", "~/.npm"]
max_age = "30d"
keep = 3
dry = true
label = "nightly"
grace = "90s"
bad_grace = "soon"
neg_grace = "-1s"
mixed = ["a", 1]
`)
	tk := mustLoad(t, e.opts()).Tasks["caches"]

	if v, err := tk.String("label", "x"); v != "nightly" || err != nil {
		t.Errorf("String: %q %v", v, err)
	}
	if v, err := tk.String("absent", "def"); v != "def" || err != nil {
		t.Errorf("String default: %q %v", v, err)
	}
	if v, err := tk.Strings("paths", nil); !slices.Equal(v, []string{"~/.cache/uv", "~/.npm"}) || err != nil {
		t.Errorf("Strings: %q %v", v, err)
	}
	if v, err := tk.Strings("absent", []string{"d"}); !slices.Equal(v, []string{"d"}) || err != nil {
		t.Errorf("Strings default: %q %v", v, err)
	}
	if v, err := tk.Int("keep", 0); v != 3 || err != nil {
		t.Errorf("Int: %d %v", v, err)
	}
	if v, err := tk.Int("absent", 7); v != 7 || err != nil {
		t.Errorf("Int default: %d %v", v, err)
	}
	if v, err := tk.Bool("dry", false); !v || err != nil {
		t.Errorf("Bool: %v %v", v, err)
	}
	if v, err := tk.Bool("absent", true); !v || err != nil {
		t.Errorf("Bool default: %v %v", v, err)
	}
	if v, err := tk.Duration("grace", 0); v != 90*time.Second || err != nil {
		t.Errorf("Duration: %v %v", v, err)
	}
	if v, err := tk.Duration("absent", time.Hour); v != time.Hour || err != nil {
		t.Errorf("Duration default: %v %v", v, err)
	}

	bad := []struct {
		name string
		get  func() error
		want string
	}{
		{"String of a list", func() error { _, err := tk.String("paths", ""); return err },
			`task.caches.paths = ["~/.cache/uv", "~/.npm"]: not a string; allowed: a string`},
		{"Strings of a string", func() error { _, err := tk.Strings("label", nil); return err },
			`task.caches.label = "nightly": not a list of strings; allowed: a list of strings`},
		{"Strings of a mixed list", func() error { _, err := tk.Strings("mixed", nil); return err },
			`task.caches.mixed = ["a", 1]: not a list of strings`},
		{"Int of a string", func() error { _, err := tk.Int("max_age", 0); return err },
			`task.caches.max_age = "30d": not an integer; allowed: a whole number`},
		{"Bool of a number", func() error { _, err := tk.Bool("keep", false); return err },
			`task.caches.keep = 3: not a boolean; allowed: true or false`},
		{"Duration of a word", func() error { _, err := tk.Duration("bad_grace", 0); return err },
			`task.caches.bad_grace = "soon": not a duration; allowed: e.g. "90s", "2h"`},
		{"Duration of 30d", func() error { _, err := tk.Duration("max_age", 0); return err },
			`task.caches.max_age = "30d": not a duration`},
		{"negative Duration", func() error { _, err := tk.Duration("neg_grace", 0); return err },
			`task.caches.neg_grace = "-1s": negative`},
	}
	for _, b := range bad {
		err := b.get()
		if err == nil {
			t.Errorf("%s: no error", b.name)
			continue
		}
		if ce, ok := err.(*Error); !ok || ce.File != p {
			t.Errorf("%s: %T %v, want an *Error naming %s", b.name, err, err, p)
		}
		wantIn(t, err.Error(), p+": "+b.want)
	}
}

// A Task built by hand (as other packages' tests do) works without Load.
func TestHandMadeTask(t *testing.T) {
	tk := Task{Name: "caches", File: "/f", Options: map[string]any{"keep": "x"}}
	_, err := tk.Int("keep", 0)
	wantIn(t, err.Error(), `/f: task.caches.keep = "x": not an integer`)
	if err := (Task{Name: "a"}).CheckOptions(); err != nil {
		t.Error(err)
	}
}

func TestTaskNames(t *testing.T) {
	c := &Config{Tasks: map[string]Task{"b": {}, "a": {}, "c-d": {}}}
	if got := c.TaskNames(); !slices.Equal(got, []string{"a", "b", "c-d"}) {
		t.Errorf("TaskNames = %v", got)
	}
	if got := (&Config{}).TaskNames(); len(got) != 0 {
		t.Errorf("TaskNames of nothing = %v", got)
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"a", "build", "flake-update", "learn-cross-project", "a1-b2"} {
		if !IsName(ok) {
			t.Errorf("IsName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "A", "1a", "a-", "-a", "a--b", "a_b", "a.b", "a b"} {
		if IsName(bad) {
			t.Errorf("IsName(%q) = true", bad)
		}
	}
	for key, want := range map[string]string{
		"jobs":                      "REBUILD_JOBS",
		"metrics_file":              "REBUILD_METRICS_FILE",
		"task.flake-update.timeout": "REBUILD_TASK__FLAKE_UPDATE__TIMEOUT",
		"task.caches.max_age":       "REBUILD_TASK__CACHES__MAX_AGE",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}
