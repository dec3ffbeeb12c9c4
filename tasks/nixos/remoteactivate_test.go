package nixos

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// These tests treat the Nix sandbox as a host reached over ssh: fakeSSH
// runs every remote command here, in the sandbox's environment, so the
// scripts rebuild runs on a target (the detached steps and their records,
// the watchdog, the rollback, the generations) run for real against a
// real profile and switch-to-configuration stand-in.

// remoteWorld is a world whose host (the sandbox's, nixtest.Host) has
// target root@fake: its commands go through f.
type remoteWorld struct {
	*world
	f     *fakeSSH
	host  config.Host
	state string // remote_state_dir
}

func newRemoteWorld(t *testing.T) *remoteWorld {
	t.Helper()
	w := newWorld(t)
	rw := &remoteWorld{world: w, f: newFakeSSH(t), host: config.Host{Name: nixtest.Host, Target: "root@fake", BuildOn: config.BuildLocal},
		state: filepath.Join(t.TempDir(), "remote-state")}
	// Whatever a test leaves armed ends with it.
	t.Cleanup(func() { rw.stopWatchdog() })
	return rw
}

// env is a per-host Env of task name on the remote host; opts are its
// [task.NAME] options.
func (rw *remoteWorld) env(name string, opts map[string]any) *tasks.Env {
	env := rw.world.env(tasks.OnHost(name, rw.host.Name), opts)
	rw.tables[env].Name = name
	h := rw.host
	env.Host = &h
	env.Runner.Environ = rw.f.environ(env.Runner.Environ)
	// The configuration's activate keeps its records (and the target
	// lock, which generations takes too) under rw.state, not this
	// machine's /var/lib/rebuild.
	cfg := *env.Config
	cfg.Tasks = maps.Clone(cfg.Tasks)
	if cfg.Tasks == nil {
		cfg.Tasks = map[string]config.Task{}
	}
	if _, ok := cfg.Tasks["activate"]; !ok {
		cfg.Tasks["activate"] = config.Task{Name: "activate", Options: map[string]any{"remote_state_dir": rw.state}}
	}
	env.Config = &cfg
	return env
}

// activateOpts are activate's options with the records under rw.state.
func (rw *remoteWorld) activateOpts(more map[string]any) map[string]any {
	o := map[string]any{"remote_state_dir": rw.state}
	for k, v := range more {
		o[k] = v
	}
	return o
}

// build builds the new system (foo 1.2) here, as build_on = local does,
// and returns it and the running one.
func (rw *remoteWorld) build() (out, old string) {
	rw.t.Helper()
	old, _ = nixtest.Resolve(rw.s.CurrentSystem)
	if err := rw.s.SetVersion("1.2"); err != nil {
		rw.t.Fatal(err)
	}
	rw.mustRun(FlakeUpdate{}, rw.world.env("flake-update", nil))
	env := rw.mustRun(Build{}, rw.env("build", nil))
	b, ok := BuiltKey.Get(env)
	if !ok || !b.Changed || b.Running != old {
		rw.t.Fatalf("build handed on %+v (running %s)", b, old)
	}
	return b.Out, old
}

// activated is what activate handed on for the host.
func (rw *remoteWorld) activated() (tasks.Activation, bool) {
	return tasks.Activated.On(rw.host.Name).Get(rw.values)
}

