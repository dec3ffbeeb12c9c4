package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pollUntil polls cond every 50ms until it holds or limit passes.
func pollUntil(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); ; time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// startRebuild starts rebuild on the sandbox with env added; its output
// goes to out.
func (n *nixosSandbox) startRebuild(out *lockedBuf, env []string, args ...string) *exec.Cmd {
	n.t.Helper()
	cmd := n.w.command(args...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = out, out
	n.w.start(cmd)
	return cmd
}

// killedAndGone kills rebuild with SIGKILL and reaps it.
func killedAndGone(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// noneLeft waits until no process of the sandbox is left, and kills and
// names those that are.
func noneLeft(t *testing.T, root string, limit time.Duration) {
	t.Helper()
	var left []string
	pollUntil(limit, func() bool { left = sandboxProcesses(root); return len(left) == 0 })
	if len(left) > 0 {
		t.Errorf("processes left behind:\n%s", strings.Join(left, "\n"))
		for _, p := range left {
			pid, _ := strconv.Atoi(p[:strings.IndexByte(p, ':')])
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// kill -9 of rebuild after the activation, with --confirm-timeout 3s and
// a gate that keeps the run from confirming: within a few seconds the
// watchdog, a process in a session of its own, has rolled back (the
// recording shows the switch to generation 1's system, the profile points
// back), and no process of the run is left. The next run says so.
func TestConfirmTimeoutKilledRollsBack(t *testing.T) {
	n := newNixOS(t, "[task.hold]\nrun = \"exec sleep 60\"\ngate = true\nneeds = [\"activate\"]\n")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	first := resolved(t, n.CurrentSystem)
	var out lockedBuf
	cmd := n.startRebuild(&out, nil, "--only=system,git,hold", "--yes", "--output=plain", "--confirm-timeout", "3s")
	if !pollUntil(2*time.Minute, func() bool { return strings.Contains(out.String(), "start   hold") }) {
		killedAndGone(t, cmd)
		t.Fatalf("the gate never started:\n%s", out.String())
	}
	if what, err := os.ReadFile(filepath.Join(n.Root, "state", "confirm", "what")); err != nil || !strings.Contains(string(what), "rollback to generation 1") {
		t.Errorf("no armed watchdog: %q %v", what, err)
	}
	killed := time.Now()
	killedAndGone(t, cmd)
	if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot"}) {
		t.Fatalf("switch calls before the timeout %v", calls)
	}
	if !pollUntil(20*time.Second, func() bool { return slices.Equal(n.SwitchCalls(), []string{"test", "boot", "switch"}) }) {
		t.Fatalf("the watchdog did not roll back: switch calls %v", n.SwitchCalls())
	}
	t.Logf("rolled back %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	if !pollUntil(5*time.Second, func() bool { _, c := n.generations(); return c == 1 }) {
		_, c := n.generations()
		t.Errorf("profile at generation %d, want 1", c)
	}
	fired := filepath.Join(n.Root, "state", "confirm", "fired")
	if !pollUntil(10*time.Second, func() bool { return exists(fired) }) {
		t.Errorf("the watchdog recorded no rollback in %s", fired)
	}
	if got := resolved(t, n.CurrentSystem); got != first {
		t.Errorf("running system %s, want generation 1's %s", got, first)
	}
	noneLeft(t, n.Root, 10*time.Second)

	// The next run reports what the watchdog did.
	evs, errOut, code := n.runJSON(nil, "--only=system", "--yes")
	if code != 0 {
		t.Fatalf("next run: exit %d\n%s%s", code, evs, errOut)
	}
	a := evs.finish("activate")
	if !slices.ContainsFunc(a.Warnings, func(w string) bool {
		return strings.Contains(w, "not confirmed in time: its confirm watchdog rolled back to generation 1")
	}) {
		t.Errorf("next run's activate warnings %q", a.Warnings)
	}
}

// Confirmed in time (accept keeps it, with --yes): nothing is rolled
// back, ever, and the watchdog is gone when the run ends. Without accept
// in the run, the end of the run confirms.
func TestConfirmTimeoutConfirmed(t *testing.T) {
	for _, c := range []struct{ name, only, by string }{
		{"by accept", nixosGraph, "accept"},
		{"at the end of the run", "--only=system", "activate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNixOS(t, "")
			if err := n.SetVersion("1.2"); err != nil {
				t.Fatal(err)
			}
			evs, errOut, code := n.runJSON(nil, c.only, "--yes", "--confirm-timeout", "3s")
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, evs, errOut)
			}
			if c.by == "accept" && !slices.Contains(evs.finish(c.by).Actions, "confirmed the new system: the rollback is disarmed") {
				t.Errorf("%s did not confirm: %q", c.by, evs.finish(c.by).Actions)
			}
			if _, err := os.Stat(filepath.Join(n.Root, "state", "confirm")); !os.IsNotExist(err) {
				t.Errorf("the watchdog's record is still there: %v", err)
			}
			noneLeft(t, n.Root, 2*time.Second)
			time.Sleep(4 * time.Second) // past the timeout
			if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot"}) {
				t.Errorf("switch calls %v, want [test boot]: rolled back although confirmed", calls)
			}
			if _, c := n.generations(); c != 2 {
				t.Errorf("profile at generation %d, want 2", c)
			}
		})
	}
}

// A gate that outlasts the confirm timeout: the watchdog rolls the new
// system back while the gate runs, so the confirmation after it (accept's,
// or the end of the run's) comes too late. The system the run activated
// is not the one that stays: exit 1, activate "rolled back" in the
// summary, never a warning under a success.
func TestConfirmTimeoutRanOutFailsTheRun(t *testing.T) {
	for _, c := range []struct{ name, only string }{
		{"by accept", nixosGraph + ",slow"},
		{"at the end of the run", "--only=system,slow"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNixOS(t, "[task.slow]\ngate = true\nneeds = [\"activate\"]\nrun = \"sleep 4\"\n")
			if err := n.SetVersion("1.2"); err != nil {
				t.Fatal(err)
			}
			r, errOut, code := n.runJSON(nil, c.only, "--yes", "--confirm-timeout", "1s")
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, r, errOut)
			}
			if st := r.states()["activate"]; st != "rolled-back" {
				t.Errorf("activate %q in the summary, want rolled-back", st)
			}
			if st := r.states()["commit"]; st == "succeeded" {
				t.Error("the rolled-back configuration was committed")
			}
			if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot", "switch"}) {
				t.Errorf("switch calls %v, want [test boot switch]: the watchdog's rollback", calls)
			}
			if _, cur := n.generations(); cur != 1 {
				t.Errorf("profile at generation %d, want 1", cur)
			}
		})
	}
}

// A bad --confirm-timeout is a usage error naming the flag.
func TestConfirmTimeoutBadValue(t *testing.T) {
	n := newNixOS(t, "")
	_, errOut, code := n.run(nil, "--only=system", "--yes", "--confirm-timeout", "soon")
	if code != 2 || !strings.Contains(errOut, "--confirm-timeout") || !strings.Contains(errOut, "soon") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
