package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// End-to-end tests of the NixOS chain: the rebuild binary against real Nix
// in a private store (package nixtest), real git with a bare remote, and
// real pseudo-terminals. Assertions are on the sandbox (profile links,
// store, switch-to-configuration calls, git) rather than on the log.

// nixosGraph is the system chain and what follows it.
const nixosGraph = "--only=system,git,generations"

// nixosSandbox is a nixtest sandbox in t.TempDir() and the world its runs
// happen in: the sandbox's environment (as `rebuild demo` has it) and a
// rebuild configuration pointing at it.
type nixosSandbox struct {
	*nixtest.Sandbox
	t *testing.T
	w *world
}

// newNixOS builds a sandbox (generation 1, current and booted), adds a
// generation per version in gens (each becomes current, not booted) and
// writes the configuration with extra appended. It skips the test when
// nix is not on PATH.
func newNixOS(t *testing.T, extra string, gens ...string) *nixosSandbox {
	t.Helper()
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	ctx := context.Background()
	s, err := nixtest.New(ctx, t.TempDir())
	if s != nil {
		t.Cleanup(func() { s.Cleanup() }) // the store is read-only
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range gens {
		if _, err := s.AddGeneration(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	q := strconv.Quote
	cfg := filepath.Join(s.Root, "rebuild.toml")
	writeFile(t, cfg, strings.Join([]string{
		"flake = " + q(s.Flake),
		"host = " + q(s.Host),
		"profile = " + q(s.Profile),
		"current_system = " + q(s.CurrentSystem),
		"booted_system = " + q(s.BootedSystem),
		`elevate = "none"`,
		"state_dir = " + q(filepath.Join(s.Root, "state")),
		extra,
	}, "\n"))
	w := &world{t: t, dir: s.Root, home: s.Home, cfg: cfg, env: s.RebuildEnviron(cleanEnv())}
	return &nixosSandbox{Sandbox: s, t: t, w: w}
}

// run runs rebuild on the sandbox with env added, stdin from /dev/null,
// and returns its stdout, stderr and exit code.
func (n *nixosSandbox) run(env []string, args ...string) (stdout, stderr string, code int) {
	n.t.Helper()
	r := n.w.run(nil, env, args...)
	return r.stdout, r.stderr, r.code
}

// runJSON runs with --output json and returns the events.
func (n *nixosSandbox) runJSON(env []string, args ...string) (jsonRun, string, int) {
	n.t.Helper()
	r := n.w.runJSON(nil, env, args...)
	return r, r.stderr, r.code
}

// generations returns the profile's generations and the current one.
func (n *nixosSandbox) generations() ([]int, int) {
	n.t.Helper()
	gens, cur, err := n.Generations()
	if err != nil {
		n.t.Fatal(err)
	}
	return gens, cur
}

// genPath is the store path generation g's link points at.
func (n *nixosSandbox) genPath(g int) string {
	n.t.Helper()
	p, err := nixtest.Resolve(n.Profile + "-" + strconv.Itoa(g) + "-link")
	if err != nil {
		n.t.Fatal(err)
	}
	return p
}

func resolved(t *testing.T, link string) string {
	t.Helper()
	p, err := nixtest.Resolve(link)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// git runs git in dir with the sandbox's environment.
func (n *nixosSandbox) git(dir string, args ...string) string {
	n.t.Helper()
	out, err := n.Run(context.Background(), "", append([]string{"git", "-C", dir}, args...)...)
	if err != nil {
		n.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// lastRun is the last run recorded in the sandbox's history.
func (n *nixosSandbox) lastRun() schedule.RunRecord {
	n.t.Helper()
	runs, _, err := schedule.ReadHistory(filepath.Join(n.Root, "state", "history.jsonl"))
	if err != nil || len(runs) == 0 {
		n.t.Fatalf("no run in the history: %v", err)
	}
	return runs[len(runs)-1]
}

// A full run with --yes: the lock file takes the updated input, a new
// generation is activated with test then boot, the diff names the version
// change, the commit reaches the bare remote, and the policy (keep 2)
// deletes the old generations, never the booted one.
func TestNixOSFullRun(t *testing.T) {
	n := newNixOS(t, "[task.generations]\nkeep = 2\n", "1.0.1", "1.0.2", "1.1")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	// Generations 1 (booted) … 4 (current); the run adds 5.
	gens, cur := n.generations()
	if !slices.Equal(gens, []int{1, 2, 3, 4}) || cur != 4 {
		t.Fatalf("sandbox has generations %v, current %d", gens, cur)
	}
	booted := resolved(t, n.BootedSystem)
	old := []string{n.genPath(2), n.genPath(3)}
	kept := n.genPath(4)
	lockBefore, err := os.ReadFile(filepath.Join(n.Flake, "flake.lock"))
	if err != nil {
		t.Fatal(err)
	}
	sizeBefore, err := n.StoreSize()
	if err != nil {
		t.Fatal(err)
	}

	evs, errOut, code := n.runJSON(nil, nixosGraph, "--yes")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, evs, errOut)
	}
	for task, state := range evs.states() {
		if state != "succeeded" {
			t.Errorf("%s %s", task, state)
		}
	}

	lockAfter, _ := os.ReadFile(filepath.Join(n.Flake, "flake.lock"))
	if bytes.Equal(lockBefore, lockAfter) {
		t.Error("flake.lock did not change")
	}
	// test then boot of the new system; after generations deleted the
	// old ones, boot once more to regenerate the boot entries (issue 13).
	if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot", "boot"}) {
		t.Errorf("switch-to-configuration calls %v, want [test boot boot]", calls)
	}
	gens, cur = n.generations()
	if calls := n.SwitchSystems(); len(calls) != 3 || calls[2] != "boot "+n.genPath(5) {
		t.Errorf("the boot entries were not regenerated by generation 5's boot: %q", calls)
	}
	if !slices.Equal(gens, []int{1, 4, 5}) || cur != 5 {
		t.Errorf("generations %v, current %d; want [1 4 5], current 5", gens, cur)
	}
	if got := resolved(t, n.CurrentSystem); got != n.genPath(5) {
		t.Errorf("current system %s, want generation 5 %s", got, n.genPath(5))
	}
	if !slices.Contains(evs.finish("diff").Stats, "foo 1.1 → 1.2") {
		t.Errorf("diff stats %q lack foo 1.1 → 1.2", evs.finish("diff").Stats)
	}

	n.checkCommittedAndPushed(5)
	n.checkCollected(old, []string{booted, kept}, sizeBefore)
	if booted != n.genPath(1) {
		t.Errorf("booted system %s is not generation 1 %s", booted, n.genPath(1))
	}
}

// checkCommittedAndPushed checks that the run committed generation gen's
// flake.lock, left nothing uncommitted, and pushed it.
func (n *nixosSandbox) checkCommittedAndPushed(gen int) {
	t := n.t
	t.Helper()
	head := n.git(n.Flake, "rev-parse", "HEAD")
	if msg := n.git(n.Flake, "log", "-1", "--format=%s"); !strings.HasPrefix(msg, "rebuild: demo ") || !strings.HasSuffix(msg, fmt.Sprintf("(generation %d)", gen)) {
		t.Errorf("last commit %q", msg)
	}
	if st := n.git(n.Flake, "status", "--porcelain"); st != "" {
		t.Errorf("uncommitted changes after the run:\n%s", st)
	}
	if remote := n.git(n.Remote, "rev-parse", "main"); remote != head {
		t.Errorf("remote main at %s, flake HEAD at %s: not pushed", remote, head)
	}
	if !strings.Contains(n.git(n.Remote, "show", "--stat", "main"), "flake.lock") {
		t.Error("the pushed commit does not hold flake.lock")
	}
}

// checkCollected checks that the systems of deleted generations (old) are
// gone from the store, that those kept are there with the booted and the
// running one, and that the store shrank from sizeBefore.
func (n *nixosSandbox) checkCollected(old, kept []string, sizeBefore int64) {
	t := n.t
	t.Helper()
	for _, p := range old {
		if exists(p) {
			t.Errorf("%s of a deleted generation is still in the store", p)
		}
	}
	for _, p := range append(kept, resolved(t, n.BootedSystem), resolved(t, n.CurrentSystem)) {
		if !exists(filepath.Join(p, "bin", "switch-to-configuration")) {
			t.Errorf("%s is gone", p)
		}
	}
	sizeAfter, err := n.StoreSize()
	if err != nil {
		t.Fatal(err)
	}
	if sizeAfter >= sizeBefore {
		t.Errorf("store %d bytes after, %d before: not smaller", sizeAfter, sizeBefore)
	}
	t.Logf("store %d → %d bytes", sizeBefore, sizeAfter)
}

// The same graph twice: the second run finds the system it builds already
// running (by its fingerprint, without evaluating), says "no changes" and
// activates nothing.
func TestNixOSSecondRunNoChanges(t *testing.T) {
	n := newNixOS(t, "")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	if evs, errOut, code := n.runJSON(nil, nixosGraph, "--yes"); code != 0 || evs.states()["activate"] != "succeeded" {
		t.Fatalf("first run: exit %d\n%s%s", code, evs, errOut)
	}
	gens, cur := n.generations()
	calls := n.SwitchCalls()

	evs, errOut, code := n.runJSON(nil, nixosGraph, "--yes")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", code, evs, errOut)
	}
	// Nothing the evaluation reads changed: build does not even evaluate.
	if !slices.Contains(evs.finish("build").Stats, "no changes (fingerprint)") {
		t.Errorf("build stats %q lack \"no changes (fingerprint)\"", evs.finish("build").Stats)
	}
	if a := evs.finish("activate"); a.State != "skipped" || a.Reason != "no changes" {
		t.Errorf("activate %s (%s), want skipped (no changes)", a.State, a.Reason)
	}
	if got := n.SwitchCalls(); !slices.Equal(got, calls) {
		t.Errorf("switch calls %v after the second run, %v before", got, calls)
	}
	if g, c := n.generations(); !slices.Equal(g, gens) || c != cur {
		t.Errorf("generations %v (current %d), before %v (current %d)", g, c, gens, cur)
	}
}

// A build failure and an evaluation error: exit 1, Nix's own message on
// screen with the task's log, nothing activated, no later task started.
func TestNixOSBuildAndEvalErrors(t *testing.T) {
	n := newNixOS(t, "")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	gens, cur := n.generations()
	profile := resolved(t, n.Profile)
	for _, c := range []struct {
		variant nixtest.Variant
		text    string
	}{
		{nixtest.BuildFailure, nixtest.BuildFailureLine},
		{nixtest.EvalError, nixtest.EvalErrorText},
	} {
		t.Run(c.text, func(t *testing.T) {
			if err := n.SetVariant(c.variant); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := n.run(nil, nixosGraph, "--yes", "--output", "plain")
			screen := out + errOut
			if code != 1 {
				t.Errorf("exit %d, want 1\n%s", code, screen)
			}
			if !strings.Contains(screen, c.text) {
				t.Errorf("screen lacks Nix's message %q:\n%s", c.text, screen)
			}
			log := regexp.MustCompile(`\S*/build\.log`).FindString(screen)
			if log == "" {
				t.Errorf("screen names no build log:\n%s", screen)
			} else if b, err := os.ReadFile(log); err != nil || !strings.Contains(string(b), c.text) {
				t.Errorf("log %s lacks %q: %v", log, c.text, err)
			}

			evs, errOut, code := n.runJSON(nil, nixosGraph, "--yes")
			if code != 1 {
				t.Errorf("json: exit %d, want 1", code)
			}
			if b := evs.finish("build"); b.State != "failed" || !strings.Contains(b.Error, c.text) || b.Log == "" {
				t.Errorf("build finished %s, error %q, log %q", b.State, b.Error, b.Log)
			}
			for _, task := range []string{"diff", "activate", "accept", "commit", "generations", "push"} {
				if evs.started(task) {
					t.Errorf("%s started after the build failed", task)
				}
			}
			if t.Failed() {
				t.Logf("events:\n%s%s", evs, errOut)
			}
			if calls := n.SwitchCalls(); len(calls) != 0 {
				t.Errorf("switch-to-configuration called: %v", calls)
			}
			if g, c := n.generations(); !slices.Equal(g, gens) || c != cur || resolved(t, n.Profile) != profile {
				t.Errorf("profile changed: generations %v, current %d", g, c)
			}
		})
	}
}

// switch-to-configuration test failing leaves the profile and the boot
// default alone; boot failing after the profile was set puts it back.
func TestNixOSActivateFailures(t *testing.T) {
	n := newNixOS(t, "")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	gens, cur := n.generations()
	profile := resolved(t, n.Profile)
	current, booted := resolved(t, n.CurrentSystem), resolved(t, n.BootedSystem)

	t.Run("test fails", func(t *testing.T) {
		evs, errOut, code := n.runJSON([]string{"NIXTEST_SWITCH_FAIL=test"}, "--only=system", "--yes")
		if code != 1 {
			t.Errorf("exit %d, want 1\n%s%s", code, evs, errOut)
		}
		a := evs.finish("activate")
		if a.State != "failed" || !strings.Contains(a.Error, "the profile and the boot default are unchanged") {
			t.Errorf("activate %s: %s", a.State, a.Error)
		}
		if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test"}) {
			t.Errorf("switch calls %v, want [test] (no boot)", calls)
		}
		if g, c := n.generations(); !slices.Equal(g, gens) || c != cur || resolved(t, n.Profile) != profile {
			t.Errorf("profile changed: generations %v, current %d", g, c)
		}
		if resolved(t, n.CurrentSystem) != current || resolved(t, n.BootedSystem) != booted {
			t.Error("current or booted system changed")
		}
	})

	t.Run("boot fails", func(t *testing.T) {
		evs, errOut, code := n.runJSON([]string{"NIXTEST_SWITCH_FAIL=boot"}, "--only=system", "--yes")
		if code != 1 {
			t.Errorf("exit %d, want 1\n%s%s", code, evs, errOut)
		}
		a := evs.finish("activate")
		want := fmt.Sprintf("the profile was put back to generation %d", cur)
		if a.State != "failed" || !strings.Contains(a.Error, want) {
			t.Errorf("activate %s: %q lacks %q", a.State, a.Error, want)
		}
		if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "test", "boot"}) {
			t.Errorf("switch calls %v, want [test test boot]", calls)
		}
		g, c := n.generations()
		if c != cur || resolved(t, n.Profile) != profile {
			t.Errorf("profile at generation %d (%v), want %d again", c, g, cur)
		}
		if resolved(t, n.BootedSystem) != booted {
			t.Error("booted system changed")
		}
	})
}

