package nixos

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// These tests run the tasks against real Nix in a private store (package
// nixtest), the way the scheduler would: one Env per task, values shared.

type world struct {
	t      *testing.T
	s      *nixtest.Sandbox
	values *tasks.Values
	status *nixtest.Statuses
	tables map[*tasks.Env]*config.Task // each Env's [task.NAME] table
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	s, err := nixtest.New(context.Background(), t.TempDir())
	if s != nil {
		t.Cleanup(func() { _ = s.Cleanup() })
	}
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, s: s, values: tasks.NewValues(), status: &nixtest.Statuses{}, tables: map[*tasks.Env]*config.Task{}}
}

// env returns a task's Env; opts become its [task.NAME] options, which
// run binds the task to.
func (w *world) env(name string, opts map[string]any) *tasks.Env {
	env := w.s.TaskEnv(name, w.values, w.status)
	w.tables[env] = &config.Task{Name: name, Options: opts, File: "config.toml"}
	env.Log = &taskstest.Buffer{}
	env.Prompt = &taskstest.Prompter{}
	return env
}

// run binds task to env's options, as the catalogue does before a run
// (an error there is the task's error), runs it with env and returns its
// error; the log goes to the test's output when it fails.
func (w *world) run(task tasks.Task, env *tasks.Env) error {
	w.t.Helper()
	var err error
	if c, ok := task.(tasks.Configurable); ok {
		if t := w.tables[env]; t != nil {
			task, err = c.Configure(*t)
		}
	}
	if err == nil {
		err = task.Run(context.Background(), env)
	}
	w.t.Cleanup(func() {
		if w.t.Failed() {
			w.t.Logf("--- log of %s (err %v):\n%s", env.Name, err, env.Log.(*taskstest.Buffer).String())
		}
	})
	return err
}

func (w *world) mustRun(task tasks.Task, env *tasks.Env) *tasks.Env {
	w.t.Helper()
	if err := w.run(task, env); err != nil {
		w.t.Fatalf("%s: %v", env.Name, err)
	}
	return env
}

// build runs flake-update and build and returns the new system.
func (w *world) build() string {
	w.t.Helper()
	w.mustRun(FlakeUpdate{}, w.env("flake-update", nil))
	w.mustRun(Build{}, w.env("build", nil))
	out, _, ok := builtPath(w.env("x", nil))
	if !ok {
		w.t.Fatal("build handed on no path")
	}
	return out
}

// builtPath reads what build handed on.
func builtPath(s tasks.Store) (path string, changed, ok bool) {
	b, ok := BuiltKey.Get(s)
	return b.Out, b.Changed, ok && b.Out != ""
}

func outcome(err error) (tasks.Kind, string) {
	if o, ok := tasks.AsOutcome(err); ok {
		return o.Kind, o.Reason
	}
	return 0, ""
}

func stats(env *tasks.Env) string { return strings.Join(env.Report().Stats, "\n") }

