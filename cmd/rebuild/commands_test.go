package main

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
)

// Flag parsing is tested apart from behaviour, as in cli/cli: a command is
// built with a runF that keeps the options it is given, so a test sees
// what the command line parsed into without running anything; the run
// functions are tested on options built by hand.

// testSystem is a machine with an empty HOME, no system-wide file, and
// the output in out and errw.
func testSystem(t *testing.T, out, errw *bytes.Buffer) *System {
	t.Helper()
	home := t.TempDir()
	return &System{IO: testIO(out, errw), Environ: []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")},
		Home: home, SystemFile: "-", Host: "testhost", Now: time.Now}
}

// execute runs cmd with args, under a root that has the global flags, and
// returns its error; runF is not called when parsing fails.
func execute(f *Factory, cmd *cobra.Command, args ...string) error {
	root := &cobra.Command{Use: "rebuild", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	addGlobalFlags(root, f)
	root.AddCommand(cmd)
	root.SetArgs(append([]string{cmd.Name()}, args...))
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.Err)
	return root.Execute()
}

func TestRunFlagsParse(t *testing.T) {
	for _, c := range []struct {
		args []string
		want runOptions // the flags only; IO, Sys and Load are checked apart
		set  map[string]any
	}{
		{nil, runOptions{Output: "auto"}, map[string]any{}},
		{[]string{"-j", "3", "-y", "--ask", "-n", "-v", "--output", "json", "--strict"},
			runOptions{Jobs: 3, Yes: true, Ask: true, DryRun: true, Verbose: true, Output: "json", Strict: true},
			map[string]any{"jobs": 3, "task.activate.ask": "true"}},
		{[]string{"--keep", "2", "--keep-since", "7d", "--only", "system,push", "--skip", "diff"},
			runOptions{Keep: 2, KeepSet: true, KeepSince: "7d", Output: "auto", selectOptions: selectOptions{Only: "system,push", Skip: "diff"}},
			map[string]any{"task.generations.keep": "2", "task.generations.keep_since": "7d"}},
		{[]string{"--keep", "0"}, runOptions{KeepSet: true, Output: "auto"}, map[string]any{"task.generations.keep": "0"}}, // refused by the run
		{[]string{"--flake", "/etc/nixos", "-H", "box", "--elevate", "doas", "--config", "my.toml", "--no-update"},
			runOptions{Output: "auto"}, map[string]any{"flake": "/etc/nixos", "host": "box", "elevate": "doas"}},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errw bytes.Buffer
			f := newFactory(testSystem(t, &out, &errw))
			var got *runOptions
			err := execute(f, newRunCmd(f, func(o *runOptions) error { got = o; return nil }), c.args...)
			if err != nil || got == nil {
				t.Fatalf("err %v, runF called %v", err, got != nil)
			}
			if got.IO != f.IO || got.Sys != f.Sys {
				t.Error("the options do not carry the factory's streams and machine")
			}
			if !maps.Equal(got.Load.Set, c.set) {
				t.Errorf("config keys from flags %v, want %v", got.Load.Set, c.set)
			}
			flags := *got
			flags.IO, flags.Sys, flags.Load = nil, nil, loadOptions{}
			if !reflect.DeepEqual(flags, c.want) {
				t.Errorf("parsed %+v\nwant   %+v", flags, c.want)
			}
		})
	}
}

// The global flags reach loadOptions as given.
func TestGlobalFlagsReachTheLoad(t *testing.T) {
	var out, errw bytes.Buffer
	f := newFactory(testSystem(t, &out, &errw))
	var got *graphOptions
	err := execute(f, newGraphCmd(f, func(o *graphOptions) error { got = o; return nil }),
		"--config", "my.toml", "--no-update", "--flake", "/f", "--format", "dot", "--only", "a,b")
	if err != nil || got == nil {
		t.Fatalf("err %v", err)
	}
	if got.Load.File != "my.toml" || !got.Load.NoUpdate || !maps.Equal(got.Load.Set, map[string]any{"flake": "/f"}) {
		t.Errorf("load %+v", got.Load)
	}
	if got.Format != "dot" || got.Only != "a,b" || got.Skip != "" {
		t.Errorf("format %q, only %q, skip %q", got.Format, got.Only, got.Skip)
	}
}