// Answering no to "Keep this configuration?" in a terminal rolls back
// (switch-to-configuration switch of the previous generation) and ends
// accept declined, so generations, commit and push are skipped, "the
// configuration was rolled back"; the run succeeds. The question comes
// right after the activation: the commit is not asked for first.
func TestNixOSRejectAtAcceptInTerminal(t *testing.T) {
	n := newNixOS(t, "[task.generations]\nkeep = 1\n", "1.1")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	before := resolved(t, n.Profile)
	head, remote := n.git(n.Flake, "rev-parse", "HEAD"), n.git(n.Remote, "rev-parse", "main")

	scr := n.w.tty(nixosGraph)
	scr.wait("Keep this configuration?")
	if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot"}) {
		t.Errorf("before the answer: switch calls %v, want [test boot]", calls)
	}
	scr.answer("n")
	if code := scr.exit(); code != 0 {
		t.Errorf("exit %d, want 0\n%s", code, scr.String())
	}

	if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot", "switch"}) {
		t.Errorf("switch calls %v, want [test boot switch]", calls)
	}
	if got := resolved(t, n.Profile); got != before {
		t.Errorf("profile at %s, want it rolled back to %s", got, before)
	}
	if got := resolved(t, n.CurrentSystem); got != before {
		t.Errorf("running system %s, want %s", got, before)
	}
	n.checkNoChangeAfterNo(head, remote, []int{1, 2, 3}, "accept", "configuration was rolled back")
	if !strings.Contains(scr.String(), "changes rejected; rolled back") {
		t.Errorf("screen lacks the reason:\n%s", scr.String())
	}
	if strings.Contains(scr.String(), "Commit message") || strings.Contains(scr.String(), "Push ") {
		t.Errorf("asked to commit or push after the rollback:\n%s", scr.String())
	}
}