// The whole system chain, twice: update sees the path: input change, build
// reports its progress, diff names the version change, activate calls test
// then boot and makes a new generation; the second round has no changes.
func TestSystemChainThenNoChanges(t *testing.T) {
	w := newWorld(t)
	s := w.s
	lockBefore, _ := os.ReadFile(filepath.Join(s.Flake, "flake.lock"))
	oldSystem, _ := nixtest.Resolve(s.CurrentSystem)
	if err := s.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}

	up := w.mustRun(FlakeUpdate{}, w.env("flake-update", nil))
	lockAfter, _ := os.ReadFile(filepath.Join(s.Flake, "flake.lock"))
	if string(lockAfter) == string(lockBefore) {
		t.Error("flake.lock did not change")
	}
	if st := stats(up); !strings.Contains(st, "input pkgs updated (") {
		t.Errorf("flake-update stats %q", st)
	}

	b := w.mustRun(Build{}, w.env("build", nil))
	out, changed, ok := builtPath(b)
	if !ok || !changed || !strings.HasPrefix(out, s.Store+"/") || out == oldSystem {
		t.Fatalf("build out %q changed %v", out, changed)
	}
	sts := strings.Join(w.status.Of("build"), "\n")
	for _, want := range []string{"evaluating demo", "building foo-1.2", "built 1/2"} {
		if !strings.Contains(sts, want) {
			t.Errorf("build statuses lack %q:\n%s", want, sts)
		}
	}
	if st := stats(b); st != "built 2 derivations" {
		t.Errorf("build stats %q", st)
	}
	if log := b.Log.(*taskstest.Buffer).String(); !strings.Contains(log, "foo-1.2> building foo-1.2") || strings.Contains(log, "@nix") {
		t.Errorf("build log:\n%s", log)
	}

	d := w.mustRun(Diff{}, w.env("diff", nil))
	if st := stats(d); !strings.Contains(st, "foo 1.0 → 1.2") || !strings.Contains(st, "closure ") || !strings.Contains(st, "(+64.0 KiB)") {
		t.Errorf("diff stats %q", st)
	}

	a := w.mustRun(Activate{}, w.env("activate", nil))
	if got := s.SwitchCalls(); !slices.Equal(got, []string{"test", "boot"}) {
		t.Errorf("switch-to-configuration calls %q", got)
	}
	gens, cur, _ := s.Generations()
	if !slices.Equal(gens, []int{1, 2}) || cur != 2 {
		t.Errorf("generations %v current %d", gens, cur)
	}
	if p, _ := nixtest.Resolve(s.Profile); p != out {
		t.Errorf("profile → %s, want %s", p, out)
	}
	if v, _ := tasks.Activated.Get(a); v.Generation != 2 || v.Path != out || v.Previous != 1 || v.Rollback == nil {
		t.Errorf("activate handed on %+v", v)
	}

	// Nothing changed since: no changes, nothing activated.
	w.values = tasks.NewValues()
	w.build()
	_, changed, _ = builtPath(w.env("x", nil))
	if changed {
		t.Error("second build: changed")
	}
	if kind, reason := outcome(w.run(Diff{}, w.env("diff", nil))); kind != tasks.Skipped || reason != "no changes" {
		t.Errorf("diff: %v %q", kind, reason)
	}
	if kind, reason := outcome(w.run(Activate{}, w.env("activate", nil))); kind != tasks.Skipped || reason != "no changes" {
		t.Errorf("activate: %v %q", kind, reason)
	}
	if got := s.SwitchCalls(); len(got) != 2 {
		t.Errorf("switch calls after no changes: %q", got)
	}
}

func TestFlakeUpdateSelectedInputs(t *testing.T) {
	w := newWorld(t)
	if err := w.s.SetVersion("1.1"); err != nil {
		t.Fatal(err)
	}
	env := w.mustRun(FlakeUpdate{}, w.env("flake-update", map[string]any{"inputs": []any{"pkgs"}}))
	if log := env.Log.(*taskstest.Buffer).String(); !strings.Contains(log, "nix flake lock --update-input pkgs") {
		t.Errorf("log:\n%s", log)
	}
	if st := stats(env); !strings.Contains(st, "input pkgs updated") {
		t.Errorf("stats %q", st)
	}
	again := w.mustRun(FlakeUpdate{}, w.env("flake-update", nil))
	if st := stats(again); st != "inputs: none changed" {
		t.Errorf("second update stats %q", st)
	}
	err := w.run(FlakeUpdate{}, w.env("flake-update", map[string]any{"input": "pkgs"}))
	var ce *config.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "task.flake-update.input") {
		t.Errorf("unknown option: %v", err)
	}
}

