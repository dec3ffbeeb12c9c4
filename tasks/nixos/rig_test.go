package nixos

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
)

// These tests run the tasks against nixtest's remote hosts: a real sshd
// on 127.0.0.1 per host, each command there in a mount namespace of its
// own where the host's store, profile, run and state directories stand
// at the sandbox's paths. Nothing is faked: nix copy, the remote builder
// and the build on the target move paths between real stores, and the
// host's switch-to-configuration records what ran on it. They skip
// without nix, sshd, unshare or root (nixtest.RemoteAvailable says why).

// rigWorld is a world whose flake has remote hosts.
type rigWorld struct {
	*world
	hosts map[string]*nixtest.Remote
	cfg   map[string]config.Host // each host's [host.NAME], as a run would have it
}

func newRigWorld(t *testing.T, names ...string) *rigWorld {
	t.Helper()
	nixtest.RemoteAvailable(t)
	w := newWorld(t)
	rw := &rigWorld{world: w, hosts: map[string]*nixtest.Remote{}, cfg: map[string]config.Host{}}
	for _, n := range names {
		r := w.s.StartRemote(t, n)
		rw.hosts[n], rw.cfg[n] = r, r.Host()
	}
	return rw
}

// env is the Env of task name on host h (name@h), opts its options.
func (rw *rigWorld) env(name, h string, opts map[string]any) *tasks.Env {
	env := rw.world.env(tasks.OnHost(name, h), opts)
	rw.tables[env].Name = name
	host := rw.cfg[h]
	env.Host = &host
	env.Config.Host = h
	env.Config.Hosts = rw.cfg
	return env
}

// activateOpts keep the records in the state directory, which is each
// host's own on the host.
func (rw *rigWorld) activateOpts(more map[string]any) map[string]any {
	o := map[string]any{"remote_state_dir": filepath.Join(rw.s.Config().StateDir, "host-records")}
	for k, v := range more {
		o[k] = v
	}
	return o
}

// built is what build@h handed on.
func (rw *rigWorld) built(h string) Built {
	b, _ := BuiltKey.On(h).Get(rw.values)
	return b
}