// Declining the activation (--ask, n) carries: nothing is activated, no
// generation deleted (though the policy would delete), nothing committed,
// nothing pushed (though a commit waits), and each says why.
func TestNixOSDeclineActivationInTerminal(t *testing.T) {
	n := newNixOS(t, "[task.generations]\nkeep = 1\n", "1.1")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	before := resolved(t, n.Profile)
	// AddGeneration committed without pushing: push would have a commit.
	head, remote := n.git(n.Flake, "rev-parse", "HEAD"), n.git(n.Remote, "rev-parse", "main")
	if head == remote {
		t.Fatal("no unpushed commit to begin with")
	}

	scr := n.w.tty(nixosGraph, "--ask")
	scr.wait("Activate ")
	scr.answer("n")
	if code := scr.exit(); code != 0 {
		t.Errorf("exit %d, want 0\n%s", code, scr.String())
	}
	if calls := n.SwitchCalls(); len(calls) != 0 {
		t.Errorf("switch-to-configuration ran: %v", calls)
	}
	if got := resolved(t, n.Profile); got != before {
		t.Errorf("profile at %s, want %s", got, before)
	}
	n.checkNoChangeAfterNo(head, remote, []int{1, 2}, "activate", "activate was declined")
	for _, q := range []string{"Keep this configuration?", "Commit message", "Push ", "Delete which"} {
		if strings.Contains(scr.String(), q) {
			t.Errorf("asked %q after the activation was declined:\n%s", q, scr.String())
		}
	}
}

