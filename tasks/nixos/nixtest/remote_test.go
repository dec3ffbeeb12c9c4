package nixtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// derivation is a Nix expression of a derivation no other test builds
// (its name carries the test's name and the time): built only by shell
// built-ins, as a remote builder's PATH is empty.
func derivation(t *testing.T, tag string) string {
	name := fmt.Sprintf("rig-%s-%d", tag, time.Now().UnixNano())
	return fmt.Sprintf(`builtins.derivation { name = %q; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo %s > $out" ]; }`, name, name)
}

// buildExpr builds a Nix expression with extra arguments and environment
// and returns its output path.
func buildExpr(t *testing.T, s *Sandbox, env []string, expr string, args ...string) string {
	t.Helper()
	argv := append([]string{"nix", "build", "--no-link", "--json", "--impure", "--expr", expr}, args...)
	out, err := s.RunEnv(t.Context(), env, argv...)
	if err != nil {
		t.Fatal(err)
	}
	var res []struct{ Outputs map[string]string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0].Outputs["out"] == "" {
		t.Fatalf("nix build --json: %q: %v", out, err)
	}
	return res[0].Outputs["out"]
}

// inLocalStore reports whether p is in the sandbox's own store.
func inLocalStore(s *Sandbox, p string) bool {
	_, err := os.Lstat(filepath.Join(s.Store, filepath.Base(p)))
	return err == nil
}

// A new remote host runs its own generation 1 of its own configuration,
// in its own store, current and booted, with a boot entry, reached over a
// real sshd, and its commands see the sandbox's paths with its own things
// behind them.
func TestRemoteNew(t *testing.T) {
	RemoteAvailable(t)
	t.Parallel()
	s := NewT(t)
	a := s.StartRemote(t, "alpha")
	if got := s.Hosts(); !slices.Equal(got, []string{Host, "alpha"}) {
		t.Errorf("flake hosts %v", got)
	}
	if !strings.HasPrefix(a.System, s.Store+"/") || !strings.HasSuffix(a.System, "-nixos-system-alpha") || !a.Has(a.System) {
		t.Fatalf("system %q (in the host's store: %v)", a.System, a.Has(a.System))
	}
	gens, cur, err := a.Generations()
	if err != nil || !slices.Equal(gens, []int{1}) || cur != 1 {
		t.Errorf("generations %v current %d: %v", gens, cur, err)
	}
	c, err1 := a.CurrentSystem()
	b, err2 := a.BootedSystem()
	if c != a.System || b != a.System || err1 != nil || err2 != nil {
		t.Errorf("current %q booted %q (%v, %v), want %q", c, b, err1, err2, a.System)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "boot", "nixos-generation-1.conf")); err != nil {
		t.Error(err)
	}
	// The sandbox's own system is untouched: still its generation 1.
	if gens, cur, _ := s.Generations(); !slices.Equal(gens, []int{1}) || cur != 1 {
		t.Errorf("sandbox generations %v current %d", gens, cur)
	}
	if p, _ := Resolve(s.CurrentSystem); !strings.HasSuffix(p, "-nixos-system-"+Host) {
		t.Errorf("sandbox current system %q", p)
	}
	out, err := a.Run(t.Context(), `echo "$NIXTEST_HOST $NIX_STORE_DIR"; cat "$(readlink "$NIXTEST_CURRENT_SYSTEM")/host"; nix-env -p "$NIXTEST_PROFILE" --list-generations | wc -l`)
	if want := "alpha " + s.Store + "\nalpha\n1\n"; err != nil || out != want {
		t.Errorf("on the host: %q, %v; want %q", out, err, want)
	}
	if h := a.Host(); h.Name != "alpha" || h.Target != a.Target() || !strings.HasPrefix(h.Target, "root@127.0.0.1:") || h.Elevate != "none" {
		t.Errorf("Host() = %+v", h)
	}
}