// What is wrong on the command line alone is refused before anything
// runs: runF is never called, and the error is a usage error (exit 2).
func TestFlagErrorsStopBeforeTheRun(t *testing.T) {
	for _, c := range []struct {
		name string
		cmd  func(*Factory, *bool) *cobra.Command
		args []string
		want string
	}{
		{"jobs", func(f *Factory, ran *bool) *cobra.Command {
			return newRunCmd(f, func(*runOptions) error { *ran = true; return nil })
		}, []string{"--jobs", "0"}, "--jobs must be at least 1, got 0"},
		{"empty only", func(f *Factory, ran *bool) *cobra.Command {
			return newGraphCmd(f, func(*graphOptions) error { *ran = true; return nil })
		}, []string{"--only="}, "--only is empty"},
		{"limit", func(f *Factory, ran *bool) *cobra.Command {
			return newHistoryCmd(f, func(*historyOptions) error { *ran = true; return nil })
		}, []string{"--limit", "0"}, "--limit must be at least 1, got 0"},
		{"unknown flag", func(f *Factory, ran *bool) *cobra.Command {
			return newRollbackCmd(f, func(*rollbackOptions) error { *ran = true; return nil })
		}, []string{"--yes"}, "unknown flag: --yes"},
		{"demo config", func(f *Factory, ran *bool) *cobra.Command {
			return newDemoCmd(f, func(*demoOptions) error { *ran = true; return nil })
		}, []string{"--config", "x.toml"}, "takes no --config"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			f := newFactory(testSystem(t, &out, &errw))
			ran := false
			err := execute(f, c.cmd(f, &ran), c.args...)
			if ran {
				t.Error("runF was called")
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != exitcode.Usage {
				t.Errorf("err %v (exit %d), want a usage error with %q", err, exitCode(err), c.want)
			}
		})
	}
}

// --no-color and NO_COLOR decide the colour once, before the command runs.
func TestNoColorIsDecidedBeforeTheCommand(t *testing.T) {
	for _, c := range []struct {
		env   []string
		args  []string
		color bool
	}{
		{nil, nil, true},
		{nil, []string{"--no-color"}, false},
		{[]string{"NO_COLOR=1"}, nil, false},
	} {
		var out, errw bytes.Buffer
		sys := testSystem(t, &out, &errw)
		sys.IO = NewIOStreams(nil, &out, &errw, c.env)
		f := newFactory(sys)
		color := !c.color
		root := newRoot(f, func(o *runOptions) error { color = o.IO.ColorEnabled(); return nil })
		root.SetArgs(c.args)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if color != c.color {
			t.Errorf("env %v args %v: colour %v, want %v", c.env, c.args, color, c.color)
		}
	}
}

// The rest of the flags, parsed into their options.
func TestOtherCommandsParse(t *testing.T) {
	var out, errw bytes.Buffer
	f := newFactory(testSystem(t, &out, &errw))
	var h *historyOptions
	if err := execute(f, newHistoryCmd(f, func(o *historyOptions) error { h = o; return nil }), "--task", "build", "--json"); err != nil {
		t.Fatal(err)
	}
	if h.Task != "build" || h.Limit != 20 || !h.JSON {
		t.Errorf("history %+v", *h)
	}
	var r *rollbackOptions
	if err := execute(f, newRollbackCmd(f, func(o *rollbackOptions) error { r = o; return nil }), "-n"); err != nil || !r.DryRun {
		t.Errorf("rollback -n: %v %+v", err, r)
	}
	var d *demoOptions
	if err := execute(f, newDemoCmd(f, func(o *demoOptions) error { d = o; return nil }), "--keep-sandbox", "--yes", "--only", "system"); err != nil {
		t.Fatal(err)
	}
	if !d.KeepSandbox || !d.Run.Yes || d.Run.Only != "system" {
		t.Errorf("demo %+v, run %+v", *d, *d.Run)
	}
	var c *completionOptions
	if err := execute(f, newCompletionCmd(f, nil, func(o *completionOptions) error { c = o; return nil }), "fish"); err != nil || c.Shell != "fish" {
		t.Errorf("completion fish: %v %+v", err, c)
	}
	var i *configOptions
	if err := execute(f, newConfigInitCmd(f, func(o *configOptions) error { i = o; return nil }), "--force"); err != nil || !i.Force {
		t.Errorf("config init --force: %v %+v", err, i)
	}
}