// checkNoChangeAfterNo checks the run's history after a "no" at declined:
// declined is declined, accept (unless it said no itself), generations,
// commit and push are skipped with reason; the generations are gens, HEAD
// and the remote are where they were.
func (n *nixosSandbox) checkNoChangeAfterNo(head, remote string, gens []int, declined, reason string) {
	t := n.t
	t.Helper()
	run := n.lastRun()
	if got := run.Tasks[declined]; got.State != schedule.Declined {
		t.Errorf("%s %s (%s), want declined", declined, got.State, got.Reason)
	}
	for _, task := range []string{"accept", "generations", "commit", "push"} {
		if task == declined {
			continue
		}
		if got := run.Tasks[task]; got.State != schedule.Skipped || got.Reason != reason {
			t.Errorf("%s %s (%s), want skipped (%s)", task, got.State, got.Reason, reason)
		}
	}
	if g, _ := n.generations(); !slices.Equal(g, gens) {
		t.Errorf("generations %v, want %v: nothing deleted", g, gens)
	}
	if h := n.git(n.Flake, "rev-parse", "HEAD"); h != head {
		t.Errorf("a commit was made: HEAD %s, was %s", h, head)
	}
	if h := n.git(n.Remote, "rev-parse", "main"); h != remote {
		t.Errorf("remote moved from %s to %s", remote, h)
	}
}