// One host, the whole chain: built here, copied into the host's store,
// compared there, switched there (not here) with a watchdog that a
// confirmation over a fresh connection disarms, rolled back there, and
// its old generation deleted there.
func TestRigHostChain(t *testing.T) {
	rw := newRigWorld(t, "web1")
	web := rw.hosts["web1"]
	if err := rw.s.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	rw.mustRun(FlakeUpdate{}, rw.world.env("flake-update", nil))
	rw.mustRun(Build{}, rw.env("build", "web1", nil))
	b := rw.built("web1")
	if !b.Changed || b.Running != web.System || web.Has(b.Out) {
		t.Fatalf("build handed on %+v (web1 runs %s; has it: %v)", b, web.System, web.Has(b.Out))
	}
	out := b.Out

	cp := rw.mustRun(Copy{}, rw.env("copy", "web1", nil))
	if !web.Has(out) {
		t.Fatalf("copy: %s is not in web1's store", out)
	}
	sts := strings.Join(rw.status.Of("copy@web1"), "\n")
	if !strings.Contains(sts, "copying 0/") || !strings.Contains(stats(cp), "to web1") {
		t.Errorf("copy statuses:\n%s\nstats %q", sts, stats(cp))
	}

	d := rw.mustRun(Diff{}, rw.env("diff", "web1", nil))
	if st := stats(d); !strings.Contains(st, "foo 1.0 → 1.2") {
		t.Errorf("diff stats %q", st)
	}

	rw.mustRun(Activate{}, rw.env("activate", "web1", rw.activateOpts(map[string]any{"confirm_timeout": "60s"})))
	if got := web.SwitchSystems(); !slices.Equal(got, []string{"test " + out, "boot " + out}) {
		t.Errorf("web1's switch-to-configuration calls %q", got)
	}
	if got := rw.s.SwitchCalls(); len(got) != 0 {
		t.Errorf("switch-to-configuration ran here: %q", got)
	}
	if gens, cur, _ := web.Generations(); !slices.Equal(gens, []int{1, 2}) || cur != 2 {
		t.Errorf("web1's generations %v current %d", gens, cur)
	}
	if cur, _ := web.CurrentSystem(); cur != out {
		t.Errorf("web1 runs %s", cur)
	}
	act, ok := tasks.Activated.On("web1").Get(rw.values)
	if !ok || act.Generation != 2 || act.Previous != 1 || act.Confirm == nil {
		t.Fatalf("activate handed on %+v", act)
	}
	records := filepath.Join(web.Dir, "state", "host-records")
	if _, err := os.Stat(filepath.Join(records, "confirm", "pid")); err != nil {
		t.Errorf("no watchdog armed on web1: %v", err)
	}

	h := rw.mustRun(Health{Options: defaultHealthOptions()}, rw.env("health", "web1", nil))
	if !strings.Contains(stats(h), "on web1") {
		t.Errorf("health stats %q", stats(h))
	}

	if err := act.Confirm(context.Background(), rw.env("accept", "web1", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(records, "confirm")); !os.IsNotExist(err) {
		t.Errorf("the watchdog's record is still on web1: %v", err)
	}

	// Nothing changed, and web1 runs it: the fingerprint spares the
	// evaluation, judged by what runs there, not here.
	again := rw.mustRun(Build{}, rw.env("build", "web1", nil))
	if st := stats(again); st != "no changes (fingerprint)" {
		t.Errorf("build again: %q", st)
	}

	gate := rw.env("health", "web1", nil)
	if err := act.Rollback(context.Background(), gate); err != nil {
		t.Fatal(err)
	}
	// web1 runs the old system again: the same fingerprint evaluates.
	again = rw.mustRun(Build{}, rw.env("build", "web1", nil))
	if b := rw.built("web1"); !b.Changed || strings.Contains(stats(again), "fingerprint") {
		t.Errorf("build after the rollback: %+v %q", b, stats(again))
	}
	if got := web.SwitchSystems(); len(got) != 3 || got[2] != "switch "+web.System {
		t.Errorf("web1's switch-to-configuration calls after the rollback %q", got)
	}
	if cur, _ := web.CurrentSystem(); cur != web.System {
		t.Errorf("web1 runs %s after the rollback, want %s", cur, web.System)
	}

	g := rw.mustRun(Generations{}, rw.env("generations", "web1", map[string]any{"keep": int64(0)}))
	if gens, cur, _ := web.Generations(); !slices.Equal(gens, []int{1}) || cur != 1 {
		t.Errorf("web1's generations after keep = 0: %v current %d (%q)", gens, cur, g.Report().Actions)
	}
	if gens, _, _ := rw.s.Generations(); !slices.Equal(gens, []int{1}) {
		t.Errorf("generations here changed: %v", gens)
	}
}

// build_on = "target" builds on the host and leaves the result there;
// build_on = another host builds on that one as a Nix remote builder and
// brings the result here, for copy.
func TestRigBuildOnTargetAndBuilder(t *testing.T) {
	rw := newRigWorld(t, "web1", "web2")
	web1, web2 := rw.hosts["web1"], rw.hosts["web2"]
	h1, h2 := rw.cfg["web1"], rw.cfg["web2"]
	h1.BuildOn, h2.BuildOn = config.BuildTarget, "web1"
	rw.cfg["web1"], rw.cfg["web2"] = h1, h2
	if err := rw.s.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	rw.mustRun(FlakeUpdate{}, rw.world.env("flake-update", nil))

	rw.mustRun(Build{}, rw.env("build", "web1", nil))
	b1 := rw.built("web1")
	if !b1.OnTarget || !b1.Changed || !web1.Has(b1.Out) {
		t.Fatalf("build_on target: %+v (on web1: %v)", b1, web1.Has(b1.Out))
	}
	if _, err := os.Lstat(b1.Out); err == nil {
		t.Errorf("build_on target: %s is in the store here too", b1.Out)
	}
	if kind, reason := outcome(rw.run(Copy{}, rw.env("copy", "web1", nil))); kind != tasks.Skipped || reason != "built on web1: the system is there already" {
		t.Errorf("copy@web1: %v %q", kind, reason)
	}

	rw.mustRun(Build{}, rw.env("build", "web2", nil))
	b2 := rw.built("web2")
	if b2.OnTarget || !b2.Changed || !web1.Has(b2.Out) || web2.Has(b2.Out) {
		t.Fatalf("build_on web1: %+v (on web1: %v, on web2: %v)", b2, web1.Has(b2.Out), web2.Has(b2.Out))
	}
	if _, err := os.Lstat(b2.Out); err != nil {
		t.Errorf("build_on web1: the result did not come back here: %v", err)
	}
	rw.mustRun(Copy{}, rw.env("copy", "web2", nil))
	if !web2.Has(b2.Out) {
		t.Fatal("copy@web2 did not put the system on web2")
	}

	// Each host switches to its own system, built where it was.
	for _, c := range []struct {
		h   string
		r   *nixtest.Remote
		out string
	}{{"web1", web1, b1.Out}, {"web2", web2, b2.Out}} {
		rw.mustRun(Activate{}, rw.env("activate", c.h, rw.activateOpts(nil)))
		if got := c.r.SwitchSystems(); !slices.Equal(got, []string{"test " + c.out, "boot " + c.out}) {
			t.Errorf("%s's switch-to-configuration calls %q", c.h, got)
		}
		if host, _ := os.ReadFile(filepath.Join(c.r.Store, filepath.Base(c.out), "host")); strings.TrimSpace(string(host)) != c.h {
			t.Errorf("%s switched to the system of %q", c.h, host)
		}
	}
}

// A configuration that stops the host's sshd when switched to: rebuild
// cannot reach the host after switch-to-configuration test, activate
// fails naming it, and the watchdog on the host rolls it back within the
// confirm timeout — which starts its sshd again.
func TestRigLockoutRollsBack(t *testing.T) {
	rw := newRigWorld(t, "web1")
	web := rw.hosts["web1"]
	if err := rw.s.SetLockOut("web1", true); err != nil {
		t.Fatal(err)
	}
	rw.mustRun(Build{}, rw.env("build", "web1", nil))
	out := rw.built("web1").Out
	rw.mustRun(Copy{}, rw.env("copy", "web1", nil))

	start := time.Now()
	err := rw.run(Activate{}, rw.env("activate", "web1", rw.activateOpts(map[string]any{"confirm_timeout": "3s"})))
	for _, want := range []string{"web1 (" + web.Target() + ")", "the watchdog there rolls it back to generation 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("activate's error lacks %q: %v", want, err)
		}
	}
	waitFor(t, 20*time.Second, "web1 to roll itself back", func() bool {
		cur, _ := web.CurrentSystem()
		return cur == web.System
	})
	t.Logf("rolled back %s after activate began (confirm timeout 3s); activate ended %v", time.Since(start).Round(100*time.Millisecond), err != nil)
	got := web.SwitchSystems()
	if len(got) < 2 || got[0] != "test "+out || got[len(got)-1] != "switch "+web.System {
		t.Errorf("web1's switch-to-configuration calls %q", got)
	}
	if gens, cur, _ := web.Generations(); cur != 1 {
		t.Errorf("web1's profile at generation %d of %v after the rollback", cur, gens)
	}
	// The old configuration started sshd again: web1 can be reached.
	waitFor(t, 10*time.Second, "web1's sshd", func() bool {
		_, err := web.Run(context.Background(), "true")
		return err == nil
	})
}
