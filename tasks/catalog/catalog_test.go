package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
	"github.com/rebuild-nixos/rebuild/tasks/shell"
)

// load writes text as the user file and loads it with env.
func load(t *testing.T, text string, environ ...string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{SystemFile: "-", UserFile: file, Home: dir, Hostname: "h",
		Environ: append([]string{"HOME=" + dir}, environ...)})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, file
}

func byName(specs []tasks.Spec) map[string]tasks.Spec {
	m := map[string]tasks.Spec{}
	for _, s := range specs {
		m[s.Name] = s
	}
	return m
}

func names(specs []tasks.Spec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	return out
}

func noop(context.Context, *tasks.Env) error { return nil }

// A small catalogue: a ─▶ b, b after c (not registered), and d.
func small() []tasks.Spec {
	return []tasks.Spec{
		{Name: "a", Phase: 1, Groups: []string{"g"}, Task: tasks.Func(noop)},
		{Name: "b", Phase: 2, Needs: []string{"a"}, After: []string{"c"}, Task: tasks.Func(noop)},
		{Name: "d", Task: tasks.Func(noop)},
	}
}

func TestAssembleWithoutConfiguration(t *testing.T) {
	cfg, _ := load(t, "")
	specs, err := Assemble(cfg, small(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(specs); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("specs %q", got)
	}
	// An after edge to a built-in task not registered is dropped; the
	// registered ones stay.
	if b := byName(specs)["b"]; len(b.After) != 0 || !slices.Equal(b.Needs, []string{"a"}) || b.Source != "" {
		t.Errorf("b %+v", b)
	}
}

func TestAssembleMergesATaskTable(t *testing.T) {
	builtins := small()
	cfg, file := load(t, `
[task.a]
timeout = "2h"
critical = true
groups = ["mine", "g"]
after = ["d"]
[task.d]
enabled = false
`)
	specs, err := Assemble(cfg, builtins, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, d := byName(specs)["a"], byName(specs)["d"]
	if a.Timeout != 2*time.Hour || !a.Critical || !slices.Equal(a.Groups, []string{"g", "mine"}) ||
		!slices.Equal(a.After, []string{"d"}) || a.Source != file {
		t.Errorf("a %+v", a)
	}
	if !d.Disabled || d.Source != file {
		t.Errorf("d %+v", d)
	}
	// The registered specs are not changed.
	if len(builtins[0].Groups) != 1 || builtins[0].Timeout != 0 {
		t.Errorf("builtins changed: %+v", builtins[0])
	}
}

func TestAssembleUserTasks(t *testing.T) {
	cfg, file := load(t, `
[task.zz]
run = "echo z"
after = ["mine"]
[task.mine]
run = "make check"
needs = ["a"]
groups = ["checks"]
interactive = true
timeout = "5m"
`)
	specs, err := Assemble(cfg, small(), Options{UserDir: "/flake"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(specs); !slices.Equal(got, []string{"a", "b", "d", "mine", "zz"}) {
		t.Errorf("order %q: built-ins first, then user tasks by name", got)
	}
	mine := byName(specs)["mine"]
	want := shell.Task{Command: "make check", Dir: "/flake", Interactive: true}
	if !mine.User || !mine.Interactive || mine.Timeout != 5*time.Minute || mine.Source != file || mine.Task != want ||
		!slices.Equal(mine.Needs, []string{"a"}) || !slices.Equal(mine.Groups, []string{"checks"}) {
		t.Errorf("mine %+v", mine)
	}
}

func TestAssembleNoUpdate(t *testing.T) {
	cfg, _ := load(t, "")
	specs, err := Assemble(cfg, Builtins(), Options{NoUpdate: true})
	if err != nil {
		t.Fatal(err)
	}
	if fu := byName(specs)["flake-update"]; !fu.Disabled || fu.DisabledReason != "--no-update" {
		t.Errorf("flake-update %+v", fu)
	}
}

// Every mistake in a task table is a *config.Error naming the file and
// the key.
func TestAssembleErrors(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"run on a built-in", "[task.a]\nrun = \"x\"\n", `task.a.run: "a" is a built-in task; a task of your own needs another name`},
		{"interactive on a built-in", "[task.a]\ninteractive = true\n", `task.a.interactive: cannot be changed for a built-in task`},
		{"neither built in nor run", "[task.bb]\ntimeout = \"1h\"\n", `[task.bb] is not a built-in task, and has no run = "…" to be a task of your own`},
		// A typo of a built-in task's name is its own table: it is among
		// the names a suggestion is looked for in, and must not hide the
		// suggestion.
		{"typo of a built-in", "[task.dd]\ntimeout = \"1h\"\n", `[task.dd] is not a built-in task, and has no run = "…" to be a task of your own (did you mean "d"?)`},
		{"unknown edge", "[task.x]\nrun = \"true\"\nneeds = [\"dd\"]\n", `task.x.needs: unknown task "dd" (did you mean "d"?); tasks: a, b, d, x`},
		{"option of a task without options", "[task.d]\ncolor = true\n", `unknown key "task.d.color" (task d has no options)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, file := load(t, c.text)
			_, err := Assemble(cfg, small(), Options{})
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != file || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %s: …%s", err, file, c.want)
			}
		})
	}
}

// badOptions is a bad option of every built-in task, as a [task.NAME]
// table's body, and what the error says about it.
var badOptions = map[string][2]string{
	"flake-update":        {`inputs = "nixpkgs"`, `task.flake-update.inputs = "nixpkgs": not a list of strings`},
	"build":               {`env = ["UNFREE"]`, `task.build.env = "UNFREE": not KEY=VALUE`},
	"copy":                {`substitute_on_destination = "yes"`, `task.copy.substitute_on_destination = "yes": not a boolean`},
	"diff":                {`color = true`, `unknown key "task.diff.color" (task diff has no options)`},
	"activate":            {`ask = "yes"`, `task.activate.ask = "yes": not a boolean`},
	"claude-config":       {`command = ""`, `task.claude-config.command = "": empty`},
	"mcp-analytics":       {`days = 0`, `task.mcp-analytics.days = 0: not allowed; allowed: a whole number ≥ 1`},
	"tool-analytics":      {`days = -3`, `task.tool-analytics.days = -3: not allowed`},
	"learn-permissions":   {`days = 0`, `task.learn-permissions.days = 0: not allowed`},
	"learn-mcp":           {`claude_json = 1`, `task.learn-mcp.claude_json = 1: not a string`},
	"learn-context":       {`days = "30"`, `task.learn-context.days = "30": not an integer`},
	"learn-workflows":     {`learning_dir = []`, `task.learn-workflows.learning_dir = []: not a string`},
	"learn-instructions":  {`claude_json = "~/.claude.json"`, `unknown key "task.learn-instructions.claude_json"`},
	"learn-cross-project": {`days = 0`, `task.learn-cross-project.days = 0: not allowed`},
	"learn-meta":          {`days = -1`, `task.learn-meta.days = -1: not allowed`},
	"learn-review":        {`max_suggestions = 0`, `task.learn-review.max_suggestions = 0: not allowed`},
	"accept":              {`add_untracked = true`, `unknown key "task.accept.add_untracked" (task accept has no options)`},
	"commit":              {`add_untracked = "yes"`, `task.commit.add_untracked = "yes": not a boolean`},
	"generations":         {`keep_since = "a week"`, `task.generations.keep_since = "a week": not an age`},
	"health":              {`wait_timeout = "soon"`, `task.health.wait_timeout = "soon": not a duration`},
	"disk":                {`logs_depth = 0`, `task.disk.logs_depth = 0: must be at least 1`},
	"caches":              {`policy = "sometimes"`, `task.caches.policy = "sometimes": not a known value; allowed: "ask", "clean", "skip"`},
	"sessions":            {`archive = "yes"`, `task.sessions.archive = "yes": not a boolean`},
	"backups":             {`older_than_days = -1`, `task.backups.older_than_days = -1: negative`},
	"push":                {`remote = "origin"`, `unknown key "task.push.remote" (task push has no options)`},
}

// A bad option of any built-in task is an error of Assemble, before
// anything runs, naming the file, the key and the value.
func TestAssembleBadOptionOfEveryBuiltin(t *testing.T) {
	builtins := Builtins()
	if got, want := len(badOptions), len(builtins); got != want {
		t.Errorf("badOptions has %d tasks, the catalogue %d: give every task a bad option", got, want)
	}
	for _, sp := range builtins {
		t.Run(sp.Name, func(t *testing.T) {
			bad, ok := badOptions[sp.Name]
			if !ok {
				t.Fatalf("no bad option for %s", sp.Name)
			}
			cfg, file := load(t, "[task."+sp.Name+"]\n"+bad[0]+"\n")
			_, err := Assemble(cfg, Builtins(), Options{})
			var ce *config.Error
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), file+": "+bad[1]) {
				t.Errorf("err = %v\nwant %s: %s", err, file, bad[1])
			}
		})
	}
}

// A task the configuration disables is not run: its values are not
// checked, but an unknown key is still a mistake.
func TestAssembleDisabledTaskOptions(t *testing.T) {
	cfg, _ := load(t, "[task.generations]\nenabled = false\nkeep_since = \"a week\"\n")
	if _, err := Assemble(cfg, Builtins(), Options{}); err != nil {
		t.Errorf("disabled task's value checked: %v", err)
	}
	cfg, _ = load(t, "[task.generations]\nenabled = false\nkeep_for = \"1w\"\n")
	if _, err := Assemble(cfg, Builtins(), Options{}); err == nil || !strings.Contains(err.Error(), `unknown key "task.generations.keep_for"`) {
		t.Errorf("unknown key of a disabled task: %v", err)
	}
}

// The task Assemble returns runs with the options of every layer: a
// file's, and the environment's over it.
func TestAssembleBindsOptions(t *testing.T) {
	cfg, _ := load(t, "[task.generations]\nkeep = 2\nkeep_since = \"7d\"\n", "REBUILD_TASK__GENERATIONS__KEEP=4")
	specs, err := Assemble(cfg, Builtins(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	gen := byName(specs)["generations"].Task.(tasks.Configurable).TaskOptions().(nixos.GenerationsOptions)
	if gen.Keep == nil || *gen.Keep != 4 || gen.KeepSince == nil || time.Duration(*gen.KeepSince) != 7*24*time.Hour {
		t.Errorf("generations options %+v", gen)
	}
	// The registered task keeps its defaults.
	reg := byName(Builtins())["generations"].Task.(tasks.Configurable).TaskOptions().(nixos.GenerationsOptions)
	if reg.Keep != nil || reg.KeepSince != nil {
		t.Errorf("registered generations %+v", reg)
	}
}

// Every built-in task's options have defaults that pass its own check,
// their keys are lower-case, and each is documented.
func TestOptionDocs(t *testing.T) {
	docs := OptionDocs(Builtins())
	if len(docs) != 22 {
		t.Errorf("%d tasks with options, want 22 (every built-in but diff, accept and push)", len(docs))
	}
	for _, d := range docs {
		sp := byName(Builtins())[d.Name]
		var keys []string
		for _, o := range d.Options {
			keys = append(keys, o.Key)
			if o.Doc == "" || !regexp.MustCompile(`^[a-z][a-z_]*$`).MatchString(o.Key) {
				t.Errorf("%s.%s: doc %q", d.Name, o.Key, o.Doc)
			}
		}
		if !slices.Equal(keys, sp.OptionKeys()) || d.Description != sp.Description {
			t.Errorf("%s: keys %q, OptionKeys %q", d.Name, keys, sp.OptionKeys())
		}
		if _, err := sp.Configure(config.Task{}); err != nil {
			t.Errorf("%s: the defaults fail: %v", d.Name, err)
		}
	}
}

// The template of `rebuild config init` lists every option of every
// built-in task with its default; uncommented, it changes no task's
// options.
func TestInitTemplateWithEveryOption(t *testing.T) {
	docs := OptionDocs(Builtins())
	tmpl := config.InitTemplate(docs...)
	for _, d := range docs {
		if !strings.Contains(tmpl, "#[task."+d.Name+"]\n") {
			t.Errorf("no [task.%s]", d.Name)
		}
		for _, o := range d.Options {
			if !regexp.MustCompile(`(?m)^#\s*` + o.Key + `\b`).MatchString(tmpl[strings.Index(tmpl, "#[task."+d.Name+"]"):]) {
				t.Errorf("%s.%s not in the template", d.Name, o.Key)
			}
		}
	}
	defaults, _ := load(t, "")
	want, err := Assemble(defaults, Builtins(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	uncommented := regexp.MustCompile(`(?m)^#(\[|[a-z_]+ = )`).ReplaceAllString(tmpl, "$1")
	cfg, _ := load(t, uncommented)
	got, err := Assemble(cfg, Builtins(), Options{})
	if err != nil {
		t.Fatalf("the uncommented template: %v", err)
	}
	for _, sp := range got {
		c, ok := sp.Task.(tasks.Configurable)
		if !ok {
			continue
		}
		w := byName(want)[sp.Name].Task.(tasks.Configurable).TaskOptions()
		g := c.TaskOptions()
		// Given records that the keys were set; the values must match.
		if !reflect.DeepEqual(withoutGiven(g), withoutGiven(w)) {
			t.Errorf("%s: uncommented %+v, defaults %+v", sp.Name, g, w)
		}
	}
}

// withoutGiven drops the Given field of an options struct.
func withoutGiven(o any) any {
	v := reflect.ValueOf(o)
	cp := reflect.New(v.Type()).Elem()
	cp.Set(v)
	for i := range cp.NumField() {
		if cp.Type().Field(i).Type == reflect.TypeFor[tasks.Given]() {
			cp.Field(i).Set(reflect.Zero(cp.Field(i).Type()))
		}
	}
	return cp.Interface()
}