// Choosing generations in a terminal: the current and booted generations
// are not offered, and exactly the chosen one is deleted.
func TestNixOSChooseGenerationsInTerminal(t *testing.T) {
	n := newNixOS(t, "", "1.0.1", "1.0.2", "1.1")
	// 1 is booted, 4 current and running.
	scr := n.w.tty("--only=generations")
	// Four generations: the plan (keep 5) proposes none, so the one
	// question offers what may go.
	at := scr.waitText(t, 0, "Nothing is planned to go. Delete any of these?")
	end := scr.waitText(t, at, "numbers or ranges")
	offered := map[int]string{} // generation → its number in the list
	for _, m := range regexp.MustCompile(`(?m)^\s*(\d+) \[ \] generations: (\d+)\s`).FindAllStringSubmatch(scr.String()[at:end], -1) {
		g, _ := strconv.Atoi(m[2])
		offered[g] = m[1]
	}
	if len(offered) != 2 || offered[2] == "" || offered[3] == "" {
		t.Fatalf("offered %v, want generations 2 and 3 only:\n%s", offered, scr.String()[at:end])
	}
	gone := n.genPath(3)
	scr.answer(offered[3])
	if code := scr.exit(); code != 0 {
		t.Fatalf("exit %d\n%s", code, scr.String())
	}
	if g, c := n.generations(); !slices.Equal(g, []int{1, 2, 4}) || c != 4 {
		t.Errorf("generations %v, current %d; want [1 2 4], current 4", g, c)
	}
	if exists(gone) {
		t.Errorf("generation 3's system %s was not collected", gone)
	}
	for _, l := range []string{n.BootedSystem, n.CurrentSystem, n.Profile + "-2-link"} {
		resolved(t, l)
	}
}

