package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
	"github.com/rebuild-nixos/rebuild/schedule"
)

// lockedBuf collects a command's output while the test reads it.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lastTaskLog is task's log in the newest run directory under state.
func lastTaskLog(t *testing.T, state, task string) string {
	t.Helper()
	runs, _ := filepath.Glob(filepath.Join(state, "logs", "*"))
	sort.Strings(runs)
	if len(runs) == 0 {
		t.Fatalf("no run directory under %s/logs", state)
	}
	b, err := os.ReadFile(filepath.Join(runs[len(runs)-1], task+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitSwitch waits until switch-to-configuration has been called n times.
func (n *nixosSandbox) waitSwitch(t *testing.T, count int, cmd *exec.Cmd, output func() string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for len(n.SwitchCalls()) < count {
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			cmd.Process.Kill()
			t.Fatalf("switch-to-configuration was not called %d times: %v\n%s", count, n.SwitchCalls(), output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lastRecord is the newest run in the history under state; ok is false
// when there is none.
func lastRecord(state string) (rec schedule.RunRecord, ok bool) {
	runs, _, err := schedule.ReadHistory(filepath.Join(state, "history.jsonl"))
	if err != nil || len(runs) == 0 {
		return rec, false
	}
	return runs[len(runs)-1], true
}

// Activation, interrupted halfway by the ways a session ends — Ctrl-C in
// `rebuild | tee log` (tee dies, then rebuild writes to a closed pipe),
// the reader of a verbose stream going away, SIGHUP, SIGTERM, the
// terminal closed under it — is neither cut in half nor takes rebuild
// down: switch-to-configuration (a stand-in that prints while it works)
// runs from "start test" to "end test" and on to boot, and the run is
// recorded in the history. A signal, held back, stops the run once
// activation is over (exit 130): it was not forgotten. Each case
// activates a new version.
func TestActivationSurvivesTheSessionEnding(t *testing.T) {
	n := newNixOS(t, "")
	state := filepath.Join(n.Root, "state")
	cases := []struct {
		name    string
		sig     syscall.Signal // sent once "test" started; 0 = none
		closeIt bool           // the reader of stdout and stderr goes away first
		args    []string
		pty     bool // run in a terminal that is then closed
	}{
		{name: "ctrl-c with the reader gone", sig: syscall.SIGINT, closeIt: true},
		{name: "verbose with the reader gone", closeIt: true, args: []string{"-v"}},
		{name: "sighup", sig: syscall.SIGHUP},
		{name: "sigterm", sig: syscall.SIGTERM},
		{name: "terminal closed", pty: true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := n.SetVersion("1." + string(rune('2'+i))); err != nil {
				t.Fatal(err)
			}
			os.Remove(n.SwitchLog)
			_, genBefore := n.generations()
			started := time.Now().Add(-time.Second)
			cmd := n.w.command(append([]string{"--only=system", "--yes"}, tc.args...)...)
			cmd.Env = append(cmd.Env, "NIXTEST_SWITCH_SLOW=15")
			out := &lockedBuf{}
			var reader *os.File
			var term *os.File
			switch {
			case tc.pty:
				cmd.Env = append(cmd.Env, "TERM=xterm")
				f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
				if err != nil {
					t.Fatal(err)
				}
				term = f
				go io.Copy(out, f)
			case tc.closeIt:
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stdout, cmd.Stderr = w, w
				cmd.Args = append(cmd.Args, "--output", "plain")
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				w.Close()
				reader = r
				go io.Copy(out, r)
			default:
				cmd.Stdout, cmd.Stderr = out, out
				cmd.Args = append(cmd.Args, "--output", "plain")
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
			}
			n.waitSwitch(t, 1, cmd, out.String)
			switch {
			case term != nil:
				term.Close() // the terminal hangs up: SIGHUP, and EIO on writes
			case reader != nil:
				reader.Close() // tee was killed
			}
			if tc.sig != 0 {
				time.Sleep(100 * time.Millisecond)
				if err := cmd.Process.Signal(tc.sig); err != nil {
					t.Fatal(err)
				}
			}
			// A signal is held back until activation is over, then
			// stops the run (130); a reader going away is no signal.
			want := 0
			if tc.sig != 0 || tc.pty {
				want = 130
			}
			code := waitExit(t, cmd, out.String)
			if code != want {
				t.Errorf("exit %d, want %d (the signal is held back until activation ends)\n%s", code, want, out.String())
			}
			log := lastTaskLog(t, state, "activate")
			for _, want := range []string{"start test", "step 14", "end test", "start boot", "end boot"} {
				if !strings.Contains(log, want) {
					t.Errorf("activate.log lacks %q:\n%s", want, log)
				}
			}
			if calls := n.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot"}) {
				t.Errorf("switch calls %v, want [test boot]", calls)
			}
			if _, c := n.generations(); c != genBefore+1 {
				t.Errorf("profile at generation %d, want %d", c, genBefore+1)
			}
			rec, ok := lastRecord(state)
			if !ok || rec.Tasks["activate"].State != schedule.Succeeded || rec.ExitCode != want || rec.Start.Before(started) {
				t.Errorf("history: this run recorded %v, activate %s, exit %d", ok && !rec.Start.Before(started), rec.Tasks["activate"].State, rec.ExitCode)
			}
			if h := rec.Tasks["health"].State; want == 130 && h != schedule.Canceled || want == 0 && h != schedule.Succeeded {
				t.Errorf("health %s after activation, exit %d", h, want)
			}
			if tc.sig != 0 && !tc.closeIt && !strings.Contains(out.String(), "a half-switched system is worse than waiting") {
				t.Errorf("no notice that the signal was held back:\n%s", out.String())
			}
		})
	}
}

// A second signal during activation still goes through, whichever it is:
// SIGHUP held back, then SIGTERM stops the run (exit 130).
func TestSecondSignalDuringActivationGoesThrough(t *testing.T) {
	n := newNixOS(t, "")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	cmd := n.w.command("--only=system", "--yes", "--output", "plain")
	cmd.Env = append(cmd.Env, "NIXTEST_SWITCH_SLOW=100")
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.waitSwitch(t, 1, cmd, out.String)
	cmd.Process.Signal(syscall.SIGHUP)
	for i := 0; i < 500 && !strings.Contains(out.String(), "worse than waiting"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd, out.String); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "canceled activate") {
		t.Errorf("output:\n%s", out.String())
	}
}

// rebuild rollback holds back the first signal while it switches, as a
// run does during activation.
func TestRollbackHoldsTheFirstSignal(t *testing.T) {
	n := newNixOS(t, "", "1.1")
	first := n.genPath(1)
	cmd := n.w.command("rollback")
	cmd.Env = append(cmd.Env, "NIXTEST_SWITCH_SLOW=15")
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.waitSwitch(t, 1, cmd, out.String)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd, out.String); code != 0 {
		t.Errorf("exit %d, want 0\n%s", code, out.String())
	}
	for _, want := range []string{"rollback is in progress", "rolled back from generation 2 to 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if got := resolved(t, n.CurrentSystem); got != first {
		t.Errorf("running %s, want generation 1 %s", got, first)
	}
}

// A state directory rebuild refuses is exit 2, like a bad setting.
func TestOwnerErrorIsExitTwo(t *testing.T) {
	err := error(&safefile.OwnerError{Path: "/s", UID: 1, Euid: 2})
	if code := exitCode(errors.Join(errors.New("lock"), err)); code != 2 {
		t.Errorf("exit %d", code)
	}
}
