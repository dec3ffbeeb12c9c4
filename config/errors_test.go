package config

import (
	"errors"
	"strings"
	"testing"

	gotoml "github.com/pelletier/go-toml/v2"
)

// Every bad file names the file, the key, the value and what is allowed.
func TestFileErrors(t *testing.T) {
	cases := []struct {
		name    string
		content string
		key     string
		want    []string
	}{
		{"unknown key", "jbos = 4\n", "jbos", []string{
			`: unknown key "jbos" (did you mean "jobs"?); known keys: booted_system, current_system, elevate, flake, history_max, host, jobs, keep_logs, log_max, metrics_file, parallel_hosts, profile, rollout, state_dir, task`}},
		{"unknown key without a near one", "colour = true\n", "colour", []string{
			`: unknown key "colour"; known keys: booted_system,`}},
		{"elevate", `elevate = "su"` + "\n", "elevate", []string{
			`: elevate = "su": not allowed; allowed: sudo, doas, run0, none`}},
		{"elevate type", "elevate = 1\n", "elevate", []string{
			`: elevate = 1: not a string; allowed: sudo, doas, run0, none`}},
		{"negative jobs", "jobs = -1\n", "jobs", []string{
			`: jobs = -1: too small; allowed: a whole number ≥ 0`}},
		{"jobs as a string", `jobs = "4"` + "\n", "jobs", []string{
			`: jobs = "4": not an integer; allowed: a whole number ≥ 0`}},
		{"jobs as a float", "jobs = 4.5\n", "jobs", []string{
			`: jobs = 4.5: not an integer`}},
		{"log_max", `log_max = "lots"` + "\n", "log_max", []string{
			`: log_max = "lots": not a size; allowed: a size such as "50MiB", "2GiB", "800KiB", or a number of bytes; 0 for no limit`}},
		{"history_max negative", "history_max = -1\n", "history_max", []string{
			`: history_max = -1: negative; allowed: a size such as`}},
		{"keep_logs 0", "keep_logs = 0\n", "keep_logs", []string{
			`: keep_logs = 0: too small; allowed: a whole number ≥ 1`}},
		{"flake type", "flake = 3\n", "flake", []string{
			`: flake = 3: not a string; allowed: a path`}},
		{"flake empty", `flake = ""` + "\n", "flake", []string{
			`: flake = "": empty; allowed: a path`}},
		{"host type", "host = [1]\n", "host", []string{
			`: host = [1]: not a string; allowed: a string`}},
		{"task not a table", "task = 5\n", "task", []string{
			`: task = 5: not a table; allowed: [task.NAME] tables`}},
		{"task entry not a table", "[task]\nbuild = 5\n", "task.build", []string{
			`: task.build = 5: not a table`}},
		{"task name", "[task.Flake_Update]\n", "task.Flake_Update", []string{
			`task name "Flake_Update" is not kebab-case`}},
		{"timeout", "[task.build]\ntimeout = \"soon\"\n", "task.build.timeout", []string{
			`: task.build.timeout = "soon": not a duration; allowed: e.g. "90s", "2h"`}},
		{"timeout zero", "[task.build]\ntimeout = \"0s\"\n", "task.build.timeout", []string{
			`: task.build.timeout = "0s": not greater than 0; allowed: e.g. "90s", "2h"`}},
		{"timeout number", "[task.build]\ntimeout = 90\n", "task.build.timeout", []string{
			`: task.build.timeout = 90: not a duration`}},
		{"empty run", "[task.vulnix]\nrun = \"\"\n", "task.vulnix.run", []string{
			`: task.vulnix.run = "": empty; allowed: a shell command line`}},
		{"run type", "[task.vulnix]\nrun = [\"a\"]\n", "task.vulnix.run", []string{
			`: task.vulnix.run = ["a"]: not a string`}},
		{"needs a string", "[task.x]\nneeds = \"build\"\n", "task.x.needs", []string{
			`: task.x.needs = "build": not a list of strings; allowed: a list of kebab-case names`}},
		{"needs a bad name", "[task.x]\nneeds = [\"Build\"]\n", "task.x.needs", []string{
			`: task.x.needs = ["Build"]: "Build" is not a kebab-case name; allowed: a list of kebab-case names`}},
		{"groups of numbers", "[task.x]\ngroups = [1]\n", "task.x.groups", []string{
			`: task.x.groups = [1]: not a list of strings`}},
		{"critical", "[task.x]\ncritical = \"yes\"\n", "task.x.critical", []string{
			`: task.x.critical = "yes": not a boolean; allowed: true or false`}},
		{"user task option", "[task.vulnix]\nrun = \"vulnix\"\npahts = [\"/x\"]\n", "task.vulnix.pahts", []string{
			`: unknown key "task.vulnix.pahts" (a task with run has no options); known keys: after, critical, enabled, gate, groups, interactive, needs, run, timeout`}},
		{"user task typo", "[task.vulnix]\nrun = \"vulnix\"\nneds = [\"build\"]\n", "task.vulnix.neds", []string{
			`(a task with run has no options; did you mean "needs"?)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.user(c.content)
			err := loadError(t, e.opts())
			if err.File != p {
				t.Errorf("File = %q, want %q", err.File, p)
			}
			if err.Key != c.key {
				t.Errorf("Key = %q, want %q", err.Key, c.key)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, p+": ") {
				t.Errorf("%q does not start with the file", msg)
			}
			wantIn(t, msg, c.want...)
		})
	}
}

func TestSyntaxError(t *testing.T) {
	e := newEnv(t)
	p := e.user("jobs = 2\nflake = \"/a\"\nhost = [\n")
	err := loadError(t, e.opts())
	if err.File != p || err.Line != 3 {
		t.Errorf("File %q Line %d, want %q line 3", err.File, err.Line, p)
	}
	wantIn(t, err.Error(), p+": line 3, column", "TOML syntax error")
	var de *gotoml.DecodeError
	if !errors.As(err, &de) {
		t.Errorf("the decode error is not wrapped: %#v", err.Err)
	}

	p = e.user("jobs = 1\njobs = 2\n")
	err = loadError(t, e.opts())
	wantIn(t, err.Error(), p+": line 2", "already defined")
}

// An unknown key names the file that holds it, not the last one read.
func TestUnknownKeyNamesItsFile(t *testing.T) {
	e := newEnv(t)
	sys := e.system("jbos = 1\n")
	usr := e.user("jobs = 2\n")
	o := e.opts()
	o.SystemFile = sys
	err := loadError(t, o)
	if err.File != sys {
		t.Errorf("File = %q, want the system file %q", err.File, sys)
	}
	wantIn(t, err.Error(), sys+`: unknown key "jbos"`)

	e.system("jobs = 1\n")
	e.user("[task.build]\ntimeout = \"1h\"\n\n[task.x]\nrun = \"true\"\ncritical = 2\n")
	err = loadError(t, o)
	if err.File != usr {
		t.Errorf("File = %q, want the user file %q", err.File, usr)
	}
	wantIn(t, err.Error(), usr+": task.x.critical = 2: not a boolean")
}

// A task that gets run in one file and an option in another: the option's
// file is named, and so is the file that made it a task of the user's own.
func TestUserTaskAcrossFiles(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.SystemFile = e.system("[task.foo]\nlevel = 3\n")
	usr := e.user("[task.foo]\nrun = \"foo\"\n")
	err := loadError(t, o)
	if err.File != o.SystemFile {
		t.Errorf("File = %q, want %q", err.File, o.SystemFile)
	}
	wantIn(t, err.Error(), `unknown key "task.foo.level"`, "has run, set in "+usr)
}

func TestEnvironmentErrors(t *testing.T) {
	cases := []struct {
		name string
		vars []string
		key  string
		want []string
	}{
		{"jobs", []string{"REBUILD_JOBS=many"}, "REBUILD_JOBS", []string{
			`environment: REBUILD_JOBS = "many": not an integer; allowed: a whole number ≥ 0`}},
		{"keep_logs", []string{"REBUILD_KEEP_LOGS=0"}, "REBUILD_KEEP_LOGS", []string{
			`environment: REBUILD_KEEP_LOGS = "0": too small; allowed: a whole number ≥ 1`}},
		{"elevate", []string{"REBUILD_ELEVATE=su"}, "REBUILD_ELEVATE", []string{
			`environment: REBUILD_ELEVATE = "su": not allowed; allowed: sudo, doas, run0, none`}},
		{"typo", []string{"REBUILD_JBOS=4"}, "REBUILD_JBOS", []string{
			`environment: unknown variable REBUILD_JBOS (did you mean REBUILD_JOBS?); known variables: REBUILD_BOOTED_SYSTEM, REBUILD_CONFIG,`,
			"REBUILD_TASK__<NAME>__<KEY>"}},
		{"lower case", []string{"REBUILD_jobs=4"}, "REBUILD_jobs", []string{
			`unknown variable REBUILD_jobs (did you mean REBUILD_JOBS?)`}},
		{"config typo", []string{"REBUILD_CONFG=/x"}, "REBUILD_CONFG", []string{
			`(did you mean REBUILD_CONFIG?)`}},
		{"task with single underscores", []string{"REBUILD_TASK_BUILD_TIMEOUT=1h"}, "REBUILD_TASK_BUILD_TIMEOUT", []string{
			`unknown variable REBUILD_TASK_BUILD_TIMEOUT (task keys are REBUILD_TASK__<NAME>__<KEY>)`}},
		{"task without key", []string{"REBUILD_TASK__BUILD=1h"}, "REBUILD_TASK__BUILD", []string{
			`malformed task variable REBUILD_TASK__BUILD`}},
		{"task lower case", []string{"REBUILD_TASK__build__TIMEOUT=1h"}, "REBUILD_TASK__build__TIMEOUT", []string{
			`malformed task variable`}},
		{"task timeout", []string{"REBUILD_TASK__FLAKE_UPDATE__TIMEOUT=soon"}, "REBUILD_TASK__FLAKE_UPDATE__TIMEOUT", []string{
			`environment: REBUILD_TASK__FLAKE_UPDATE__TIMEOUT = "soon": not a duration; allowed: e.g. "90s", "2h"`}},
		{"task bool", []string{"REBUILD_TASK__BUILD__CRITICAL=maybe"}, "REBUILD_TASK__BUILD__CRITICAL", []string{
			`not a boolean; allowed: true or false`}},
		{"task needs", []string{"REBUILD_TASK__BUILD__NEEDS=a,B"}, "REBUILD_TASK__BUILD__NEEDS", []string{
			`environment: REBUILD_TASK__BUILD__NEEDS = "a,B": "B" is not a kebab-case name`}},
		{"empty run", []string{"REBUILD_TASK__X__RUN= "}, "REBUILD_TASK__X__RUN", []string{
			`REBUILD_TASK__X__RUN = " ": empty`}},
		{"user task option", []string{"REBUILD_TASK__X__RUN=true", "REBUILD_TASK__X__LEVEL=3"}, "REBUILD_TASK__X__LEVEL", []string{
			`environment: unknown key "REBUILD_TASK__X__LEVEL" (a task with run has no options)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			o := e.opts()
			o.Environ = append(o.Environ, c.vars...)
			err := loadError(t, o)
			if err.File != SourceEnvironment {
				t.Errorf("File = %q, want environment", err.File)
			}
			if err.Key != c.key {
				t.Errorf("Key = %q, want %q", err.Key, c.key)
			}
			wantIn(t, err.Error(), c.want...)
		})
	}
}