// No terminal and no --yes: the activation happens, but nothing is
// committed, pushed or deleted, and no question waits for an answer.
func TestNixOSNoTerminalNoYes(t *testing.T) {
	n := newNixOS(t, "", "1.1")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	// AddGeneration committed without pushing: push has a commit waiting.
	head, remote := n.git(n.Flake, "rev-parse", "HEAD"), n.git(n.Remote, "rev-parse", "main")
	evs, errOut, code := n.runJSON(nil, nixosGraph)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, evs, errOut)
	}
	for task, reason := range map[string]string{"accept": "no terminal", "commit": "no terminal", "generations": "no terminal", "push": "no terminal"} {
		if f := evs.finish(task); f.State != "skipped" || !strings.Contains(f.Reason, reason) {
			t.Errorf("%s %s (%s), want skipped (%s…)", task, f.State, f.Reason, reason)
		}
	}
	if g, c := n.generations(); !slices.Equal(g, []int{1, 2, 3}) || c != 3 {
		t.Errorf("generations %v, current %d; want [1 2 3], current 3", g, c)
	}
	if h := n.git(n.Flake, "rev-parse", "HEAD"); h != head {
		t.Errorf("a commit was made: HEAD %s, was %s", h, head)
	}
	if h := n.git(n.Remote, "rev-parse", "main"); h != remote {
		t.Errorf("remote moved from %s to %s", remote, h)
	}
}

// rebuild --yes on a flake with untracked files (Claude's local settings,
// a backup) commits flake.lock only; the summary (plain) and the json
// finish event name the files left out and the commit id, and push
// sends the commit. A second run with the same files leaves them out
// again.
func TestNixOSYesLeavesUntrackedOut(t *testing.T) {
	n := newNixOS(t, "")
	untracked := []string{".backups/x.backup-1", ".claude/settings.local.json"}
	for _, f := range untracked {
		writeFile(t, filepath.Join(n.Flake, f), "not for the repository\n")
	}
	check := func(run string) (id string) {
		t.Helper()
		id = n.git(n.Flake, "rev-parse", "--short", "HEAD")
		if got := n.git(n.Flake, "show", "--name-only", "--format=", "HEAD"); got != "flake.lock" {
			t.Errorf("%s: committed %q, want flake.lock only", run, got)
		}
		if got := n.git(n.Flake, "status", "--porcelain", "--untracked-files=all"); got != "?? "+untracked[0]+"\n?? "+untracked[1] {
			t.Errorf("%s: left %q", run, got)
		}
		if remote := n.git(n.Remote, "rev-parse", "--short", "main"); remote != id {
			t.Errorf("%s: remote at %s, HEAD %s: not pushed", run, remote, id)
		}
		return id
	}
	leftOut := "left out 2 files (untracked; git add them, or set task.commit.add_untracked = true): " +
		untracked[0] + ", " + untracked[1]

	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	evs, errOut, code := n.runJSON(nil, nixosGraph, "--yes")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, evs, errOut)
	}
	id := check("json")
	c := evs.mustFinish(t, "commit")
	if c.State != "succeeded" || !slices.Equal(c.Warnings, []string{leftOut}) {
		t.Errorf("commit %s, warnings %q, want %q", c.State, c.Warnings, leftOut)
	}
	if len(c.Actions) != 1 || !strings.HasPrefix(c.Actions[0], "committed 1 file as "+id+" ") {
		t.Errorf("commit actions %q, want the commit id %s", c.Actions, id)
	}
	if p := evs.mustFinish(t, "push"); p.State != "succeeded" || !slices.Contains(p.Stats, "origin/main is at "+id) {
		t.Errorf("push %s, stats %q", p.State, p.Stats)
	}

	if err := n.SetVersion("1.3"); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := n.run(nil, nixosGraph, "--yes", "--output", "plain")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	id = check("plain")
	// The summary is the part from its "Actions" heading on.
	summary := out[max(strings.LastIndex(out, "\nActions\n"), 0):]
	for _, want := range []string{"committed 1 file as " + id, leftOut, "pushed 1 commit to origin/main", "origin/main is at " + id} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
}