// A failing builder and an evaluation error: Nix's own error line is in
// the error, nothing is handed on, nothing is activated.
func TestBuildFailures(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		variant nixtest.Variant
		want    []string
	}{
		{nixtest.BuildFailure, []string{"error: builder for '" + w.s.Store + "/", "-broken-1.0.drv' failed with exit code 1",
			"last lines of broken-1.0:", nixtest.BuildFailureLine, "(nix build --no-link --json"}},
		{nixtest.EvalError, []string{"error: " + nixtest.EvalErrorText}},
	} {
		if err := w.s.SetVariant(tc.variant); err != nil {
			t.Fatal(err)
		}
		w.values = tasks.NewValues()
		err := w.run(Build{}, w.env("build", nil))
		if err == nil {
			t.Fatalf("variant %d built", tc.variant)
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("variant %d: error lacks %q:\n%v", tc.variant, want, err)
			}
		}
		if !strings.HasPrefix(err.Error(), "error: ") {
			t.Errorf("error does not lead with Nix's line: %v", err)
		}
		if _, ok := BuiltKey.Get(w.values); ok {
			t.Error("a failed build handed on a path")
		}
		if err := w.run(Activate{}, w.env("activate", nil)); err == nil {
			t.Error("activate ran without a build")
		}
	}
	if calls := w.s.SwitchCalls(); len(calls) != 0 {
		t.Errorf("switch-to-configuration called: %q", calls)
	}
	if gens, _, _ := w.s.Generations(); len(gens) != 1 {
		t.Errorf("generations %v", gens)
	}
}

// A failing `test` leaves the profile alone; a failing `boot` after the
// profile was set puts it back.
func TestActivateFailures(t *testing.T) {
	w := newWorld(t)
	before, _ := nixtest.Resolve(w.s.Profile)
	if err := w.s.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	w.build()

	for _, tc := range []struct {
		fail, want string
		calls      []string
		gens       []int
	}{
		{"test", "switch-to-configuration test failed; the profile and the boot default are unchanged", []string{"test"}, []int{1}},
		{"boot", "switch-to-configuration boot failed; the profile was put back to generation 1", []string{"test", "test", "boot"}, []int{1, 2}},
	} {
		env := w.env("activate", nil)
		env.Runner.Environ = append(env.Runner.Environ, "NIXTEST_SWITCH_FAIL="+tc.fail, "NIXTEST_SWITCH_CODE=3")
		err := w.run(Activate{}, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "exit status 3") {
			t.Errorf("%s failing: err = %v", tc.fail, err)
		}
		if got := w.s.SwitchCalls(); !slices.Equal(got, tc.calls) {
			t.Errorf("%s failing: calls %q", tc.fail, got)
		}
		gens, cur, _ := w.s.Generations()
		if p, _ := nixtest.Resolve(w.s.Profile); p != before || cur != 1 || !slices.Equal(gens, tc.gens) {
			t.Errorf("%s failing: profile → %s (gen %d of %v), want %s", tc.fail, p, cur, gens, before)
		}
	}

	// After the failed boot the new system runs but the profile was put
	// back: the next build must not call that "no changes", or the
	// profile and boot default would never be set.
	env := w.env("build", nil)
	w.mustRun(Build{}, env)
	if _, changed, _ := builtPath(env); changed != true || strings.Contains(stats(env), "no changes") {
		t.Errorf("rebuild after a failed boot: changed = %v, stats %q", changed, stats(env))
	}
}

// --ask shows the diff and asks; no means declined, and without a
// terminal nothing is activated.
func TestActivateAsk(t *testing.T) {
	w := newWorld(t)
	BuiltKey.Put(w.values, Built{Out: "/nonexistent-system", Changed: true})
	tasks.DiffSummary.Put(w.values, "foo 1.0 → 1.2\nclosure 1.0 KiB → 2.0 KiB (+1.0 KiB)")
	ask := map[string]any{"ask": true}

	env := w.env("activate", ask)
	p := &taskstest.Prompter{Terminal: true, Answers: []any{false}}
	env.Prompt = p
	if kind, _ := outcome(w.run(Activate{}, env)); kind != tasks.Declined {
		t.Errorf("answer no: %v", kind)
	}
	if pr := strings.Join(p.Printed(), "\n"); !strings.Contains(pr, "foo 1.0 → 1.2") {
		t.Errorf("diff not shown: %q", pr)
	}
	// The diff is part of the question, so nothing can come between them.
	if b := p.Bodies(); len(b) != 1 || !strings.Contains(b[0], "foo 1.0 → 1.2") {
		t.Errorf("the activation question's body is %q, want the diff", b)
	}
	env = w.env("activate", ask)
	if kind, reason := outcome(w.run(Activate{}, env)); kind != tasks.Skipped || !strings.Contains(reason, "no terminal") {
		t.Errorf("no terminal: %v %q", kind, reason)
	}
	if calls := w.s.SwitchCalls(); len(calls) != 0 {
		t.Errorf("switch calls %q", calls)
	}
}