func TestFlagErrors(t *testing.T) {
	cases := []struct {
		flags map[string]any
		want  []string
	}{
		{map[string]any{"jbos": 1}, []string{`flags: unknown key "jbos" (did you mean "jobs"?)`, "task.NAME.KEY"}},
		{map[string]any{"jobs": "x"}, []string{`flags: jobs = "x": not an integer`}},
		{map[string]any{"jobs": -2}, []string{`flags: jobs = -2: too small`}},
		{map[string]any{"elevate": "su"}, []string{`flags: elevate = "su": not allowed; allowed: sudo, doas, run0, none`}},
		{map[string]any{"task.Build.timeout": "1h"}, []string{`flags: task name "Build" is not kebab-case`}},
		{map[string]any{"task.build": "1h"}, []string{`flags: malformed task key "task.build"`}},
		{map[string]any{"task.build.timeout": "soon"}, []string{`flags: task.build.timeout = "soon": not a duration`}},
		{map[string]any{"task.build.x": struct{}{}}, []string{`flags: task.build.x = {}: unsupported type struct {}`}},
	}
	for _, c := range cases {
		e := newEnv(t)
		o := e.opts()
		o.Flags = c.flags
		err := loadError(t, o)
		if err.File != SourceFlags {
			t.Errorf("%v: File = %q, want flags", c.flags, err.File)
		}
		wantIn(t, err.Error(), c.want...)
	}
}

