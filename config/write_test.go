package config

import (
	"bytes"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// forCompare drops what only says where values came from, which a
// round trip through one file changes by design.
func forCompare(c *Config) *Config {
	out := *c
	out.Sources = nil
	out.FlakeSource = ""
	out.Tasks = make(map[string]Task, len(c.Tasks))
	for name, t := range c.Tasks {
		t.File = ""
		t.sources = nil
		out.Tasks[name] = t
	}
	return &out
}

// reload writes c, loads the result as the only file and returns it.
func reload(t testing.TB, e *fixture, c *Config) (*Config, string) {
	t.Helper()
	var b bytes.Buffer
	if err := c.WriteTOML(&b); err != nil {
		t.Fatalf("WriteTOML: %v", err)
	}
	o := e.opts()
	o.UserFile = writeFile(t, e.dir, "effective.toml", b.String())
	back, err := Load(o)
	if err != nil {
		t.Fatalf("Load(WriteTOML(cfg)): %v\n%s", err, b.String())
	}
	return back, b.String()
}

func TestWriteTOMLRoundTrip(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.SystemFile = e.system(`
flake = "~/flake"
elevate = "doas"
metrics_file = "/var/lib/m.prom"

[task.caches]
paths = ["~/.cache/uv", "~/.npm"]
nested = {a = 1, b = [true, false], c = {d = "e"}}
date = 2024-01-02
when = 2024-01-02T03:04:05Z
ratio = 0.25
"odd key" = "x"
quote = "it's \"quoted\"\n\ttab"
`)
	e.user(`
jobs = 6
keep_logs = 3

[task.vulnix]
run = "vulnix --system | tee \"/tmp/v\""
needs = []
after = ["activate"]
groups = ["security", "slow"]
critical = false
interactive = true
enabled = true
timeout = "1h30m"

[task.build]
timeout = "2h"

[task.disk]
`)
	o.Environ = append(o.Environ, "REBUILD_TASK__CACHES__MAX_AGE=30", "REBUILD_HOST=h")
	o.Flags = map[string]any{"task.build.timeout": 90 * time.Second}
	c := mustLoad(t, o)

	back, text := reload(t, e, c)
	if got, want := forCompare(back), forCompare(c); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the config:\n got %+v\nwant %+v\n%s", got, want, text)
	}

	// Writing is stable and a fixed point.
	again, text2 := reload(t, e, back)
	if text2 != text || !reflect.DeepEqual(forCompare(again), forCompare(back)) {
		t.Errorf("second round trip differs:\n%s\n---\n%s", text, text2)
	}

	// Keys in template order, tasks sorted, standard keys first.
	var keys []string
	for _, line := range strings.Split(text, "\n") {
		if m := regexp.MustCompile(`^([\[\]a-z_.'" -]+?) ?=|^(\[.*\])$`).FindStringSubmatch(line); m != nil {
			keys = append(keys, strings.TrimSpace(m[1]+m[2]))
		}
	}
	want := []string{
		"flake", "host", "profile", "current_system", "booted_system", "elevate", "jobs", "state_dir", "keep_logs", "metrics_file",
		"log_max", "history_max",
		"[task.build]", "timeout",
		"[task.caches]", "date", "max_age", "nested", "'odd key'", "paths", "quote", "ratio", "when",
		"[task.disk]",
		"[task.vulnix]", "run", "needs", "after", "groups", "critical", "interactive", "enabled", "timeout",
	}
	// go-toml may quote keys either way; compare without quotes.
	unq := func(s []string) string { return strings.NewReplacer("'", "", `"`, "").Replace(strings.Join(s, ",")) }
	if unq(keys) != unq(want) {
		t.Errorf("key order:\n got %v\nwant %v\n%s", keys, want, text)
	}
	if !strings.Contains(text, `timeout = '1m30s'`) && !strings.Contains(text, `timeout = "1m30s"`) {
		t.Errorf("build timeout not written as a duration string:\n%s", text)
	}
}

func TestWriteTOMLDefaults(t *testing.T) {
	e := newEnv(t)
	c := mustLoad(t, e.opts())
	back, text := reload(t, e, c)
	if !reflect.DeepEqual(forCompare(back), forCompare(c)) {
		t.Errorf("defaults do not round trip:\n%s", text)
	}
	wantIn(t, text, "jobs = 0\n", "keep_logs = 20\n", "elevate = 'sudo'\n")
}

func TestWriteTOMLRejects(t *testing.T) {
	var b bytes.Buffer
	c := &Config{Tasks: map[string]Task{"Bad Name": {}}}
	if err := c.WriteTOML(&b); err == nil {
		t.Error("a task name that is not kebab-case was written")
	}
	c = &Config{Tasks: map[string]Task{"x": {Options: map[string]any{"f": func() {}}}}}
	if err := c.WriteTOML(&b); err == nil {
		t.Error("a value TOML cannot hold was written")
	}
}

