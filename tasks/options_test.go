package tasks_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// sampleOptions has a field of every kind DecodeOptions reads.
type sampleOptions struct {
	Name  string   `option:"name" doc:"a name"`
	List  []string `option:"list" doc:"a list"`
	Count int      `option:"count" doc:"a count"`
	On    bool     `option:"on" doc:"a switch"`
	Limit *int     `option:"limit" doc:"a limit; unset: none"`
	Level level    `option:"level" doc:"low or high"`
	Given tasks.Given
	note  string // not an option
}

func defaultSample() sampleOptions {
	return sampleOptions{Name: "default", List: []string{"a"}, Count: 2, On: true, Level: "low", note: "kept"}
}

// Check refuses more than 10.
func (o sampleOptions) Check() error {
	if o.Count > 10 {
		return tasks.BadOption("count", o.Count, "too many", "at most 10")
	}
	return nil
}

// level is an OptionValue: "low" or "high".
type level string

func (l *level) SetOption(raw any) error {
	s, ok := raw.(string)
	if !ok || (s != "low" && s != "high") {
		return &tasks.Invalid{Msg: "not a level", Allowed: `"low" or "high"`}
	}
	*l = level(s)
	return nil
}

func (l *level) OptionTOML() any { return string(*l) }

// sample is a Configurable task with sampleOptions.
type sample struct{ opts sampleOptions }

func (s sample) Configure(t config.Task) (tasks.Task, error) {
	s.opts = defaultSample()
	err := tasks.DecodeOptions(t, &s.opts)
	return s, err
}

func (s sample) TaskOptions() any { return s.opts }

func (sample) Run(context.Context, *tasks.Env) error { return nil }

// layers loads a configuration from a file holding text, the REBUILD_*
// variables in environ and flags (named as in names), and returns its
// [task.sample] table and the file's path.
func layers(t *testing.T, text string, environ []string, flags map[string]any, names map[string]string) (config.Task, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{SystemFile: "-", UserFile: file, Home: dir,
		Environ: append([]string{"HOME=" + dir}, environ...), Flags: flags, FlagNames: names})
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.Tasks["sample"]
	tc.Name = "sample"
	return tc, file
}

func configure(t *testing.T, tc config.Task) (sampleOptions, error) {
	t.Helper()
	task, err := sample{}.Configure(tc)
	return task.(sample).opts, err
}