// nix copy to one host lands in that host's store and nowhere else; a
// build on a host (--store ssh-ng://) happens in its store, not here; a
// remote build (--builders) happens in the builder's store and the result
// comes back.
func TestRemoteStores(t *testing.T) {
	RemoteAvailable(t)
	t.Parallel()
	s := NewT(t)
	a := s.StartRemote(t, "alpha")
	b := s.StartRemote(t, "beta")
	ctx := t.Context()

	p := buildExpr(t, s, nil, derivation(t, "copy"))
	if a.Has(p) || b.Has(p) {
		t.Fatalf("%s on a host before the copy", p)
	}
	if _, err := s.RunEnv(ctx, a.Env(), "nix", "copy", "--no-check-sigs", "--to", a.StoreURI(), p); err != nil {
		t.Fatal(err)
	}
	if !a.Has(p) || b.Has(p) {
		t.Errorf("after copying to alpha: in alpha %v, in beta %v", a.Has(p), b.Has(p))
	}
	// Each host's Nix database says the same as its store directory.
	if _, err := a.Run(ctx, "nix path-info "+shq(p)); err != nil {
		t.Errorf("alpha's Nix does not know %s: %v", p, err)
	}
	if out, err := b.Run(ctx, "nix path-info "+shq(p)); err == nil {
		t.Errorf("beta's Nix knows %s: %q", p, out)
	}

	q := buildExpr(t, s, a.Env(), derivation(t, "target"), "--eval-store", "auto", "--store", a.StoreURI())
	if !a.Has(q) || b.Has(q) || inLocalStore(s, q) {
		t.Errorf("built on alpha: in alpha %v, in beta %v, here %v", a.Has(q), b.Has(q), inLocalStore(s, q))
	}

	r := buildExpr(t, s, b.Env(), derivation(t, "builder"), "--max-jobs", "0", "--builders", b.Builder())
	if !b.Has(r) || a.Has(r) || !inLocalStore(s, r) {
		t.Errorf("built by beta: in beta %v, in alpha %v, here %v", b.Has(r), a.Has(r), inLocalStore(s, r))
	}
	if text, err := os.ReadFile(filepath.Join(b.Store, filepath.Base(r))); err != nil || !strings.HasPrefix(strings.TrimSpace(string(text)), "rig-builder-") {
		t.Errorf("beta's copy of %s: %q %v", r, text, err)
	}
}

// switch-to-configuration run over ssh runs in the host's namespace: it
// records in that host's switch log only, its current-system link and
// boot entries change, and the system says which host it is.
func TestRemoteSwitch(t *testing.T) {
	RemoteAvailable(t)
	t.Parallel()
	s := NewT(t)
	a := s.StartRemote(t, "alpha")
	b := s.StartRemote(t, "beta")
	if err := a.SetEnv("NIXTEST_SWITCH_FAIL=boot", "NIXTEST_SWITCH_CODE=3"); err != nil {
		t.Fatal(err)
	}
	out, err := a.Run(t.Context(), shq(a.System+"/bin/switch-to-configuration")+" test && cat "+shq(a.System+"/host"))
	if err != nil || !strings.Contains(out, "switch-to-configuration test: "+a.System) || !strings.HasSuffix(out, "alpha\n") {
		t.Fatalf("switch on alpha: %q %v", out, err)
	}
	if got := a.SwitchSystems(); !slices.Equal(got, []string{"test " + a.System}) {
		t.Errorf("alpha's switches %q", got)
	}
	if got := b.SwitchCalls(); got != nil {
		t.Errorf("beta's switches %q", got)
	}
	if got := s.SwitchCalls(); got != nil {
		t.Errorf("the sandbox's switches %q", got)
	}
	// SetEnv reaches the host's commands: its boot fails with code 3.
	_, err = a.Run(t.Context(), shq(a.System+"/bin/switch-to-configuration")+" boot")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("boot on alpha with NIXTEST_SWITCH_FAIL=boot: %v", err)
	}
	if _, err := b.Run(t.Context(), shq(b.System+"/bin/switch-to-configuration")+" boot"); err != nil {
		t.Errorf("boot on beta: %v", err)
	}
	if got := a.SwitchCalls(); !slices.Equal(got, []string{"test", "boot"}) {
		t.Errorf("alpha's switches %q", got)
	}
	if got := b.SwitchCalls(); !slices.Equal(got, []string{"boot"}) {
		t.Errorf("beta's switches %q", got)
	}
}