// A named flag is the source of what it sets: its errors, and those a
// task finds later in its value, name the flag the person typed.
func TestNamedFlagErrors(t *testing.T) {
	names := map[string]string{"elevate": "--elevate", "task.generations.keep_since": "--keep-since", "task.activate.ask": "--ask"}
	for _, c := range []struct {
		flags map[string]any
		want  string
	}{
		{map[string]any{"elevate": "su"}, `flag --elevate: elevate = "su": not allowed; allowed: sudo, doas, run0, none`},
		{map[string]any{"task.activate.ask": struct{}{}}, `flag --ask: task.activate.ask = {}: unsupported type struct {}; allowed: a string, number, boolean or list of strings`},
	} {
		e := newEnv(t)
		o := e.opts()
		o.Flags, o.FlagNames = c.flags, names
		err := loadError(t, o)
		if err.Error() != c.want || err.File != FlagSource(names[err.Key]) {
			t.Errorf("%v: %q (file %q), want %q", c.flags, err.Error(), err.File, c.want)
		}
	}

	e := newEnv(t)
	o := e.opts()
	o.Flags, o.FlagNames = map[string]any{"task.generations.keep_since": "7x", "task.generations.keep": "3"}, names
	c := mustLoad(t, o)
	g := c.Tasks["generations"]
	if g.Source("keep_since") != "flag --keep-since" || g.Source("keep") != SourceFlags {
		t.Errorf("sources %q %q", g.Source("keep_since"), g.Source("keep"))
	}
	// The value came as text: it is read as the getter's type.
	if n, err := g.Int("keep", 0); n != 3 || err != nil {
		t.Errorf("keep %d %v", n, err)
	}
	wantIn(t, g.OptionError("keep_since", "7x", "not an age", "e.g. 7d").Error(),
		`flag --keep-since: task.generations.keep_since = "7x": not an age; allowed: e.g. 7d`)
}