func TestDecodeOptionsKeepsDefaults(t *testing.T) {
	got, err := configure(t, config.Task{Name: "sample"})
	if err != nil {
		t.Fatal(err)
	}
	want := defaultSample()
	want.Given = tasks.Given{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDecodeOptionsFromAFile(t *testing.T) {
	tc, file := layers(t, `
[task.sample]
name = "mine"
list = []
count = 7
on = false
limit = 3
level = "high"
`, nil, nil, nil)
	got, err := configure(t, tc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "mine" || got.List == nil || len(got.List) != 0 || got.Count != 7 || got.On || got.Limit == nil || *got.Limit != 3 || got.Level != "high" {
		t.Errorf("decoded %+v", got)
	}
	if got.note != "kept" {
		t.Error("a field that is not an option was reset")
	}
	for _, key := range []string{"name", "list", "count", "on", "limit", "level"} {
		if !got.Given.Has(key) || got.Given.Source(key) != file {
			t.Errorf("given %s: %v %q", key, got.Given.Has(key), got.Given.Source(key))
		}
	}
}

// Text from the environment and flags is parsed as the field's type.
func TestDecodeOptionsFromTheEnvironmentAndFlags(t *testing.T) {
	tc, _ := layers(t, "", []string{"REBUILD_TASK__SAMPLE__COUNT=9", "REBUILD_TASK__SAMPLE__LIST=x, y", "REBUILD_TASK__SAMPLE__ON=false"},
		map[string]any{"task.sample.limit": "4", "task.sample.level": "high"}, map[string]string{"task.sample.limit": "--limit"})
	got, err := configure(t, tc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != 9 || strings.Join(got.List, ",") != "x,y" || got.On || got.Limit == nil || *got.Limit != 4 || got.Level != "high" {
		t.Errorf("decoded %+v", got)
	}
	if s := got.Given.Source("count"); s != config.SourceEnvironment {
		t.Errorf("count from %q", s)
	}
	if s := got.Given.Source("limit"); s != "flag --limit" {
		t.Errorf("limit from %q", s)
	}
	if s := got.Given.Source("level"); s != config.SourceFlags {
		t.Errorf("level from %q", s)
	}
	if got.Given.Has("name") || got.Given.Source("name") != config.SourceDefaults {
		t.Errorf("name given: %v", got.Given)
	}
}

// Every refusal is a *config.Error that names where the value was set:
// the file, the variable, the flag.
func TestDecodeOptionsErrorsNameTheirSource(t *testing.T) {
	names := map[string]string{"task.sample.level": "--level", "task.sample.count": "--count"}
	for _, c := range []struct {
		name    string
		file    string
		environ []string
		flags   map[string]any
		want    string // after the file's path, or the whole message
	}{
		{"unknown key", "[task.sample]\ncuont = 1\n", nil, nil,
			`<file>: unknown key "task.sample.cuont" (did you mean "count"?); known keys: after, count, critical, enabled, gate, groups, interactive, level, limit, list, name, needs, on, run, timeout`},
		{"wrong type in a file", "[task.sample]\ncount = \"3\"\n", nil, nil,
			`<file>: task.sample.count = "3": not an integer; allowed: a whole number`},
		{"option value in a file", "[task.sample]\nlevel = \"medium\"\n", nil, nil,
			`<file>: task.sample.level = "medium": not a level; allowed: "low" or "high"`},
		{"check in a file", "[task.sample]\ncount = 11\n", nil, nil,
			`<file>: task.sample.count = 11: too many; allowed: at most 10`},
		{"variable", "", []string{"REBUILD_TASK__SAMPLE__COUNT=many"}, nil,
			`environment: REBUILD_TASK__SAMPLE__COUNT = "many": not an integer; allowed: a whole number`},
		{"check of a variable", "", []string{"REBUILD_TASK__SAMPLE__COUNT=12"}, nil,
			`environment: REBUILD_TASK__SAMPLE__COUNT = 12: too many; allowed: at most 10`},
		{"unknown variable key", "", []string{"REBUILD_TASK__SAMPLE__CUONT=1"}, nil,
			`environment: unknown key "REBUILD_TASK__SAMPLE__CUONT" (did you mean "REBUILD_TASK__SAMPLE__COUNT"?)`},
		{"named flag", "", nil, map[string]any{"task.sample.level": "7x"},
			`flag --level: task.sample.level = "7x": not a level; allowed: "low" or "high"`},
		{"check of a named flag", "", nil, map[string]any{"task.sample.count": 20},
			`flag --count: task.sample.count = 20: too many; allowed: at most 10`},
		{"unnamed flag", "", nil, map[string]any{"task.sample.on": "perhaps"},
			`flags: task.sample.on = "perhaps": not a boolean; allowed: true or false`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc, file := layers(t, c.file, c.environ, c.flags, names)
			_, err := configure(t, tc)
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want a *config.Error", err, err)
			}
			want := strings.ReplaceAll(c.want, "<file>", file)
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error\n %s\nwant\n %s", err, want)
			}
		})
	}
}

// A Check that refuses a key nobody set blames the defaults (or the
// layer that set the task's other keys).
func TestDecodeOptionsCheckOfADefault(t *testing.T) {
	var o struct {
		Min int `option:"min"`
		Max int `option:"max"`
	}
	err := tasks.DecodeOptions(config.Task{Name: "x"}, &o)
	if err != nil {
		t.Fatal(err)
	}
	o2 := rangeOptions{Min: 5, Max: 1}
	err = tasks.DecodeOptions(config.Task{Name: "x"}, &o2)
	if err == nil || err.Error() != `defaults: task.x.max = 1: below min; allowed: at least 5` {
		t.Errorf("err = %v", err)
	}
	// A plain error from Check names the task.
	p := plainCheck{}
	err = tasks.DecodeOptions(config.Task{Name: "x", File: "c.toml"}, &p)
	var ce *config.Error
	if !errors.As(err, &ce) || err.Error() != "c.toml: task.x: nothing works" {
		t.Errorf("err = %v", err)
	}
}

type rangeOptions struct {
	Min int `option:"min"`
	Max int `option:"max"`
}

func (o *rangeOptions) Check() error {
	if o.Max < o.Min {
		return tasks.BadOption("max", o.Max, "below min", "at least "+strconv.Itoa(o.Min))
	}
	return nil
}

type plainCheck struct{}

func (plainCheck) Check() error { return errors.New("nothing works") }

func TestDescribeOptions(t *testing.T) {
	got := tasks.DescribeOptions(sample{})
	want := []config.OptionDoc{
		{Key: "name", Default: "default", Doc: "a name"},
		{Key: "list", Default: []string{"a"}, Doc: "a list"},
		{Key: "count", Default: int64(2), Doc: "a count"},
		{Key: "on", Default: true, Doc: "a switch"},
		{Key: "limit", Default: nil, Doc: "a limit; unset: none"},
		{Key: "level", Default: "low", Doc: "low or high"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	spec := tasks.Spec{Name: "sample", Task: sample{}}
	if keys := spec.OptionKeys(); strings.Join(keys, ",") != "name,list,count,on,limit,level" {
		t.Errorf("OptionKeys %q", keys)
	}
}

// A task that is not Configurable takes no option key.
func TestSpecConfigureWithoutOptions(t *testing.T) {
	spec := tasks.Spec{Name: "diff", Task: tasks.Func(func(context.Context, *tasks.Env) error { return nil })}
	if task, err := spec.Configure(config.Task{}); err != nil || task == nil {
		t.Errorf("no table: %v", err)
	}
	_, err := spec.Configure(config.Task{Options: map[string]any{"x": 1}, File: "c.toml"})
	if err == nil || !strings.Contains(err.Error(), `c.toml: unknown key "task.diff.x" (task diff has no options)`) {
		t.Errorf("err = %v", err)
	}
	if spec.OptionKeys() != nil {
		t.Errorf("OptionKeys %q", spec.OptionKeys())
	}
	// Configure names the key after the spec, whatever the table says.
	sp := tasks.Spec{Name: "sample", Task: sample{}}
	_, err = sp.Configure(config.Task{Options: map[string]any{"count": int64(50)}, File: "c.toml"})
	if err == nil || !strings.HasPrefix(err.Error(), "c.toml: task.sample.count = 50") {
		t.Errorf("err = %v", err)
	}
}

// A field the decoder cannot read is a bug of the task, found at once.
func TestDecodeOptionsUnsupportedField(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "cannot be decoded") {
			t.Errorf("recovered %v", r)
		}
	}()
	var o struct {
		Ratio float64 `option:"ratio"`
	}
	_ = tasks.DecodeOptions(config.Task{Name: "x"}, &o)
}

// A policy outside its words is refused with every word allowed, quoted.
func TestOneOf(t *testing.T) {
	if err := tasks.OneOf("policy", "ask", "ask", "skip"); err != nil {
		t.Errorf("ask refused: %v", err)
	}
	err := tasks.OneOf("policy", "sometimes", "ask", "skip")
	var inv *tasks.Invalid
	if !errors.As(err, &inv) || inv.Key != "policy" || inv.Value != "sometimes" || inv.Allowed != `"ask", "skip"` {
		t.Errorf("OneOf = %#v", err)
	}
}