func TestRollback(t *testing.T) {
	w := newWorld(t)
	first, _ := nixtest.Resolve(w.s.Profile)
	if _, err := w.s.AddGeneration(context.Background(), "1.2"); err != nil {
		t.Fatal(err)
	}
	dry := w.env("rollback", nil)
	dry.DryRun = true
	if err := Rollback(context.Background(), dry); err != nil || len(w.s.SwitchCalls()) != 0 {
		t.Fatalf("dry run: %v, calls %q", err, w.s.SwitchCalls())
	}
	env := w.env("rollback", nil)
	if err := Rollback(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if got := w.s.SwitchCalls(); !slices.Equal(got, []string{"switch"}) {
		t.Errorf("calls %q", got)
	}
	_, cur, _ := w.s.Generations()
	running, _ := nixtest.Resolve(w.s.CurrentSystem)
	if cur != 1 || running != first {
		t.Errorf("after rollback: generation %d, running %s", cur, running)
	}
	err := Rollback(context.Background(), w.env("rollback", nil))
	if err == nil || !strings.Contains(err.Error(), "no generation before 1") {
		t.Errorf("second rollback: %v", err)
	}
}

// Generations 1 (booted) … 5 (current and running).
func worldWithGenerations(t *testing.T) *world {
	w := newWorld(t)
	for _, v := range []string{"1.1", "1.2", "1.3", "1.4"} {
		if _, err := w.s.AddGeneration(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func TestGenerationsPolicy(t *testing.T) {
	w := worldWithGenerations(t)
	sizeBefore, _ := w.s.StoreSize()

	// No terminal, no --yes, no policy: nothing.
	env := w.env("generations", nil)
	if kind, reason := outcome(w.run(Generations{}, env)); kind != tasks.Skipped || !strings.HasPrefix(reason, "no terminal") {
		t.Errorf("no terminal: %v %q", kind, reason)
	}
	// --yes without a policy keeps 5: there are 5.
	env = w.env("generations", nil)
	env.Yes = true
	if kind, reason := outcome(w.run(Generations{}, env)); kind != tasks.Skipped || reason != "nothing to delete" {
		t.Errorf("--yes: %v %q", kind, reason)
	}
	// A dry run with keep = 0 names 2, 3, 4 and deletes nothing.
	env = w.env("generations", map[string]any{"keep": int64(0)})
	env.DryRun = true
	w.mustRun(Generations{}, env)
	if a := strings.Join(env.Report().Actions, "\n"); a != "would delete generations 2, 3, 4, then collect garbage" {
		t.Errorf("dry run: %q", a)
	}
	if gens, _, _ := w.s.Generations(); len(gens) != 5 {
		t.Fatalf("dry run deleted: %v", gens)
	}
	// keep_since keeps the young ones, whatever keep says.
	env = w.env("generations", map[string]any{"keep": int64(0), "keep_since": "7d"})
	if kind, _ := outcome(w.run(Generations{}, env)); kind != tasks.Skipped {
		t.Errorf("keep_since 7d deleted something")
	}
	// keep = 2, without a terminal: 5 and 4 stay, 1 is booted.
	env = w.env("generations", map[string]any{"keep": int64(2)})
	w.mustRun(Generations{}, env)
	if gens, cur, _ := w.s.Generations(); !slices.Equal(gens, []int{1, 4, 5}) || cur != 5 {
		t.Errorf("after keep = 2: %v current %d", gens, cur)
	}
	if a := strings.Join(env.Report().Actions, "\n"); a != "deleted generations 2, 3" {
		t.Errorf("actions %q", a)
	}
	if st := stats(env); !strings.HasPrefix(st, "freed ") || !strings.Contains(st, "store paths)") {
		t.Errorf("stats %q", st)
	}
	if after, _ := w.s.StoreSize(); after >= sizeBefore {
		t.Errorf("store size %d → %d", sizeBefore, after)
	}
	for _, l := range []string{w.s.BootedSystem, w.s.CurrentSystem} {
		if p, err := nixtest.Resolve(l); err != nil {
			t.Errorf("%s: %v", l, err)
		} else if _, err := os.Stat(filepath.Join(p, "bin", "switch-to-configuration")); err != nil {
			t.Errorf("%s is gone: %v", p, err)
		}
	}
	// Ten days later, keep_since 7d and keep 0: the booted one still stays.
	env = w.env("generations", map[string]any{"keep": "0", "keep_since": "7d"})
	w.tables[env].File = "environment"
	env.Now = func() time.Time { return time.Now().Add(10 * 24 * time.Hour) }
	w.mustRun(Generations{}, env)
	if gens, _, _ := w.s.Generations(); !slices.Equal(gens, []int{1, 5}) {
		t.Errorf("after keep_since: %v", gens)
	}
}

// When the booted (or running) system cannot be resolved — the link is
// missing, dangling, or the path is mistyped in the configuration — which
// generation must be kept is unknown: nothing is deleted, whatever the
// policy, rather than a booted generation that merely could not be seen.
func TestGenerationsUnknownBootedSystemDeletesNothing(t *testing.T) {
	for _, link := range []string{"booted", "running"} {
		t.Run(link, func(t *testing.T) {
			w := worldWithGenerations(t)
			env := w.env("generations", map[string]any{"keep": int64(0)})
			if link == "booted" {
				env.Config.BootedSystem = filepath.Join(w.s.Root, "run", "booted-sytem")
			} else {
				env.Config.CurrentSystem = filepath.Join(w.s.Root, "run", "no-such-system")
			}
			err := w.run(Generations{}, env)
			if err == nil || !strings.Contains(err.Error(), "nothing deleted") {
				t.Errorf("err = %v, want a refusal saying nothing was deleted", err)
			}
			if gens, _, _ := w.s.Generations(); !slices.Equal(gens, []int{1, 2, 3, 4, 5}) {
				t.Errorf("generations left %v, want all five", gens)
			}
		})
	}
}

func TestGenerationsMultiSelect(t *testing.T) {
	w := worldWithGenerations(t)
	// Seven: the default plan (keep 5) proposes 2; 1 is booted, 7 current.
	for _, v := range []string{"1.5", "1.6"} {
		if _, err := w.s.AddGeneration(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
	env := w.env("generations", nil)
	p := &taskstest.Prompter{Terminal: true, Answers: []any{'c', []int{2, 4}}}
	env.Prompt = p
	w.mustRun(Generations{}, env)
	offered := p.Offered()
	if len(offered) != 2 || len(offered[1]) != 5 {
		t.Fatalf("offered %q", offered)
	}
	for i, want := range []string{"generations: 6  ", "generations: 5  ", "generations: 4  ", "generations: 3  ", "generations: 2  "} {
		if !strings.HasPrefix(offered[1][i], want) || strings.Contains(offered[1][i], "current") || strings.Contains(offered[1][i], "booted") {
			t.Errorf("option %d = %q", i, offered[1][i])
		}
	}
	if table := strings.Join(p.Printed(), "\n"); !strings.Contains(table, "current") || !strings.Contains(table, "booted") {
		t.Errorf("table %q", table)
	}
	if gens, _, _ := w.s.Generations(); !slices.Equal(gens, []int{1, 3, 5, 6, 7}) {
		t.Errorf("after choosing 4 and 2: %v", gens)
	}
}

func TestGenerationsBadOptions(t *testing.T) {
	w := newWorld(t)
	for opts, want := range map[string]map[string]any{
		`config.toml: task.generations.keep_since = "7 days": not an age`: {"keep_since": "7 days"},
		`config.toml: task.generations.keep = -1: negative`:               {"keep": int64(-1)},
		`config.toml: unknown key "task.generations.keep_for"`:            {"keep_for": "1d"},
	} {
		err := w.run(Generations{}, w.env("generations", want))
		var ce *config.Error
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), opts) {
			t.Errorf("%v: err = %v", want, err)
		}
	}
}

// Canceling a build (Ctrl-C) stops Nix and its builder: no process of the
// sandbox is left, and nothing is handed on.
func TestBuildCanceled(t *testing.T) {
	w := newWorld(t)
	if err := w.s.SetVariant(nixtest.Slow); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	env := w.env("build", nil)
	env.Runner.Grace = 2 * time.Second
	done := make(chan error, 1)
	go func() { done <- Build{}.Run(ctx, env) }()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.ContainsFunc(w.status.Of("build"), func(s string) bool { return strings.HasPrefix(s, "building slow-1.0") }) {
		if time.Now().After(deadline) {
			t.Fatalf("the slow build never started: %q", w.status.Of("build"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Nix says "building" before the builder's shell has started its
	// sleep: wait for the sleep, or the check races the fork.
	for {
		left := processesUnder(w.s.Root)
		if slices.ContainsFunc(left, func(s string) bool { return strings.Contains(s, "sleep 600") }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the builder is not seen: %q", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("build did not return after cancel")
	}
	if _, ok := BuiltKey.Get(w.values); ok {
		t.Error("a canceled build handed on a path")
	}
	// Nix's builder runs in a session of its own; Nix must have taken it down.
	for i := 0; ; i++ {
		left := processesUnder(w.s.Root)
		if len(left) == 0 {
			break
		}
		if i == 100 {
			t.Fatalf("left running: %q", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesUnder lists live processes whose command line or environment
// mentions dir (a builder's environment holds its output path).
func processesUnder(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			continue
		}
		environ, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		if c := strings.ReplaceAll(string(cmdline), "\x00", " "); strings.Contains(c, dir) || strings.Contains(string(environ), dir) {
			out = append(out, e.Name()+": "+c)
		}
	}
	return out
}

// On NixOS the system profile's lock, /nix/var/nix/profiles/system.lock,
// is root's (mode 0600), and `nix-env --list-generations` takes it
// (NixOS/nix#5144): listing as the invoking user failed with "opening lock
// file …: Permission denied", and so did `rebuild rollback --dry-run` and
// the generations task before any deletion. Here the lock is a directory,
// which nobody can open, not even root running the test. Listing must
// still work, unelevated: only the commands that change the profile or the
// store go through the elevation program.
func TestGenerationsListingNeedsNoProfileLock(t *testing.T) {
	w := worldWithGenerations(t)
	elevated := filepath.Join(w.s.Root, "elevated.log")
	wrapper := filepath.Join(w.s.Root, "elevate")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nprintf '%s\\n' \"$*\" >>"+elevated+"\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	lock := w.s.Profile + ".lock"
	if err := os.RemoveAll(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lock, 0o700); err != nil {
		t.Fatal(err)
	}
	withElevation := func(env *tasks.Env) *tasks.Env {
		env.Runner.Elevate = []string{wrapper}
		return env
	}

	dry := withElevation(w.env("rollback", nil))
	dry.DryRun = true
	if err := Rollback(context.Background(), dry); err != nil {
		t.Fatalf("rollback --dry-run: %v", err)
	}
	if a := strings.Join(dry.Report().Actions, "\n"); !strings.Contains(a, "would roll back from generation 5 to 4") {
		t.Errorf("rollback --dry-run actions %q", a)
	}
	env := withElevation(w.env("generations", map[string]any{"keep": int64(2)}))
	env.DryRun = true
	w.mustRun(Generations{}, env)
	if a := strings.Join(env.Report().Actions, "\n"); a != "would delete generations 2, 3, then collect garbage" {
		t.Errorf("generations --dry-run actions %q", a)
	}
	if b, err := os.ReadFile(elevated); err == nil {
		t.Errorf("a dry run elevated:\n%s", b)
	}

	// For real (the lock a file again, as root's nix-env needs it): the
	// deletion, the boot entries' regeneration (issue 13) and the garbage
	// collection are elevated, nothing else.
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	current, _ := nixtest.Resolve(w.s.Profile)
	w.mustRun(Generations{}, withElevation(w.env("generations", map[string]any{"keep": int64(2)})))
	b, _ := os.ReadFile(elevated)
	// The boot entries' switch runs detached, as activation's steps do.
	nixosWrapper := detachWrapper
	want := "nix-env -p " + w.s.Profile + " --delete-generations 2 3\n" +
		"setsid --fork /bin/sh -c " + nixosWrapper + " sh " + filepath.Join(w.s.Root, "state", "activation") + " " + current + "/bin/switch-to-configuration boot\n" +
		"nix-store --gc\n"
	if string(b) != want {
		t.Errorf("elevated commands:\n%s\nwant:\n%s", b, want)
	}
	if gens, cur, _ := w.s.Generations(); !slices.Equal(gens, []int{1, 4, 5}) || cur != 5 {
		t.Errorf("after keep = 2: %v current %d", gens, cur)
	}
}

// Reading the links gives what nix-env --list-generations prints.
func TestReadGenerationsMatchesNixEnv(t *testing.T) {
	w := worldWithGenerations(t)
	out, err := w.s.Run(context.Background(), "", "nix-env", "-p", w.s.Profile, "--list-generations")
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseGenerations(out, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readGenerations(w.s.Profile)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d generations, nix-env lists %d:\n%s", len(got), len(want), out)
	}
	for i := range got {
		g, n := got[i], want[i]
		if g.Number != n.Number || g.Current != n.Current || !g.Date.Truncate(time.Second).Equal(n.Date) {
			t.Errorf("generation %d: got %+v, nix-env %+v", i, g, n)
		}
	}
}

// The generations' plan is worked out and answered before activation;
// generations applies it after: exactly the approved generations go,
// not those the default plan would pick once activation has added one.
func TestGenerationsEarlyPlanBeforeActivation(t *testing.T) {
	w := worldWithGenerations(t)
	for _, v := range []string{"1.5", "1.6"} {
		if _, err := w.s.AddGeneration(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
	// Seven: keep 5 proposes 2 (1 is booted, 7 current).
	board := tasks.NewCleanupBoard("generations")
	p := &taskstest.Prompter{Terminal: true, Answers: []any{'y'}}
	env := w.env("generations", nil)
	env.Prompt, env.Cleanup = p, board
	board.Planning("generations")
	plan, err := Generations{}.PlanCleanup(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if err := board.Propose(context.Background(), env, plan); err != nil {
		t.Fatal(err)
	}
	if len(p.Asked()) != 1 {
		t.Fatalf("asked %q, want the cleanup plan", p.Asked())
	}
	// Activation adds generation 8: keep 5 would now take 3 as well.
	if _, err := w.s.AddGeneration(context.Background(), "1.7"); err != nil {
		t.Fatal(err)
	}
	run := w.env("generations", nil)
	run.Prompt, run.Cleanup = p, board
	w.mustRun(Generations{}, run)
	if len(p.Asked()) != 1 {
		t.Errorf("asked again: %q", p.Asked())
	}
	if gens, _, _ := w.s.Generations(); !slices.Equal(gens, []int{1, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("generations left %v, want only 2 gone (the one approved)", gens)
	}
}

// Without --ask, diff runs beside activate: it compares the new system
// with the one that was running when build ended, even when activation
// has switched the system by the time it reads it.
func TestDiffComparesWithTheSystemBeforeActivation(t *testing.T) {
	w := newWorld(t)
	if err := w.s.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	w.build()
	w.mustRun(Activate{}, w.env("activate", nil))
	d := w.mustRun(Diff{}, w.env("diff", nil))
	if st := stats(d); !strings.Contains(st, "foo 1.0 → 1.2") {
		t.Errorf("diff after activation: %q, want the change from the system running before it", st)
	}
}

// activate waits for diff only when it shows it (--ask).
func TestActivateWaitsForDiffOnlyWithAsk(t *testing.T) {
	for _, ask := range []bool{false, true} {
		s := tasks.Spec{Name: "activate", After: []string{"diff", "other"}}
		Activate{Options: ActivateOptions{Ask: ask}}.AdjustEdges(&s)
		if got := slices.Contains(s.After, "diff"); got != ask || !slices.Contains(s.After, "other") {
			t.Errorf("ask=%v: after %v", ask, s.After)
		}
	}
}

// detachWrapper is the detached commands' sh wrapper, for tests whose own
// variables are named wrapper.
const detachWrapper = wrapper
