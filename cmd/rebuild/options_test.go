package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// End-to-end tests of the built-in tasks' options: a bad one, wherever it
// was set, stops rebuild before any task starts, with exit 2 and a message
// that names the file, variable or flag, the key, the value and what is
// allowed.

// optionsSandbox is a HOME, a flake folder and a configuration file; the
// state (logs, history) is under the HOME.
type optionsSandbox struct {
	t        *testing.T
	dir, cfg string
	state    string
}

func newOptionsSandbox(t *testing.T) *optionsSandbox {
	t.Helper()
	dir := t.TempDir()
	s := &optionsSandbox{t: t, dir: dir, cfg: filepath.Join(dir, "rebuild.toml"),
		state: filepath.Join(dir, "home", ".local", "state", "rebuild")}
	if err := os.MkdirAll(filepath.Join(dir, "flake"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.write("")
	return s
}

// write writes the configuration: the flake, no elevation, then extra.
func (s *optionsSandbox) write(extra string) {
	s.t.Helper()
	writeFile(s.t, s.cfg, "flake = \""+filepath.Join(s.dir, "flake")+"\"\nelevate = \"none\"\n"+extra)
}

// run runs rebuild with the configuration (unless args name another) and
// env added to the environment, and returns its stdout, stderr and exit
// code.
func (s *optionsSandbox) run(env []string, args ...string) (string, string, int) {
	s.t.Helper()
	cmd := rebuildCmd(s.t, s.dir, append([]string{"--config", s.cfg}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		s.t.Fatal(err)
	}
	return out.String(), errOut.String(), exitOf(err)
}

// nothingRan checks that no task started: no event on stdout, no log
// folder, no history.
func (s *optionsSandbox) nothingRan(stdout string) {
	s.t.Helper()
	if stdout != "" {
		s.t.Errorf("tasks started:\n%s", stdout)
	}
	for _, p := range []string{filepath.Join(s.state, "history.jsonl"), filepath.Join(s.state, "logs")} {
		if _, err := os.Lstat(p); err == nil {
			s.t.Errorf("%s exists: a run was recorded", p)
		}
	}
}

// badOptionRuns checks one bad option: exit 2, the message, nothing ran.
func (s *optionsSandbox) badOptionRuns(env []string, want string, args ...string) {
	s.t.Helper()
	out, errOut, code := s.run(env, append([]string{"--output", "json"}, args...)...)
	if code != 2 {
		s.t.Errorf("exit %d, want 2\nstderr: %s", code, errOut)
	}
	if !strings.Contains(errOut, want) {
		s.t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	s.nothingRan(out)
}

const allowedAge = `allowed: an age such as "7d", "36h", "90m" or "1d12h"`

func TestBadKeepSinceStopsBeforeAnyTask(t *testing.T) {
	t.Run("flag", func(t *testing.T) {
		s := newOptionsSandbox(t)
		s.badOptionRuns(nil, `rebuild: flag --keep-since: task.generations.keep_since = "7x": not an age; `+allowedAge, "--keep-since", "7x")
	})
	t.Run("file", func(t *testing.T) {
		s := newOptionsSandbox(t)
		s.write("[task.generations]\nkeep_since = \"a week\"\n")
		s.badOptionRuns(nil, "rebuild: "+s.cfg+`: task.generations.keep_since = "a week": not an age; `+allowedAge)
	})
	t.Run("variable", func(t *testing.T) {
		s := newOptionsSandbox(t)
		s.badOptionRuns([]string{"REBUILD_TASK__GENERATIONS__KEEP_SINCE=7x"},
			`rebuild: environment: REBUILD_TASK__GENERATIONS__KEEP_SINCE = "7x": not an age; `+allowedAge)
	})
	// The flags of the other options of the flag layer.
	t.Run("keep flag", func(t *testing.T) {
		s := newOptionsSandbox(t)
		s.badOptionRuns(nil, "--keep must be at least 1, got 0", "--keep", "0")
	})
}

// A bad option of every other built-in task, in a file, in the whole
// graph as in the task's own: refused before any task starts. (The same
// table as the catalogue's unit test, through the binary.)
func TestBadOptionOfEveryBuiltinStopsBeforeAnyTask(t *testing.T) {
	bad := map[string][2]string{
		"flake-update":        {`inputs = "nixpkgs"`, `task.flake-update.inputs = "nixpkgs": not a list of strings; allowed: a list of strings`},
		"build":               {`env = ["UNFREE"]`, `task.build.env = "UNFREE": not KEY=VALUE; allowed: a list of KEY=VALUE`},
		"diff":                {`color = true`, `unknown key "task.diff.color" (task diff has no options)`},
		"activate":            {`ask = "yes"`, `task.activate.ask = "yes": not a boolean; allowed: true or false`},
		"claude-config":       {`command = ""`, `task.claude-config.command = "": empty; allowed: a list (program and arguments)`},
		"mcp-analytics":       {`days = 0`, `task.mcp-analytics.days = 0: not allowed; allowed: a whole number ≥ 1`},
		"tool-analytics":      {`days = -3`, `task.tool-analytics.days = -3: not allowed; allowed: a whole number ≥ 1`},
		"learn-permissions":   {`days = 0`, `task.learn-permissions.days = 0: not allowed; allowed: a whole number ≥ 1`},
		"learn-mcp":           {`claude_json = 1`, `task.learn-mcp.claude_json = 1: not a string; allowed: a string`},
		"learn-context":       {`days = "30"`, `task.learn-context.days = "30": not an integer; allowed: a whole number`},
		"learn-workflows":     {`learning_dir = []`, `task.learn-workflows.learning_dir = []: not a string; allowed: a string`},
		"learn-instructions":  {`claude_json = "~/.claude.json"`, `unknown key "task.learn-instructions.claude_json"`},
		"learn-cross-project": {`days = 0`, `task.learn-cross-project.days = 0: not allowed; allowed: a whole number ≥ 1`},
		"learn-meta":          {`days = -1`, `task.learn-meta.days = -1: not allowed; allowed: a whole number ≥ 1`},
		"learn-review":        {`max_suggestions = 0`, `task.learn-review.max_suggestions = 0: not allowed; allowed: a whole number ≥ 1`},
		"accept":              {`add_untracked = true`, `unknown key "task.accept.add_untracked" (task accept has no options)`},
		"commit":              {`add_untracked = "yes"`, `task.commit.add_untracked = "yes": not a boolean; allowed: true or false`},
		"disk":                {`logs_depth = 0`, `task.disk.logs_depth = 0: must be at least 1; allowed: a whole number ≥ 1`},
		"caches":              {`policy = "sometimes"`, `task.caches.policy = "sometimes": not a known value; allowed: "ask", "clean", "skip"`},
		"sessions":            {`archive = "yes"`, `task.sessions.archive = "yes": not a boolean; allowed: true or false`},
		"backups":             {`older_than_days = -1`, `task.backups.older_than_days = -1: negative; allowed: a whole number of days ≥ 0`},
		"push":                {`remote = "origin"`, `unknown key "task.push.remote" (task push has no options)`},
	}
	for task, c := range bad {
		t.Run(task, func(t *testing.T) {
			s := newOptionsSandbox(t)
			s.write("[task." + task + "]\n" + c[0] + "\n")
			s.badOptionRuns(nil, "rebuild: "+s.cfg+": "+c[1], "--only", task, "--yes")
			s.badOptionRuns(nil, "rebuild: "+s.cfg+": "+c[1], "--dry-run")
		})
	}
}

// config show lists every built-in task's effective options: those set,
// by whichever layer, and the defaults of the others; config init writes
// them all, commented, and uncommented they change nothing.
func TestConfigShowAndInitListEveryOption(t *testing.T) {
	s := newOptionsSandbox(t)
	s.write("[task.disk]\nlogs_min = \"50M\"\n")
	out, errOut, code := s.run([]string{"REBUILD_TASK__GENERATIONS__KEEP=3"}, "config", "show")
	if code != 0 {
		t.Fatalf("config show: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"\n[task.disk]\n", "\nlogs_min = '50M'\n", "\nlogs_depth = 4  # default\n",
		"\n[task.generations]\nkeep = 3\n# keep_since (not set): ",
		"\n[task.caches]\n", "\npolicy = 'ask'  # default\n",
		"\n[task.learn-review]\n", "\nmax_suggestions = 5  # default\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}

	// The values shown are valid values: the output, as a file, runs —
	// the one from the environment too, shown as what it means (3), not
	// as the text it was ('3', which a file does not take as a number).
	shown := filepath.Join(s.dir, "shown.toml")
	writeFile(t, shown, out)
	if _, errOut, code := s.run(nil, "--config", shown, "plan"); code != 0 {
		t.Errorf("plan with config show's output: exit %d\n%s", code, errOut)
	}

	// init writes every option of every built-in task, commented.
	home := filepath.Join(s.dir, "home")
	cmd := rebuildCmd(t, s.dir, "config", "init")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("config init: %v\n%s", err, b)
	}
	tmpl, err := os.ReadFile(filepath.Join(home, ".config", "rebuild", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#[task.generations]\n# keep (not set by default): ", "#[task.disk]\n", "#logs_min = '100MiB'\n",
		"#[task.learn-mcp]\n", "#claude_json = '~/.claude.json'\n", "#[task.backups]\n", "#older_than_days = 7\n"} {
		if !strings.Contains(string(tmpl), want) {
			t.Errorf("init lacks %q:\n%s", want, tmpl)
		}
	}
	// Uncommented, every setting is accepted and the effective options
	// are the same as without it (but for the example task of one's own).
	uncommented := regexp.MustCompile(`(?m)^#(\[|[a-z_]+ = )`).ReplaceAllString(string(tmpl), "$1")
	on := filepath.Join(s.dir, "init-on.toml")
	writeFile(t, on, uncommented)
	withInit, errOut, code := s.run(nil, "--config", on, "config", "show")
	if code != 0 {
		t.Fatalf("config show with the uncommented template: exit %d\n%s", code, errOut)
	}
	base := filepath.Join(s.dir, "base.toml")
	writeFile(t, base, "[task.vulnix]\nrun = \"vulnix --system\"\nafter = [\"activate\"]\ngroups = [\"security\"]\ncritical = false\n")
	plain, errOut, code := s.run(nil, "--config", base, "config", "show")
	if code != 0 {
		t.Fatalf("config show: exit %d\n%s", code, errOut)
	}
	noDefault := strings.NewReplacer("  # default\n", "\n")
	if noDefault.Replace(withInit) != noDefault.Replace(plain) {
		t.Errorf("uncommented template changes the effective configuration:\n%s\n---\n%s", withInit, plain)
	}
}

// --ask and --keep reach their tasks through the configuration's flag
// layer, and the history records the values the tasks handed on, as it
// did when they were untyped: build.out, diff.summary,
// activate.activated and commit.id.
func TestNixOSOptionFlagsAndHandedOnValuesInHistory(t *testing.T) {
	n := newNixOS(t, "", "1.1") // generation 1 booted, 2 current
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}

	// --ask without a terminal: nobody to confirm, nothing activated.
	evs, errOut, code := n.runJSON(nil, nixosGraph, "--ask")
	if code != 0 {
		t.Fatalf("--ask: exit %d\n%s%s", code, evs, errOut)
	}
	if a := evs.finish("activate"); a.State != "skipped" || a.Reason != "--ask: no terminal to confirm; not activated" {
		t.Errorf("activate %s (%s), want skipped by --ask", a.State, a.Reason)
	}
	if calls := n.SwitchCalls(); len(calls) != 0 {
		t.Errorf("switch-to-configuration ran: %v", calls)
	}

	// --keep 1: after the activation, all but the newest generation go,
	// never the booted one.
	evs, errOut, code = n.runJSON(nil, nixosGraph, "--yes", "--keep", "1")
	if code != 0 {
		t.Fatalf("--keep 1: exit %d\n%s%s", code, evs, errOut)
	}
	if g, c := n.generations(); !slices.Equal(g, []int{1, 3}) || c != 3 {
		t.Errorf("generations %v, current %d; want [1 3], current 3", g, c)
	}
	built := n.genPath(3)
	values := n.lastRun().Values
	for key, want := range map[string]string{
		"build.out":          built,
		"activate.activated": built,
		"commit.id":          n.git(n.Flake, "rev-parse", "--short", "HEAD"),
	} {
		if values[key] != want {
			t.Errorf("history %s = %q, want %q", key, values[key], want)
		}
	}
	if s := values["diff.summary"]; !strings.Contains(s, "foo 1.1 → 1.2") {
		t.Errorf("history diff.summary = %q", s)
	}
}

// The second build of an unchanged flake is "no changes (fingerprint)",
// without calling Nix at all — not to evaluate, not to check the host
// before starting (a wrapper on PATH records every call); --rebuild
// evaluates anyway.
func TestNixOSFingerprintAndRebuildFlag(t *testing.T) {
	n := newNixOS(t, "", "1.1")
	realNix, err := exec.LookPath("nix")
	if err != nil {
		t.Skip("nix is not on PATH")
	}
	bin, argv := t.TempDir(), filepath.Join(t.TempDir(), "argv")
	writeFile(t, filepath.Join(bin, "nix"), "#!/bin/sh\necho \"$*\" >> "+argv+"\nexec "+realNix+" \"$@\"\n")
	if err := os.Chmod(filepath.Join(bin, "nix"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := "PATH=" + bin + ":" + os.Getenv("PATH")
	calls := func() string { b, _ := os.ReadFile(argv); return string(b) }
	stats := func(args ...string) []string {
		t.Helper()
		evs, errOut, code := n.runJSON([]string{path}, append([]string{"--only=build"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		return evs.mustFinish(t, "build").Stats
	}
	first := stats()
	if slices.Contains(first, "no changes (fingerprint)") || !strings.Contains(calls(), "eval") || !strings.Contains(calls(), "build") {
		t.Fatalf("first build: %q, nix called %q; want the host checked and an evaluation", first, calls())
	}
	before := calls()
	if second := stats(); !slices.Equal(second, []string{"no changes (fingerprint)"}) {
		t.Errorf("second build of an unchanged flake: %q", second)
	}
	if c := calls(); c != before {
		t.Errorf("nothing changed, yet nix was called: %q", strings.TrimPrefix(c, before))
	}
	if forced := stats("--rebuild"); slices.Contains(forced, "no changes (fingerprint)") || !slices.Contains(forced, "no changes") {
		t.Errorf("--rebuild: %q, want an evaluation that finds no changes", forced)
	}
}
