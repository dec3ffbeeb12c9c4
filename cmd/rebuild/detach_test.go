package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGKILL, or two SIGHUPs (a closed terminal, then another: the first is
// held back during activation), to rebuild during a slow
// switch-to-configuration test: the switch goes on in its session and
// ends (its record's output shows start and end, and the running system
// becomes the new one, which the stand-in does last); the next run waits
// for it if it still runs, saying so, and reports how it ended.
func TestDetachedActivationOutlivesRebuild(t *testing.T) {
	for _, c := range []struct {
		name string
		sigs []syscall.Signal
		code int
	}{
		{"SIGKILL", []syscall.Signal{syscall.SIGKILL}, -1},
		{"SIGHUP twice", []syscall.Signal{syscall.SIGHUP, syscall.SIGHUP}, 130},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNixOS(t, "")
			if err := n.SetVersion("1.2"); err != nil {
				t.Fatal(err)
			}
			var out lockedBuf
			// 100 steps of 0.1s: the switch takes ten seconds.
			cmd := n.startRebuild(&out, []string{"NIXTEST_SWITCH_SLOW=100"}, "--only=system", "--yes", "--output=plain")
			if !pollUntil(2*time.Minute, func() bool { return slices.Contains(n.SwitchCalls(), "test") }) {
				killedAndGone(t, cmd)
				t.Fatalf("switch-to-configuration never started:\n%s", out.String())
			}
			for _, sig := range c.sigs {
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond)
			}
			code := waitExit(t, cmd, out.String)
			if code != c.code {
				t.Errorf("exit %d, want %d\n%s", code, c.code, out.String())
			}

			// The next run, at once: the switch still runs.
			evs, errOut, code := n.runJSON(nil, "--only=system", "--yes")
			if code != 0 {
				t.Fatalf("next run: exit %d\n%s%s", code, evs, errOut)
			}
			a := evs.finish("activate")
			log := evs.taskLog(t, "activate")
			if !strings.Contains(log, "waiting for an earlier activation to finish: switch-to-configuration test of ") {
				t.Errorf("the next run did not say it waits:\n%s", log)
			}
			for _, want := range []string{"start test", "step 99", "end test", "end: exit status 0"} {
				if !strings.Contains(log, want) {
					t.Errorf("the earlier switch's output lacks %q:\n%s", want, log)
				}
			}
			if !slices.ContainsFunc(a.Warnings, func(w string) bool {
				return strings.Contains(w, "the earlier activation (switch-to-configuration test of ") &&
					strings.Contains(w, "whose run was interrupted, succeeded")
			}) {
				t.Errorf("activate warnings %q", a.Warnings)
			}
			// The earlier switch ran to its end (test first, from the
			// killed run), then this run's test and boot.
			if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "test", "boot"}) {
				t.Errorf("switch calls %v, want [test test boot]", calls)
			}
			if _, cur := n.generations(); cur != 2 {
				t.Errorf("profile at %d, want 2", cur)
			}
			if _, err := os.Stat(filepath.Join(n.Root, "state", "activation")); !os.IsNotExist(err) {
				t.Errorf("the record is still there after it was reported: %v", err)
			}
			noneLeft(t, n.Root, 5*time.Second)
		})
	}
}

// systemdStubs are recording stand-ins for systemd-run and systemctl on a
// machine without systemd: systemd-run records its options and runs the
// command after "--" as the unit would, at once for --wait, after the
// delay for --on-active (a timer: its process group's pid in
// $SDRUN_TIMER; without the runner's token, as a real unit is systemd's
// child, not rebuild's, so the runner's sweep of what a command leaves
// behind does not take it); systemctl records its arguments, and `stop`
// kills that timer.
var systemdStubs = map[string]string{
	"systemd-run": `opts=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts="$opts $1"; shift; done
shift
echo "systemd-run$opts -- $1" >> "$SDRUN_LOG"
case "$opts" in
*--wait*) exec "$@" ;;
*--on-active=*)
  secs=${opts##*--on-active=}; secs=${secs%%s *}
  env -u _REBUILD_PROC setsid sh -c 'echo $$ > "$SDRUN_TIMER"; sleep "$0"; rm -f "$SDRUN_TIMER"; exec "$@"' "$secs" "$@" >> "$SDRUN_LOG.timer" 2>&1 &
  # Out of this process group before the runner ends it with the stub.
  while [ ! -s "$SDRUN_TIMER" ]; do sleep 0.05; done
  exit 0 ;;
esac
echo "systemd-run stand-in: unexpected options$opts" >&2
exit 1
`,
	"systemctl": `echo "$*" >> "$SYSTEMCTL_LOG"
case "$1" in
stop) [ -s "$SDRUN_TIMER" ] && kill -- "-$(cat "$SDRUN_TIMER")"; rm -f "$SDRUN_TIMER"; exit 0 ;;
is-active) exit 3 ;;
is-system-running) echo offline; exit 1 ;;
esac
exit 1
`,
}

