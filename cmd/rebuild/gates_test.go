package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/render"
)

// lastFinish is task's last finish event: a gate's rollback sends a
// second one for activate.
func (r jsonRun) lastFinish(task string) render.Event {
	var last render.Event
	for _, e := range r.events {
		if e.Task == task && e.Event == "finish" {
			last = e
		}
	}
	return last
}

// stubPath writes the programs in stubs (name → sh script body) into a
// directory and returns a PATH=… with it first.
func stubPath(t *testing.T, stubs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range stubs {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// A user's gate that fails after the activation: the system is rolled
// back (switch-to-configuration switch of the generation activate
// replaced, the profile pointing back at it), activate ends rolled-back
// naming the gate, accept, commit, generations and push are skipped, and
// the run exits 1; json's summary says which gate and what the system
// went back to.
func TestGateFailureRollsBack(t *testing.T) {
	n := newNixOS(t, "[task.smoke]\nrun = \"echo smoke: port 8080 refused >&2; exit 3\"\ngate = true\nneeds = [\"activate\"]\n")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	_, cur := n.generations()
	before := resolved(t, n.CurrentSystem)

	evs, errOut, code := n.runJSON(nil, nixosGraph+",smoke", "--yes")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, evs, errOut)
	}
	if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot", "switch"}) {
		t.Errorf("switch-to-configuration calls %v, want [test boot switch]", calls)
	}
	if _, c := n.generations(); c != cur {
		t.Errorf("profile at generation %d, want %d again", c, cur)
	}
	if got := resolved(t, n.CurrentSystem); got != before {
		t.Errorf("running system %s, want the replaced one %s", got, before)
	}
	a := evs.lastFinish("activate")
	if a.State != "rolled-back" || !strings.Contains(a.Reason, "gate smoke failed") ||
		!strings.Contains(a.Reason, "rolled back to generation 1") {
		t.Errorf("activate %s: %q", a.State, a.Reason)
	}
	st := evs.states()
	if st["activate"] != "rolled-back" || st["smoke"] != "failed" {
		t.Errorf("states %v", st)
	}
	for _, task := range []string{"accept", "commit", "generations", "push"} {
		f := evs.finish(task)
		if f.State != "skipped" || !strings.Contains(f.Reason, "configuration was rolled back: gate smoke failed") {
			t.Errorf("%s %s: %q, want skipped for the rollback", task, f.State, f.Reason)
		}
	}
	rb := evs.summary.RolledBack
	if rb == nil || rb.Gate != "smoke" || rb.To != "generation 1" || !strings.Contains(rb.Reason, "exit status 3") {
		t.Errorf("summary rolled_back = %+v", rb)
	}
}

// A gate that passes: nothing is rolled back, accept keeps the system.
func TestGatePassKeeps(t *testing.T) {
	n := newNixOS(t, "[task.smoke]\nrun = \"true\"\ngate = true\nneeds = [\"activate\"]\n")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	evs, errOut, code := n.runJSON(nil, nixosGraph+",smoke", "--yes")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, evs, errOut)
	}
	if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot"}) {
		t.Errorf("switch-to-configuration calls %v, want [test boot]", calls)
	}
	if st := evs.states(); st["activate"] != "succeeded" || st["accept"] != "succeeded" || st["smoke"] != "succeeded" {
		t.Errorf("states %v", st)
	}
	if evs.summary.RolledBack != nil {
		t.Errorf("rolled back: %+v", evs.summary.RolledBack)
	}
	// accept waited for the gate.
	if evs.index("smoke", "finish") > evs.index("accept", "start") {
		t.Error("accept started before the gate finished")
	}
}

// The built-in health gate with a recording systemctl stand-in: a unit
// that failed since the activation fails the gate, by name, and rolls
// back; a unit that had failed before does not; with systemd offline
// (this machine) health passes without the systemd checks.
func TestHealthGate(t *testing.T) {
	systemctl := `echo "$@" >> "$SYSTEMCTL_LOG"
case "$1" in
is-system-running) echo "${SYSTEM_STATE:-running}"; [ "${SYSTEM_STATE:-running}" = running ] ;;
list-units)
  echo "● old.service loaded failed failed Failed before"
  if grep -q boot "$NIXTEST_SWITCH_LOG" 2>/dev/null && [ -n "$NEW_FAILED" ]; then
    echo "● $NEW_FAILED loaded failed failed Broken by the new system"
  fi ;;
esac
`
	for _, c := range []struct {
		name, state, newFailed string
		rollback               bool
		want                   string
	}{
		{"healthy", "running", "", false, ""},
		{"unit failed since", "degraded", "web.service", true, "units failed since the activation: web.service"},
		{"degraded", "degraded", "", true, "the system is degraded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNixOS(t, "")
			if err := n.SetVersion("1.2"); err != nil {
				t.Fatal(err)
			}
			log := filepath.Join(t.TempDir(), "systemctl.log")
			env := []string{stubPath(t, map[string]string{"systemctl": systemctl}), "SYSTEMCTL_LOG=" + log,
				"SYSTEM_STATE=" + c.state, "NEW_FAILED=" + c.newFailed}
			evs, errOut, code := n.runJSON(env, nixosGraph+",health", "--yes")
			h := evs.finish("health")
			if c.rollback {
				if code != 1 || h.State != "failed" || !strings.Contains(h.Reason, c.want) {
					t.Errorf("exit %d, health %s %q; want 1, failed %q\n%s", code, h.State, h.Reason, c.want, errOut)
				}
				if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot", "switch"}) {
					t.Errorf("switch calls %v", calls)
				}
				if a := evs.lastFinish("activate"); a.State != "rolled-back" || !strings.Contains(a.Reason, "gate health failed") {
					t.Errorf("activate %s %q", a.State, a.Reason)
				}
			} else if code != 0 || h.State != "succeeded" || evs.states()["activate"] != "succeeded" {
				t.Errorf("exit %d, health %s %q\n%s", code, h.State, h.Reason, errOut)
			}
			b, _ := os.ReadFile(log)
			if !strings.Contains(string(b), "is-system-running --wait") || strings.Count(string(b), "list-units --state=failed") != 2 {
				t.Errorf("systemctl calls:\n%s", b)
			}
		})
	}
	t.Run("no systemd", func(t *testing.T) {
		n := newNixOS(t, "")
		if err := n.SetVersion("1.2"); err != nil {
			t.Fatal(err)
		}
		offline := `case "$1" in is-system-running) echo offline; exit 1;; *) echo "System has not been booted with systemd" >&2; exit 1;; esac`
		evs, errOut, code := n.runJSON([]string{stubPath(t, map[string]string{"systemctl": offline})}, nixosGraph+",health", "--yes")
		h := evs.finish("health")
		if code != 0 || h.State != "succeeded" || !slices.Contains(h.Stats, "systemd is not running here: system state and failed units not checked") {
			t.Errorf("exit %d, health %s %q %q\n%s", code, h.State, h.Reason, h.Stats, errOut)
		}
	})
}
