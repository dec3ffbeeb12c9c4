package nixos

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// Build skips the evaluation only when nothing it reads changed: each
// input of the fingerprint is changed in turn, and each time build calls
// Nix (a wrapper on PATH records every call); with none changed it does
// not call Nix at all.
func TestBuildFingerprint(t *testing.T) {
	w := newWorld(t)
	realNix, err := exec.LookPath("nix")
	if err != nil {
		t.Skip("nix is not on PATH")
	}
	bin, argv, state := t.TempDir(), filepath.Join(t.TempDir(), "argv"), t.TempDir()
	wrapper := filepath.Join(bin, "nix")
	writeWrapper := func(extra string) {
		t.Helper()
		script := "#!/bin/sh\n# " + extra + "\necho \"$*\" >> " + argv + "\nexec " + realNix + " \"$@\"\n"
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeWrapper("nix 1")
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	calls := func() int {
		b, _ := os.ReadFile(argv)
		return strings.Count(string(b), "\n")
	}
	type setting struct {
		opts    map[string]any
		host    string
		current string // a current_system link other than the sandbox's
	}
	build := func(s setting) (*tasks.Env, error) {
		env := w.env("build", s.opts)
		env.Config.StateDir = state
		if s.host != "" {
			env.Config.Host = s.host
		}
		if s.current != "" {
			env.Config.CurrentSystem = s.current
		}
		return env, w.run(Build{}, env)
	}
	// Baseline: a build with the default settings, then another one that
	// must not call Nix.
	baseline := func(when string) {
		t.Helper()
		if _, err := build(setting{}); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		n := calls()
		env, err := build(setting{})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if calls() != n {
			b, _ := os.ReadFile(argv)
			t.Fatalf("%s: nothing changed, yet build called nix:\n%s", when, b)
		}
		if st := stats(env); st != "no changes (fingerprint)" {
			t.Errorf("%s: stats %q", when, st)
		}
		if _, changed, ok := builtPath(env); !ok || changed {
			t.Errorf("%s: handed on changed=%v ok=%v", when, changed, ok)
		}
	}

	// A new version built and activated: it is the running system and
	// the profile's.
	if err := w.s.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	w.mustRun(FlakeUpdate{}, w.env("flake-update", nil))
	if _, err := build(setting{}); err != nil {
		t.Fatal(err)
	}
	w.mustRun(Activate{}, w.env("activate", nil))
	flake := w.s.Flake
	appendTo := func(name, text string) func() {
		return func() {
			f, err := os.OpenFile(filepath.Join(flake, name), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(text)
			f.Close()
		}
	}
	git := func(args ...string) {
		if out, err := w.s.Run(t.Context(), flake, append([]string{"git"}, args...)...); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	cases := []struct {
		name   string
		change func()
		set    setting
		fails  bool // the evaluation itself fails (no such host)
	}{
		{name: "flake.lock", change: appendTo("flake.lock", "\n")},
		{name: "a tracked file, committed", change: func() { appendTo("flake.nix", "# one\n")(); git("commit", "-q", "-am", "one") }},
		{name: "a dirty file", change: appendTo("flake.nix", "# two\n")},
		{name: "an untracked file", change: appendTo("extra.nix", "{ }\n")},
		{name: "the host", set: setting{host: "other"}, fails: true},
		{name: "impure", set: setting{opts: map[string]any{"impure": true}}},
		{name: "an env value", set: setting{opts: map[string]any{"env": []any{"FOO=1"}}}},
		{name: "nix's version", change: func() { writeWrapper("nix 2, upgraded") }},
		{name: "not the running system", set: setting{current: filepath.Join(t.TempDir(), "no-such-system")}},
		{name: "--rebuild", set: setting{opts: map[string]any{"fingerprint": false}}},
	}
	for _, c := range cases {
		baseline("before " + c.name)
		if c.change != nil {
			c.change()
		}
		n := calls()
		_, err := build(c.set)
		if (err != nil) != c.fails {
			t.Errorf("%s: build error %v", c.name, err)
		}
		if calls() == n {
			t.Errorf("%s changed, yet build did not call nix", c.name)
		}
	}
	baseline("at the end")
}