// An option set in the environment is named by its variable.
func TestEnvironmentOptionErrorsNameTheVariable(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.Environ = append(o.Environ, "REBUILD_TASK__GENERATIONS__KEEP_SINCE=7x", "REBUILD_TASK__GENERATIONS__KEEP=many", "REBUILD_TASK__DIFF__COLOR=1")
	c := mustLoad(t, o)
	g := c.Tasks["generations"]
	if g.Source("keep_since") != SourceEnvironment || g.Source("other") != SourceEnvironment {
		t.Errorf("sources %q %q", g.Source("keep_since"), g.Source("other"))
	}
	wantIn(t, g.OptionError("keep_since", "7x", "not an age", "e.g. 7d").Error(),
		`environment: REBUILD_TASK__GENERATIONS__KEEP_SINCE = "7x": not an age; allowed: e.g. 7d`)
	_, err := g.Int("keep", 0)
	wantIn(t, err.Error(), `environment: REBUILD_TASK__GENERATIONS__KEEP = "many": not an integer`)
	wantIn(t, c.Tasks["diff"].CheckOptions().Error(),
		`environment: unknown key "REBUILD_TASK__DIFF__COLOR" (task diff has no options); known variables: REBUILD_TASK__DIFF__AFTER,`)
	if s := (Task{Name: "x"}).Source("k"); s != SourceDefaults {
		t.Errorf("Source of a task no layer set: %q", s)
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		err  Error
		want string
	}{
		{Error{File: "/f", Key: "elevate", Value: `"su"`, Msg: "not allowed", Allowed: "sudo, doas"},
			`/f: elevate = "su": not allowed; allowed: sudo, doas`},
		{Error{File: "/f", Key: "x", Msg: `unknown key "x"`, Allowed: "a, b"},
			`/f: unknown key "x"; known keys: a, b`},
		{Error{File: "environment", Key: "REBUILD_X", Msg: "unknown variable REBUILD_X", Allowed: "REBUILD_A"},
			`environment: unknown variable REBUILD_X; known variables: REBUILD_A`},
		{Error{File: "/f", Msg: "no such file"}, `/f: no such file`},
		{Error{Msg: "bare"}, `bare`},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}