func TestInitTemplate(t *testing.T) {
	e := newEnv(t)
	defaults := mustLoad(t, e.opts())

	tmpl := InitTemplate()
	o := e.opts()
	o.UserFile = writeFile(t, e.dir, "init.toml", tmpl)
	c := mustLoad(t, o)
	if !reflect.DeepEqual(forCompare(c), forCompare(defaults)) {
		t.Errorf("the template as written changes the config:\n got %+v\nwant %+v", c, defaults)
	}

	// Every key is documented: each one appears as a commented setting.
	for _, key := range append(specNames(topKeys), StandardTaskKeys()...) {
		if !regexp.MustCompile(`(?m)^#\s*` + key + `\s+=`).MatchString(tmpl) {
			t.Errorf("template does not document %s", key)
		}
	}

	// Uncommenting every setting gives a valid file with the same values.
	uncommented := regexp.MustCompile(`(?m)^#(\[|[a-z_]+ = )`).ReplaceAllString(tmpl, "$1")
	o.UserFile = writeFile(t, e.dir, "init-on.toml", uncommented)
	c = mustLoad(t, o)
	got := forCompare(c)
	got.Tasks = nil
	want := forCompare(defaults)
	want.Tasks = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("uncommented template changes top-level values:\n got %+v\nwant %+v", got, want)
	}
	if c.Tasks["build"].Timeout != 2*time.Hour || c.Tasks["vulnix"].Run != "vulnix --system" || c.Tasks["caches"].Options["paths"] == nil {
		t.Errorf("uncommented template tasks: %+v", c.Tasks)
	}
}

// builtinDocs stand in for the catalogue's OptionDocs.
var builtinDocs = []TaskOptions{
	{Name: "generations", Description: "delete old generations", Options: []OptionDoc{
		{Key: "keep", Doc: "keep the newest N"},
		{Key: "keep_since", Doc: "keep those younger"},
	}},
	{Name: "disk", Description: "find what grows", Options: []OptionDoc{
		{Key: "logs_root", Default: "~", Doc: "where the logs are"},
		{Key: "logs_depth", Default: int64(4), Doc: "how deep"},
		{Key: "json_skip", Default: []string{"IndexedDB"}, Doc: "folders not entered"},
	}},
	{Name: "diff", Description: "no options"},
}

// With the built-in tasks' options, show writes what each does with the
// options nobody set: its default, marked, or what unset means.
func TestWriteTOMLWithBuiltins(t *testing.T) {
	e := newEnv(t)
	e.user(`
[task.disk]
logs_depth = 6
timeout = "1h"

[task.generations]
keep = 10
keep_since = "14d"
`)
	c := mustLoad(t, e.opts())
	var b bytes.Buffer
	if err := c.WriteTOML(&b, builtinDocs...); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	wantIn(t, text, `
[task.disk]
timeout = '1h'
json_skip = ['IndexedDB']  # default
logs_depth = 6
logs_root = '~'  # default

[task.generations]
keep = 10
keep_since = '14d'
`)
	if strings.Contains(text, "[task.diff]") {
		t.Errorf("a task without options nor table was written:\n%s", text)
	}

	// Untouched, a task's table lists its defaults, and an option without
	// one says what unset means.
	b.Reset()
	if err := mustLoad(t, newEnv(t).opts()).WriteTOML(&b, builtinDocs...); err != nil {
		t.Fatal(err)
	}
	wantIn(t, b.String(), "\n[task.generations]\n# keep (not set): keep the newest N\n# keep_since (not set): keep those younger\n")

	// The output loads: the defaults become set values.
	o := e.opts()
	o.UserFile = writeFile(t, e.dir, "shown.toml", text)
	back := mustLoad(t, o)
	if d := back.Tasks["disk"]; d.Options["logs_root"] != "~" || d.Timeout != time.Hour {
		t.Errorf("reloaded disk %+v", d)
	}
}

func TestInitTemplateWithBuiltins(t *testing.T) {
	tmpl := InitTemplate(builtinDocs...)
	wantIn(t, tmpl, `
# generations: delete old generations
#[task.generations]
# keep (not set by default): keep the newest N
# keep_since (not set by default): keep those younger
#
# disk: find what grows
#[task.disk]
# logs_root: where the logs are
#logs_root = '~'
# logs_depth: how deep
#logs_depth = 4
# json_skip: folders not entered
#json_skip = ['IndexedDB']
`)
	if strings.Contains(tmpl, "[task.diff]") || strings.Contains(tmpl, "#[task.caches]") {
		t.Errorf("a task without options, or the examples, in:\n%s", tmpl)
	}
	// As written, and uncommented, it loads.
	e := newEnv(t)
	o := e.opts()
	o.UserFile = writeFile(t, e.dir, "init.toml", tmpl)
	if c := mustLoad(t, o); len(c.Tasks) != 0 {
		t.Errorf("the template as written sets tasks: %v", c.TaskNames())
	}
	uncommented := regexp.MustCompile(`(?m)^#(\[|[a-z_]+ = )`).ReplaceAllString(tmpl, "$1")
	o.UserFile = writeFile(t, e.dir, "init-on.toml", uncommented)
	c := mustLoad(t, o)
	if d := c.Tasks["disk"]; d.Options["logs_depth"] != int64(4) || c.Tasks["vulnix"].Run != "vulnix --system" {
		t.Errorf("uncommented: %+v", c.Tasks)
	}
	if g := c.Tasks["generations"]; len(g.Options) != 0 {
		t.Errorf("an option without a default was set: %v", g.Options)
	}
}