// Stop makes a fresh connection fail while one already open lives on;
// Start lets one in again.
func TestRemoteStopStart(t *testing.T) {
	RemoteAvailable(t)
	t.Parallel()
	s := NewT(t)
	a := s.StartRemote(t, "alpha")
	open := a.session(t)
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := a.Run(t.Context(), "true"); err == nil {
		t.Fatalf("ssh after Stop: %q", out)
	}
	if got := open.run(t, "echo $NIXTEST_HOST"); got != "alpha" {
		t.Errorf("the open connection after Stop: %q", got)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out, err := a.Run(t.Context(), "echo in"); err != nil || out != "in\n" {
		t.Errorf("ssh after Start: %q %v", out, err)
	}
	// Close ends what the host's commands left running on their own.
	out, err := a.Run(t.Context(), "setsid sleep 300 >/dev/null 2>&1 </dev/null & echo $!")
	pid, _ := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || pid <= 1 || !alive(pid) {
		t.Fatalf("detached sleep on the host: %q %v", out, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("process %d, started on the host, outlived Close", pid)
	}
	if out, err := a.Run(t.Context(), "true"); err == nil {
		t.Errorf("ssh after Close: %q", out)
	}
}

// alive reports whether the process pid runs (exists and is no zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// A configuration that locks you out (SetLockOut) stops the host's sshd
// when switched to; switching back to the one before, from a connection
// still open (as a watchdog on the host would), lets you in again.
func TestRemoteLockOut(t *testing.T) {
	RemoteAvailable(t)
	t.Parallel()
	s := NewT(t)
	a := s.StartRemote(t, "alpha")
	ctx := t.Context()
	if err := s.SetLockOut("alpha", true); err != nil {
		t.Fatal(err)
	}
	bad, err := s.BuildHost(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunEnv(ctx, a.Env(), "nix", "copy", "--no-check-sigs", "--to", a.StoreURI(), bad); err != nil {
		t.Fatal(err)
	}
	open := a.session(t)
	if out := open.run(t, shq(bad+"/bin/switch-to-configuration")+" test 2>&1 | grep sshd"); !strings.Contains(out, "sshd stopped") {
		t.Errorf("switch to the lock-out configuration: %q", out)
	}
	if out, err := a.Run(ctx, "true"); err == nil {
		t.Fatalf("ssh after switching to the lock-out configuration: %q", out)
	}
	if out := open.run(t, shq(a.System+"/bin/switch-to-configuration")+" test 2>&1 | grep sshd"); !strings.Contains(out, "sshd started") {
		t.Errorf("switch back: %q", out)
	}
	if out, err := a.Run(ctx, "echo in"); err != nil || out != "in\n" {
		t.Errorf("ssh after switching back: %q %v", out, err)
	}
	if c, _ := a.CurrentSystem(); c != a.System {
		t.Errorf("current system %q, want %q", c, a.System)
	}
	// The sandbox's own configuration is no lock-out one: its switch
	// outside any remote host touches no sshd.
	if err := s.SetLockOut("alpha", false); err != nil {
		t.Fatal(err)
	}
	if good, err := s.BuildHost(ctx, "alpha"); err != nil || good != a.System {
		t.Errorf("alpha without the lock-out mark builds %q (%v), want %q", good, err, a.System)
	}
}

// session is one ssh connection to the host that stays open: a shell
// reading commands from its standard input.
type session struct {
	in  io.Writer
	out *bufio.Reader
}

func (r *Remote) session(t *testing.T) *session {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, r.SSH("sh")[0], r.SSH("sh")[1:]...)
	cmd.Env = r.s.Environ(nil)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cancel(); _ = cmd.Wait() })
	ss := &session{in: in, out: bufio.NewReader(out)}
	if got := ss.run(t, "echo open"); got != "open" { // connected, logged in
		t.Fatalf("session: %q", got)
	}
	return ss
}

// run runs a command in the session and returns its output's first line.
func (s *session) run(t *testing.T, command string) string {
	t.Helper()
	if _, err := fmt.Fprintf(s.in, "{ %s; } | head -1; echo\n", command); err != nil {
		t.Fatal(err)
	}
	line, err := s.out.ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	if line != "\n" {
		_, _ = s.out.ReadString('\n') // the empty line after it
	}
	return strings.TrimSuffix(line, "\n")
}