// sandboxProcesses lists the processes whose command line or environment
// mentions dir.
func sandboxProcesses(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		environ, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		if bytes.Contains(cmdline, []byte(dir)) || bytes.Contains(environ, []byte(dir)) {
			found = append(found, e.Name()+": "+string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	return found
}

// Ctrl-C while Nix builds: exit 130, Nix and its builder gone, nothing
// activated.
func TestNixOSInterruptDuringBuild(t *testing.T) {
	n := newNixOS(t, "")
	if err := n.SetVariant(nixtest.Slow); err != nil {
		t.Fatal(err)
	}
	cmd := n.w.command("--only=system", "--yes", "--output", "plain")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The slow builder (sleep 600) runs: its environment names the store.
	deadline := time.Now().Add(time.Minute)
	for !slices.ContainsFunc(sandboxProcesses(n.Root), func(p string) bool { return strings.Contains(p, "sleep 600") }) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the slow builder never started:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, out.String); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, out.String())
	}
	var left []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left = sandboxProcesses(n.Root); len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("processes left behind:\n%s", strings.Join(left, "\n"))
		for _, p := range left {
			pid, _ := strconv.Atoi(p[:strings.IndexByte(p, ':')])
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if calls := n.SwitchCalls(); len(calls) != 0 {
		t.Errorf("switch-to-configuration called: %v", calls)
	}
	if _, c := n.generations(); c != 1 {
		t.Errorf("profile at generation %d, want 1", c)
	}
	for _, want := range []string{"canceled build", "canceled activate: interrupted"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// rebuild rollback: a dry run says what it would do; the real one points
// the profile at the previous generation and switches to it; with no
// generation before the current one it refuses.
func TestNixOSRollbackCommand(t *testing.T) {
	n := newNixOS(t, "", "1.1")
	first, second := n.genPath(1), n.genPath(2)

	out, errOut, code := n.run(nil, "rollback", "--dry-run")
	if code != 0 || !strings.Contains(out, "would roll back from generation 2 to 1") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if _, c := n.generations(); c != 2 || len(n.SwitchCalls()) != 0 {
		t.Errorf("the dry run changed something: current %d, switch calls %v", c, n.SwitchCalls())
	}

	out, errOut, code = n.run(nil, "rollback")
	if code != 0 || !strings.Contains(out, "rolled back from generation 2 to 1") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"switch"}) {
		t.Errorf("switch calls %v, want [switch]", calls)
	}
	if g, c := n.generations(); !slices.Equal(g, []int{1, 2}) || c != 1 {
		t.Errorf("generations %v, current %d; want [1 2], current 1", g, c)
	}
	if got := resolved(t, n.CurrentSystem); got != first {
		t.Errorf("running %s, want generation 1 %s", got, first)
	}

	out, errOut, code = n.run(nil, "rollback")
	if code != 1 || !strings.Contains(errOut, "no generation before 1") {
		t.Errorf("second rollback: exit %d, want 1 and a refusal\n%s%s", code, out, errOut)
	}
	if _, c := n.generations(); c != 1 || len(n.SwitchCalls()) != 1 || !exists(second) {
		t.Errorf("the refused rollback changed something: current %d, switch calls %v", c, n.SwitchCalls())
	}
}

// rebuild rollback is one run among others: while a run holds the state
// directory it refuses (exit 3) and touches nothing; an earlier run's
// detached activation that still runs is waited for before switching
// back, and what that run left (its watchdog's rollback) is reported.
func TestNixOSRollbackWaitsForOtherRuns(t *testing.T) {
	n := newNixOS(t, "", "1.1")
	state := filepath.Join(n.Root, "state")
	lock, err := schedule.AcquireLock(state, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := n.run(nil, "rollback")
	lock.Release()
	if code != 3 || !strings.Contains(errOut, "another rebuild is running: pid ") {
		t.Errorf("rollback beside a run: exit %d\n%s%s", code, out, errOut)
	}
	if _, c := n.generations(); c != 2 || len(n.SwitchCalls()) != 0 {
		t.Errorf("a refused rollback changed something: current %d, switch calls %v", c, n.SwitchCalls())
	}

	// An interrupted run's activation, still running (its wrapper is a
	// sleep here), and its watchdog, which fired.
	sleep := exec.Command("sleep", "2")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() { sleep.Wait(); close(ended) }()
	act, conf := filepath.Join(state, "activation"), filepath.Join(state, "confirm")
	for p, v := range map[string]string{
		filepath.Join(act, "what"): "switch-to-configuration test of /nix/store/x", filepath.Join(act, "mode"): "session",
		filepath.Join(act, "pid"):   strconv.Itoa(sleep.Process.Pid),
		filepath.Join(conf, "what"): "confirm watchdog", filepath.Join(conf, "fired"): "1 0",
	} {
		taskstest.WriteFile(t, p, v+"\n")
	}
	out, errOut, code = n.run(nil, "rollback")
	select {
	case <-ended:
	default:
		t.Errorf("the rollback did not wait for the earlier activation")
	}
	if code != 0 || !strings.Contains(out, "rolled back from generation 2 to 1") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"waiting for an earlier activation to finish: switch-to-configuration test of /nix/store/x",
		"rebuild: warning: the earlier activation (switch-to-configuration test of /nix/store/x) ended without an exit status (cut short)",
		"rebuild: warning: an earlier run was not confirmed in time: its confirm watchdog rolled back to generation 1"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	for _, r := range []string{act, conf} {
		if _, err := os.Stat(r); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not cleared: %v", r, err)
		}
	}
}