// With detach = "systemd" (what auto picks where systemd runs), both
// switch-to-configuration calls go through systemd-run transient units
// with --collect --wait, and the confirm timeout is a transient timer:
// confirmed, it is stopped (systemctl stop) and nothing rolls back; with
// rebuild killed, the timer fires and rolls back.
func TestSystemdRunPath(t *testing.T) {
	for _, killed := range []bool{false, true} {
		name := "confirmed"
		if killed {
			name = "killed"
		}
		t.Run(name, func(t *testing.T) {
			n := newNixOS(t, "[task.activate]\ndetach = \"systemd\"\n[task.hold]\nrun = \"exec sleep 60\"\ngate = true\nneeds = [\"activate\"]\nenabled = "+strconv.FormatBool(killed)+"\n")
			if err := n.SetVersion("1.2"); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			sdrun, sysctl := filepath.Join(dir, "systemd-run.log"), filepath.Join(dir, "systemctl.log")
			env := []string{stubPath(t, systemdStubs), "SDRUN_LOG=" + sdrun, "SYSTEMCTL_LOG=" + sysctl, "SDRUN_TIMER=" + filepath.Join(dir, "timer.pid")}
			args := []string{"--only=system,git,hold", "--yes", "--output=plain", "--confirm-timeout", "3s"}
			var out lockedBuf
			cmd := n.startRebuild(&out, env, args...)
			if killed {
				if !pollUntil(2*time.Minute, func() bool { return strings.Contains(out.String(), "start   hold") }) {
					killedAndGone(t, cmd)
					t.Fatalf("the gate never started:\n%s", out.String())
				}
				killedAndGone(t, cmd)
			} else if code := waitExit(t, cmd, out.String); code != 0 {
				t.Fatalf("exit %d\n%s", code, out.String())
			}
			got, _ := os.ReadFile(sdrun)
			lines := strings.Split(strings.TrimSpace(string(got)), "\n")
			want := []string{
				"systemd-run --unit=rebuild-switch-to-configuration --collect --wait --quiet --service-type=exec",
				"systemd-run --unit=rebuild-switch-to-configuration --collect --wait --quiet --service-type=exec",
				"systemd-run --unit=rebuild-confirm-rollback --on-active=3s --timer-property=AccuracySec=1s --collect --quiet",
			}
			if len(lines) != len(want) {
				t.Fatalf("systemd-run calls:\n%s", got)
			}
			for i, l := range lines {
				if !strings.HasPrefix(l, want[i]) || !strings.HasSuffix(l, " -- /bin/sh") {
					t.Errorf("systemd-run call %d:\n%s\nwant %s … -- /bin/sh", i, l, want[i])
				}
			}
			stops, _ := os.ReadFile(sysctl)
			if killed {
				if !pollUntil(20*time.Second, func() bool { return slices.Equal(n.SwitchCalls(), []string{"test", "boot", "switch"}) }) {
					timer, _ := os.ReadFile(sdrun + ".timer")
					t.Fatalf("the timer did not roll back: switch calls %v; its output:\n%s", n.SwitchCalls(), timer)
				}
				if strings.Contains(string(stops), "stop ") {
					t.Errorf("the timer was stopped although nothing confirmed:\n%s", stops)
				}
				pollUntil(5*time.Second, func() bool { _, c := n.generations(); return c == 1 })
				if _, c := n.generations(); c != 1 {
					t.Errorf("profile at %d, want 1", c)
				}
			} else {
				if !strings.Contains(string(stops), "stop rebuild-confirm-rollback.timer") {
					t.Errorf("systemctl calls lack the timer's stop:\n%s", stops)
				}
				time.Sleep(4 * time.Second)
				if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot"}) {
					t.Errorf("switch calls %v, want [test boot]", calls)
				}
			}
			noneLeft(t, n.Root, 10*time.Second)
		})
	}
}