// Behaviour, without cobra: graph in each format, and a bad one.
func TestGraphRun(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg.toml")
	writeFile(t, cfg, "[task.a]\nrun = \"true\"\n[task.b]\nrun = \"true\"\nneeds = [\"a\"]\n")
	for format, want := range map[string]string{"dot": "digraph", "mermaid": "flowchart", "json": `"needs"`, "text": "b"} {
		var out, errw bytes.Buffer
		o := &graphOptions{IO: testIO(&out, &errw), Sys: testSystem(t, &out, &errw), Load: loadOptions{File: cfg},
			selectOptions: selectOptions{Only: "a,b"}, Format: format}
		if err := graphRun(o); err != nil || !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "a") {
			t.Errorf("%s: %v\n%s", format, err, out.String())
		}
	}
	var out, errw bytes.Buffer
	o := &graphOptions{IO: testIO(&out, &errw), Sys: testSystem(t, &out, &errw), Load: loadOptions{File: cfg}, Format: "svg"}
	var ue *usageError
	if err := graphRun(o); !errors.As(err, &ue) || !strings.Contains(err.Error(), "allowed: text, dot, mermaid, json") {
		t.Errorf("svg: %v", err)
	}
}

// Behaviour, with the terminal decided by the test and no pseudo-terminal:
// --output auto gives the live display when standard output was taken for
// a terminal, and plain lines when not.
func TestRunFollowsTheDecidedTerminal(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg.toml")
	writeFile(t, cfg, "state_dir = "+`"`+filepath.Join(dir, "state")+`"`+"\n[task.hello]\nrun = \"echo hello\"\n")
	for _, tty := range []bool{false, true} {
		var out, errw bytes.Buffer
		sys := testSystem(t, &out, &errw)
		sys.IO.SetStdoutTTY(tty)
		o := &runOptions{IO: sys.IO, Sys: sys, Load: loadOptions{File: cfg}, Output: "auto", selectOptions: selectOptions{Only: "hello"}}
		if err := runRun(o); err != nil {
			t.Fatalf("tty %v: %v\n%s%s", tty, err, out.String(), errw.String())
		}
		live := strings.Contains(out.String(), "\x1b[")
		if live != tty {
			t.Errorf("stdout taken for a terminal: %v; live display (escape codes): %v\n%q", tty, live, out.String())
		}
		if !strings.Contains(out.String(), "hello") {
			t.Errorf("tty %v: the task's status is not shown:\n%s", tty, out.String())
		}
	}
}

// A mistyped command is a usage error that suggests the command meant,
// by the same rule as every other "did you mean" (internal/suggest); a
// word that is no typo of a command gets the list only. Nothing runs.
func TestUnknownCommandSuggests(t *testing.T) {
	for _, c := range []struct{ arg, want, not string }{
		{"plna", `unknown command "plna" (did you mean "plan"?); commands: `, ""},
		{"hsitory", `(did you mean "history"?)`, ""},
		{"Graph", `(did you mean "graph"?)`, ""},
		{"xyzzy", `unknown command "xyzzy"; commands: `, "did you mean"},
	} {
		var out, errw bytes.Buffer
		ran := false
		root := newRoot(newFactory(testSystem(t, &out, &errw)), func(*runOptions) error { ran = true; return nil })
		root.SetArgs([]string{c.arg})
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != exitcode.Usage {
			t.Errorf("rebuild %s: %v (exit %d), want exit 2 and …%s", c.arg, err, exitCode(err), c.want)
		}
		if c.not != "" && err != nil && strings.Contains(err.Error(), c.not) {
			t.Errorf("rebuild %s: %v says %q", c.arg, err, c.not)
		}
		if ran {
			t.Errorf("rebuild %s ran", c.arg)
		}
	}
}