// rebuild demo runs the whole chain in a sandbox it removes afterwards.
func TestDemoRunsAndCleansUp(t *testing.T) {
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	dir := t.TempDir()
	tmp := sandboxTmp(t, dir)
	cmd := rebuildCmd(t, dir, "demo", "--yes", "--output", "plain")
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, func() string { return out.String() + errOut.String() }); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"updated flake.lock", "activated ", "committed ", "deleted generations ", "pushed "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	m := regexp.MustCompile(`building the sandbox in (\S+)`).FindStringSubmatch(errOut.String())
	if m == nil || !strings.HasPrefix(m[1], tmp+string(os.PathSeparator)) {
		t.Fatalf("stderr names no sandbox under %s:\n%s", tmp, errOut.String())
	}
	if exists(m[1]) {
		t.Errorf("the sandbox %s is still there", m[1])
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in the temporary directory: %v", left)
	}
	// The summary points at no log folder it has just removed, and says so.
	if strings.Contains(out.String(), "logs: "+m[1]) || !strings.Contains(out.String(), "rebuild demo: the sandbox "+m[1]+" was removed") {
		t.Errorf("the summary does not say the sandbox was removed:\n%s", out.String())
	}
}

// rebuild demo reads no configuration of the machine's: a system-wide file
// (the NixOS module writes /etc/rebuild/config.toml) naming a metrics file
// and a backups folder outside the sandbox must not reach the demo's run,
// which would overwrite the one and, with --yes, empty the other.
func TestDemoIgnoresTheSystemConfiguration(t *testing.T) {
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	dir := t.TempDir()
	tmp := sandboxTmp(t, dir)
	t.Setenv("TMPDIR", tmp)
	mine := filepath.Join(dir, "mine")
	backup := filepath.Join(mine, ".backups", "CLAUDE.md.backup-20240101-120000")
	writeFile(t, backup, "# my configuration\n")
	old := time.Now().Add(-30 * 24 * time.Hour)
	if err := os.Chtimes(backup, old, old); err != nil {
		t.Fatal(err)
	}
	metrics := filepath.Join(mine, "rebuild.prom")
	system := filepath.Join(dir, "system.toml")
	writeFile(t, system, fmt.Sprintf("metrics_file = %q\n\n[task.backups]\ndirs = [%q]\npolicy = \"all\"\n",
		metrics, filepath.Join(mine, ".backups")))
	home := filepath.Join(dir, "home")
	var out, errOut bytes.Buffer
	sys := &System{IO: testIO(&out, &errOut), Environ: append(cleanEnv(), "HOME="+home), Home: home,
		SystemFile: system, Host: "testhost", Now: time.Now, Euid: os.Geteuid()}
	if code := Run(sys, []string{"demo", "--yes", "--only", "backups", "--output", "plain"}); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if _, err := os.Stat(backup); err != nil {
		t.Errorf("the demo deleted a backup outside its sandbox: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(metrics); err == nil {
		t.Errorf("the demo wrote the machine's metrics file %s", metrics)
	}
}

// Without nix on PATH, rebuild demo says how to install it and exits 2.
func TestDemoWithoutNix(t *testing.T) {
	dir := t.TempDir()
	cmd := rebuildCmd(t, dir, "demo", "--yes")
	cmd.Env = append(cmd.Env, "PATH="+filepath.Join(dir, "empty"))
	out, err := cmd.CombinedOutput()
	if code := exitOf(err); code != 2 {
		t.Errorf("exit %d, want 2\n%s", code, out)
	}
	if !strings.Contains(string(out), "apt-get install nix-bin") {
		t.Errorf("output lacks how to install Nix:\n%s", out)
	}
}