// watchdogPid is the pid of the armed watchdog, 0 when none runs.
func (rw *remoteWorld) watchdogPid() int {
	b, err := os.ReadFile(filepath.Join(rw.state, "confirm", "pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

func (rw *remoteWorld) stopWatchdog() {
	if pid := rw.watchdogPid(); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// waitFor polls cond for up to limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The safe order on the target: test and boot detached, the profile set,
// a watchdog armed before the switch, the host reached again over a fresh
// connection; Confirm disarms it over a fresh connection, Rollback goes
// back to the generation before over ssh.
func TestRemoteActivateConfirmAndRollback(t *testing.T) {
	rw := newRemoteWorld(t)
	out, old := rw.build()
	env := rw.env("activate", rw.activateOpts(map[string]any{"confirm_timeout": "60s"}))
	rw.mustRun(Activate{}, env)

	if got := rw.s.SwitchSystems(); !slices.Equal(got, []string{"test " + out, "boot " + out}) {
		t.Errorf("switch-to-configuration calls %q", got)
	}
	gens, cur, _ := rw.s.Generations()
	if !slices.Equal(gens, []int{1, 2}) || cur != 2 {
		t.Errorf("generations %v current %d", gens, cur)
	}
	act, ok := rw.activated()
	if !ok || act.Path != out || act.Generation != 2 || act.Previous != 1 || act.Confirm == nil || act.Rollback == nil {
		t.Fatalf("activate handed on %+v", act)
	}
	if rw.watchdogPid() == 0 {
		t.Fatal("no watchdog runs on the target after the switch")
	}
	// After boot, the host is reached again over a connection of its own.
	calls := rw.f.calls(t)
	boot := slices.IndexFunc(calls, func(c sshCall) bool { return strings.Contains(c.remote(), "switch-to-configuration boot of") })
	if boot < 0 || !slices.ContainsFunc(calls[boot+1:], func(c sshCall) bool {
		return slices.Contains(c.argv, "ControlPath=none") && strings.Contains(c.remote(), "readlink")
	}) {
		t.Errorf("the host was not reached again over a fresh connection after boot: %v", calls)
	}
	if slices.ContainsFunc(calls[:boot+1], func(c sshCall) bool { return slices.Contains(c.argv, "ControlPath=none") }) {
		t.Error("a fresh connection before the switch was done")
	}
	log := env.Log.(*taskstest.Buffer).String()
	for _, want := range []string{"$ ssh demo -- switch-to-configuration test of " + out + " (detached)", "start test", "end boot", "armed a rollback of demo to generation 1 unless confirmed within 1m0s"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, markStarted) || strings.Contains(log, markStatus) {
		t.Errorf("the scripts' markers are in the log:\n%s", log)
	}

	// accept keeps it: confirmed over a fresh connection, the watchdog ends.
	accept := rw.env("accept", nil)
	if err := act.Confirm(context.Background(), accept); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the watchdog to end", func() bool { return rw.watchdogPid() == 0 })
	if _, err := os.Stat(filepath.Join(rw.state, "confirm")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the confirm record is still there: %v", err)
	}
	calls = rw.f.calls(t)
	if last := calls[len(calls)-1]; !slices.Contains(last.argv, "ControlPath=none") || !strings.Contains(last.remote(), "confirmed") {
		t.Errorf("confirmed without a fresh connection: %q", last.argv)
	}

	// A rejection later rolls back over ssh, detached like the switch.
	gate := rw.env("health", nil)
	if err := act.Rollback(context.Background(), gate); err != nil {
		t.Fatal(err)
	}
	if got := rw.s.SwitchSystems(); !slices.Equal(got[2:], []string{"switch " + old}) {
		t.Errorf("rollback's switch-to-configuration calls %q", got)
	}
	if _, cur, _ := rw.s.Generations(); cur != 1 {
		t.Errorf("current generation %d after the rollback", cur)
	}
	if a := strings.Join(gate.Report().Actions, "\n"); !strings.Contains(a, "rolled back demo from generation 2 to 1 ("+old+")") {
		t.Errorf("rollback actions %q", a)
	}

	// The next run has nothing to report: every step was followed to its
	// end.
	rw.values = tasks.NewValues()
	BuiltKey.On(rw.host.Name).Put(rw.values, Built{Out: old})
	next := rw.env("activate", rw.activateOpts(nil))
	if kind, _ := outcome(rw.run(Activate{}, next)); kind != tasks.Skipped {
		t.Errorf("next run: %v", kind)
	}
	if w := next.Report().Warnings; len(w) != 0 {
		t.Errorf("next run's warnings %q", w)
	}
}

// A switch that locks rebuild out: the host cannot be reached after
// switch-to-configuration test. activate fails naming the host and what
// happens to it, and the watchdog on the target rolls it back by itself
// within the confirm timeout.
func TestRemoteActivateLockoutRollsBack(t *testing.T) {
	rw := newRemoteWorld(t)
	out, old := rw.build()
	rw.f.lockout(t)
	env := rw.env("activate", rw.activateOpts(map[string]any{"confirm_timeout": "2s"}))
	start := time.Now()
	err := rw.run(Activate{}, env)
	if err == nil {
		t.Fatal("activate succeeded on a host it cannot reach")
	}
	for _, want := range []string{"demo (root@fake)", "Connection refused", "the watchdog there rolls it back to generation 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, ok := rw.activated(); ok {
		t.Error("a failed activation handed on an Activation")
	}
	fired := filepath.Join(rw.state, "confirm", "fired")
	waitFor(t, 10*time.Second, "the watchdog to roll back", func() bool { _, err := os.Stat(fired); return err == nil })
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("the rollback came %s after the activation began (confirm timeout 2s)", took)
	}
	if b, _ := os.ReadFile(fired); strings.TrimSpace(string(b)) != "1 0" {
		t.Errorf("fired %q", b)
	}
	if got := rw.s.SwitchSystems(); !slices.Equal(got, []string{"test " + out, "switch " + old}) {
		t.Errorf("switch-to-configuration calls %q", got)
	}
	if cur, _ := nixtest.Resolve(rw.s.CurrentSystem); cur != old {
		t.Errorf("running %s after the rollback, want %s", cur, old)
	}

	// The next run, the host reachable again, reports it once.
	rw.f.setDown(t, false)
	rw.values = tasks.NewValues()
	BuiltKey.On(rw.host.Name).Put(rw.values, Built{Out: old})
	next := rw.env("activate", rw.activateOpts(nil))
	if kind, _ := outcome(rw.run(Activate{}, next)); kind != tasks.Skipped {
		t.Errorf("next run: %v", kind)
	}
	if w := strings.Join(next.Report().Warnings, "\n"); !strings.Contains(w, "demo: an earlier run was not confirmed in time: its confirm watchdog rolled back to generation 1") {
		t.Errorf("next run's warnings %q", w)
	}
	if _, err := os.Stat(filepath.Join(rw.state, "confirm")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the record was not cleared: %v", err)
	}
}

// A failing test leaves the profile alone (and disarms the watchdog); a
// failing boot puts the profile back, on the target.
func TestRemoteActivateFailures(t *testing.T) {
	rw := newRemoteWorld(t)
	rw.build()
	for _, tc := range []struct {
		fail, want string
		gens       []int
	}{
		{"test", "switch-to-configuration test failed on demo; the profile and the boot default are unchanged", []int{1}},
		{"boot", "switch-to-configuration boot failed on demo; the profile was put back to generation 1", []int{1, 2}},
	} {
		env := rw.env("activate", rw.activateOpts(map[string]any{"confirm_timeout": "60s"}))
		env.Runner.Environ = append(env.Runner.Environ, "NIXTEST_SWITCH_FAIL="+tc.fail, "NIXTEST_SWITCH_CODE=3")
		err := rw.run(Activate{}, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.fail+" failed (NIXTEST_SWITCH_FAIL)") {
			t.Errorf("%s failing: %v", tc.fail, err)
		}
		gens, cur, _ := rw.s.Generations()
		if cur != 1 || !slices.Equal(gens, tc.gens) {
			t.Errorf("%s failing: generation %d of %v", tc.fail, cur, gens)
		}
		if pid := rw.watchdogPid(); pid != 0 {
			t.Errorf("%s failing: the watchdog (pid %d) still runs", tc.fail, pid)
		}
	}
}

// A connection dropped while a step runs: the step goes on there, and
// rebuild reaches the host again and follows it to its end.
func TestRemoteActivateReconnects(t *testing.T) {
	rw := newRemoteWorld(t)
	out, _ := rw.build()
	env := rw.env("activate", rw.activateOpts(nil))
	env.Runner.Environ = append(env.Runner.Environ, "NIXTEST_SWITCH_SLOW=15")
	task, err := Activate{}.Configure(config.Task{Name: "activate", Options: rw.activateOpts(nil)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- task.Run(context.Background(), env) }()

	// Drop the connection that started test, once test is under way.
	outputLog := filepath.Join(rw.state, "activation", "output.log")
	waitFor(t, 10*time.Second, "test to start", func() bool {
		b, _ := os.ReadFile(outputLog)
		return strings.Contains(string(b), "switch-to-configuration test: step 2")
	})
	var pid int
	for _, c := range rw.f.calls(t) {
		if strings.Contains(c.remote(), "switch-to-configuration test of") {
			pid = c.pid
		}
	}
	if pid == 0 {
		t.Fatal("no ssh call started test")
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("activate: %v\n%s", err, env.Log.(*taskstest.Buffer).String())
	}
	log := env.Log.(*taskstest.Buffer).String()
	if !strings.Contains(log, "lost demo (root@fake)") || !strings.Contains(log, "reaching it again to follow switch-to-configuration test") {
		t.Errorf("log does not tell the reconnection:\n%s", log)
	}
	// Every line of test's output once: followed on from where it was.
	if n := strings.Count(log, "switch-to-configuration test: step 14"); n != 1 {
		t.Errorf("test's last step logged %d times:\n%s", n, log)
	}
	if got := rw.s.SwitchSystems(); !slices.Equal(got, []string{"test " + out, "boot " + out}) {
		t.Errorf("switch-to-configuration calls %q", got)
	}
}

// A refusal to switch live (a switch inhibitor) makes the new system the
// boot default on the target instead, as here.
func TestRemoteActivateInhibited(t *testing.T) {
	rw := newRemoteWorld(t)
	if err := rw.s.SetInhibitor("256.2"); err != nil {
		t.Fatal(err)
	}
	out, old := rw.build()
	env := rw.mustRun(Activate{}, rw.env("activate", rw.activateOpts(nil)))
	act, ok := rw.activated()
	if !ok || act.NotSwitched == "" || act.Path != out {
		t.Fatalf("handed on %+v", act)
	}
	if got := rw.s.SwitchCalls(); !slices.Equal(got, []string{"test", "boot"}) {
		t.Errorf("switch calls %q", got)
	}
	if cur, _ := nixtest.Resolve(rw.s.CurrentSystem); cur != old {
		t.Errorf("switched to %s", cur)
	}
	if w := strings.Join(env.Report().Warnings, "\n"); !strings.Contains(w, "demo: reboot required: systemd 255.1 → 256.2") {
		t.Errorf("warnings %q", w)
	}
}

// remoteWorldWithEarlierRecord is a target with the record of an earlier,
// interrupted run's boot step (it succeeded) and nothing to activate, and
// activate's Env.
func remoteWorldWithEarlierRecord(t *testing.T) (*remoteWorld, string, *tasks.Env) {
	rw := newRemoteWorld(t)
	rec := filepath.Join(rw.state, "activation")
	for name, v := range map[string]string{"what": "switch-to-configuration boot of /nix/store/x", "started": "2026-01-02 03:04:05", "status": "0", "output.log": "end boot\n"} {
		taskstest.WriteFile(t, filepath.Join(rec, name), v+"\n")
	}
	BuiltKey.On(rw.host.Name).Put(rw.values, Built{Out: "/nix/store/x"})
	return rw, rec, rw.env("activate", rw.activateOpts(nil))
}

// An earlier run's activation record on the target is reported and
// cleared before this run's.
func TestRemoteActivateSettlesEarlierRecord(t *testing.T) {
	rw, rec, env := remoteWorldWithEarlierRecord(t)
	if kind, reason := outcome(rw.run(Activate{}, env)); kind != tasks.Skipped || reason != "no changes" {
		t.Errorf("%v %q", kind, reason)
	}
	want := "demo: the earlier activation (switch-to-configuration boot of /nix/store/x, started 2026-01-02 03:04:05), whose run was interrupted, succeeded"
	if w := strings.Join(env.Report().Warnings, "\n"); w != want {
		t.Errorf("warnings %q, want %q", w, want)
	}
	if _, err := os.Stat(rec); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record not cleared: %v", err)
	}
}

// A dry run on a target leaves an earlier run's records there and takes
// no lock: it says what it found.
func TestRemoteDryRunLeavesEarlierRecords(t *testing.T) {
	rw, rec, env := remoteWorldWithEarlierRecord(t)
	env.DryRun = true
	if kind, reason := outcome(rw.run(Activate{}, env)); kind != tasks.Skipped || reason != "no changes" {
		t.Errorf("%v %q", kind, reason)
	}
	want := "demo: dry run: an earlier activation (switch-to-configuration boot of /nix/store/x, started 2026-01-02 03:04:05), whose run was interrupted, ended with exit status 0; a real run reports it and clears its record"
	if w := strings.Join(env.Report().Warnings, "\n"); w != want {
		t.Errorf("warnings %q, want %q", w, want)
	}
	if b, err := os.ReadFile(filepath.Join(rec, "status")); err != nil || string(b) != "0\n" {
		t.Errorf("record changed by a dry run: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(rw.state, "lock.owner")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dry run took the target lock: %v", err)
	}
}

// generations on a target deletes under the target lock: not while
// another run holds it (its activation's watchdog may roll back to a
// generation the policy would delete), and under its own run's lock when
// that run's activation still holds it.
func TestRemoteGenerationsTakeTheTargetLock(t *testing.T) {
	rw := newRemoteWorld(t)
	for _, v := range []string{"1.1", "1.3"} { // build() builds 1.2
		if _, err := rw.s.AddGeneration(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
	lockFile := filepath.Join(rw.state, "lock")
	taskstest.WriteFile(t, lockFile+".owner", "rebuild on laptop (pid 4242) since 2026-12-01 10:00:00\n")
	other := exec.Command("flock", "-w", "30", "-o", lockFile, "sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the other run's lock", func() bool {
		return exec.Command("flock", "-n", lockFile, "true").Run() != nil
	})
	env := rw.env("generations", map[string]any{"keep": int64(1), "loader_entries": rw.s.BootEntries})
	err := rw.run(Generations{}, env)
	if err == nil || !strings.Contains(err.Error(), "another rebuild is activating demo (rebuild on laptop (pid 4242)") {
		t.Errorf("generations beside another run's activation: %v", err)
	}
	if gens, _, _ := rw.s.Generations(); len(gens) != 3 {
		t.Errorf("generations deleted under another run's lock: %v", gens)
	}
	other.Process.Kill()
	other.Wait()

	// This run's activation holds the lock (no confirm timeout: until the
	// run ends): generations works under it.
	rw.build()
	rw.mustRun(Activate{}, rw.env("activate", rw.activateOpts(nil)))
	env = rw.env("generations", map[string]any{"keep": int64(1), "loader_entries": rw.s.BootEntries})
	rw.mustRun(Generations{}, env)
	if gens, cur, _ := rw.s.Generations(); !slices.Equal(gens, []int{1, cur}) || cur != 4 { // 1 is booted
		t.Errorf("after keep = 1: %v, current %d", gens, cur)
	}
}

// fakeSystemdRun records its arguments and starts the command after --
// in a session of its own, its output appended where StandardOutput
// says: a transient unit, as far as a step can tell.
const fakeSystemdRun = `#!/bin/sh
for a; do [ "$a" = -- ] && break; printf '%s ' "$a"; done >> "$FAKESSH_DIR/systemd-run"
echo >> "$FAKESSH_DIR/systemd-run"
out=/dev/null
while [ $# -gt 0 ]; do
  case $1 in
  --) shift; break ;;
  --property=StandardOutput=append:*) out=${1#--property=StandardOutput=append:} ;;
  -E) shift ;;
  esac
  shift
done
setsid -f "$@" < /dev/null >> "$out" 2>&1
`

// With detach = "systemd" every step and the watchdog run in transient
// units of their own names (one step starts as the one before ends), the
// output going to the record.
func TestRemoteActivateSystemdUnits(t *testing.T) {
	rw := newRemoteWorld(t)
	rw.f.tool(t, "systemd-run", fakeSystemdRun)
	out, _ := rw.build()
	rw.mustRun(Activate{}, rw.env("activate", rw.activateOpts(map[string]any{"detach": "systemd", "confirm_timeout": "60s"})))
	if got := rw.s.SwitchSystems(); !slices.Equal(got, []string{"test " + out, "boot " + out}) {
		t.Errorf("switch-to-configuration calls %q", got)
	}
	b, err := os.ReadFile(filepath.Join(rw.f.dir, "systemd-run"))
	if err != nil {
		t.Fatal(err)
	}
	calls := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(calls) != 3 {
		t.Fatalf("systemd-run calls:\n%s", b)
	}
	units := map[string]bool{}
	for i, c := range calls {
		prefix := "--unit=" + remoteUnit + "-"
		rec := filepath.Join(rw.state, "activation")
		if i == 0 {
			prefix, rec = "--unit="+confirmUnit+"-", filepath.Join(rw.state, "confirm")
		}
		f := strings.Fields(c)
		if !strings.HasPrefix(f[0], prefix) || len(f[0]) != len(prefix)+16 || units[f[0]] {
			t.Errorf("call %d: unit %q", i, f[0])
		}
		units[f[0]] = true
		for _, want := range []string{"--collect", "--service-type=exec", "--no-ask-password", "--property=StandardOutput=append:" + rec + "/output.log"} {
			if !slices.Contains(f, want) {
				t.Errorf("call %d lacks %s: %s", i, want, c)
			}
		}
	}
	act, _ := rw.activated()
	if err := act.Confirm(context.Background(), rw.env("accept", nil)); err != nil {
		t.Fatal(err)
	}
}

// One activation at a time on a target: a host whose lock another
// rebuild holds is not touched (the error names the holder); an
// activation holds the lock until its outcome is decided — confirmed, or
// rolled back — not only while it switches.
func TestRemoteActivateTargetLock(t *testing.T) {
	rw := newRemoteWorld(t)
	out, _ := rw.build()
	lockFile := filepath.Join(rw.state, "lock")
	held := func() bool {
		return exec.Command("flock", "-n", lockFile, "true").Run() != nil
	}
	if err := os.MkdirAll(rw.state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockFile+".owner", []byte("rebuild on laptop (pid 4242) since 2026-12-01 10:00:00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// -o: the lock is flock's, gone with it. Not -n: held's own probe
	// takes the lock for a moment, and the other run must wait it out
	// rather than give up (CI lost that race under load).
	other := exec.Command("flock", "-w", "30", "-o", lockFile, "sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the other run's lock", held)
	err := rw.run(Activate{}, rw.env("activate", rw.activateOpts(map[string]any{"confirm_timeout": "60s"})))
	if err == nil || !strings.Contains(err.Error(), "another rebuild is activating demo (rebuild on laptop (pid 4242)") {
		t.Fatalf("activating a locked host: %v", err)
	}
	if calls := rw.s.SwitchSystems(); len(calls) != 0 {
		t.Errorf("a locked host was switched: %q", calls)
	}
	other.Process.Kill()
	other.Wait()

	for _, decide := range []string{"confirm", "rollback"} {
		env := rw.env("activate", rw.activateOpts(map[string]any{"confirm_timeout": "60s"}))
		rw.mustRun(Activate{}, env)
		act, ok := rw.activated()
		if !ok || act.Path != out && decide == "confirm" {
			t.Fatalf("%s: activated %+v", decide, act)
		}
		if !held() {
			t.Errorf("%s: the lock was let go before the activation was decided", decide)
		}
		if decide == "confirm" {
			err = act.Confirm(context.Background(), env)
		} else {
			err = act.Rollback(context.Background(), env)
		}
		if err != nil {
			t.Fatalf("%s: %v", decide, err)
		}
		waitFor(t, 10*time.Second, "the lock to be let go after "+decide, func() bool { return !held() })
		if decide == "confirm" {
			// Next round activates the same system again: from the old one.
			rw.mustRun(Activate{}, rw.env("activate", rw.activateOpts(nil)))
			a, _ := rw.activated()
			if err := a.Rollback(context.Background(), env); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the lock to be let go", func() bool { return !held() })
		}
		rw.values = tasks.NewValues()
		BuiltKey.On(rw.host.Name).Put(rw.values, Built{Out: out, Changed: true})
	}
}
