package proc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeElevator returns an Elevator whose program is a script recording
// its arguments, one call a line, and exiting with code.
func fakeElevator(t *testing.T, method, code string) (*Elevator, func() []string) {
	t.Helper()
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	prog := filepath.Join(dir, method)
	script := "#!/bin/sh\necho \"$*\" >> " + calls + "\nexit " + code + "\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e := &Elevator{Method: method, Program: prog, Euid: func() int { return 1000 }, Interval: 20 * time.Millisecond}
	t.Cleanup(e.Close)
	return e, func() []string {
		b, _ := os.ReadFile(calls)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
}

func TestElevatorSudoValidatesOnceAndKeepsAlive(t *testing.T) {
	e, calls := fakeElevator(t, "sudo", "0")
	prefix, err := e.Acquire(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(prefix) != 2 || prefix[0] != e.Program || prefix[1] != "--" {
		t.Errorf("prefix %q", prefix)
	}
	if _, err := e.Acquire(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(calls()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := calls()
	if len(got) < 3 || got[0] != "-n -v" || got[1] != "-n -v" {
		t.Fatalf("calls %q: want a validation (without a terminal: -n -v) and keep-alives", got)
	}
	e.Close()
	n := len(calls())
	time.Sleep(100 * time.Millisecond)
	if len(calls()) != n {
		t.Errorf("keep-alive ran after Close: %q", calls())
	}
	e.Close() // twice is fine
}

// With a terminal, sudo -v is attached to it so a password can be typed.
func TestElevatorSudoOnTerminal(t *testing.T) {
	e, calls := fakeElevator(t, "sudo", "0")
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	out, err := os.Create(filepath.Join(t.TempDir(), "tty"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := e.Acquire(context.Background(), &Terminal{In: devnull, Out: out, Err: out}); err != nil {
		t.Fatal(err)
	}
	if got := calls(); got[0] != "-v" {
		t.Errorf("calls %q, want -v first", got)
	}
}

func TestElevatorNeedsPasswordWithoutTerminal(t *testing.T) {
	e, _ := fakeElevator(t, "sudo", "1")
	_, err := e.Acquire(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Fatalf("err = %v", err)
	}
	if _, err2 := e.Acquire(context.Background(), nil); err2 == nil {
		t.Error("second Acquire forgot the failure")
	}
}

func TestElevatorRootAndNoneElevateNothing(t *testing.T) {
	for _, tc := range []struct {
		method string
		euid   int
	}{{"sudo", 0}, {"doas", 0}, {"none", 1000}} {
		e, calls := fakeElevator(t, tc.method, "0")
		e.Euid = func() int { return tc.euid }
		prefix, err := e.Acquire(context.Background(), nil)
		if err != nil || prefix != nil {
			t.Errorf("%s euid %d: prefix %q err %v", tc.method, tc.euid, prefix, err)
		}
		if c := calls(); len(c) != 1 || c[0] != "" {
			t.Errorf("%s euid %d: ran %q", tc.method, tc.euid, c)
		}
	}
}

func TestElevatorDoasAndRun0(t *testing.T) {
	e, calls := fakeElevator(t, "doas", "0")
	if _, err := e.Acquire(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := calls(); got[0] != "-n true" {
		t.Errorf("doas calls %q", got)
	}
	r, calls := fakeElevator(t, "run0", "0")
	prefix, err := r.Acquire(context.Background(), nil)
	if err != nil || len(prefix) != 2 {
		t.Fatalf("run0: %q %v", prefix, err)
	}
	if got := calls(); got[0] != "" {
		t.Errorf("run0 validated: %q", got)
	}
}

func TestElevatorErrors(t *testing.T) {
	e := &Elevator{Method: "su", Euid: func() int { return 1000 }}
	if _, err := e.Acquire(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "allowed: sudo, doas, run0, none") {
		t.Errorf("unknown method: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	e = &Elevator{Method: "doas", Euid: func() int { return 1000 }}
	if _, err := e.Acquire(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "doas is not installed") {
		t.Errorf("missing program: %v", err)
	}
}

// The elevated runner really runs the command through the prefix.
func TestElevatorPrefixRuns(t *testing.T) {
	e, calls := fakeElevator(t, "sudo", "0")
	prefix, err := e.Acquire(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Elevate: prefix}
	if err := r.Run(context.Background(), Cmd{Args: []string{"nix-env", "--set", "x"}, Root: true}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range calls() {
		found = found || c == "-- nix-env --set x"
	}
	if !found {
		t.Errorf("calls %q", calls())
	}
}

func TestForeignOwnerWarning(t *testing.T) {
	dir := t.TempDir()
	if got := ForeignOwnerWarning(dir, 1000); got != "" {
		t.Errorf("not root: %q", got)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	if got := ForeignOwnerWarning(dir, 0); got != "" {
		t.Errorf("root's own directory: %q", got)
	}
	if err := os.Chown(dir, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	got := ForeignOwnerWarning(dir, 0)
	for _, want := range []string{dir, "uid 4242", "flake.lock, commits", "root's"} {
		if !strings.Contains(got, want) {
			t.Errorf("warning %q lacks %q", got, want)
		}
	}
	if ForeignOwnerWarning(filepath.Join(dir, "missing"), 0) != "" {
		t.Error("missing directory warned")
	}
}
