package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
)

// End-to-end tests of runs over several hosts: the rebuild binary, real
// Nix, and "remote hosts" that are real sshd servers on 127.0.0.1, each
// running its commands with a store, profile and switch log of its own
// (nixtest.Remote). Only the public interface is used: [host.NAME]
// tables, flags, the json output, and each host's own files.

// manyHosts is a sandbox with the local host (the sandbox's own, "demo")
// and two remote ones, web1 and web2, and a configuration naming them.
type manyHosts struct {
	*nixosSandbox
	web1, web2 *nixtest.Remote
}

// newManyHosts starts web1 and web2, then writes the configuration: demo
// builds here, web1 is built by web2 as a Nix remote builder, web2 builds
// on itself; hosts appends per-host keys ([host.web1] lines and so on).
// The flake's input then changes (foo 1.2), so every host has a new
// system to build, copy and activate.
func newManyHosts(t *testing.T, extra string, hosts map[string]string) *manyHosts {
	t.Helper()
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	nixtest.RemoteAvailable(t)
	s := nixtest.NewT(t)
	m := &manyHosts{web1: s.StartRemote(t, "web1"), web2: s.StartRemote(t, "web2")}
	q := strconv.Quote
	ssh := func(r *nixtest.Remote) string {
		var opts []string
		for _, o := range r.SSHOptions() {
			opts = append(opts, q(o))
		}
		return "[" + strings.Join(opts, ", ") + "]"
	}
	cfg := filepath.Join(s.Root, "rebuild.toml")
	writeFile(t, cfg, strings.Join([]string{
		"flake = " + q(s.Flake),
		"profile = " + q(s.Profile),
		"current_system = " + q(s.CurrentSystem),
		"booted_system = " + q(s.BootedSystem),
		`elevate = "none"`,
		"state_dir = " + q(filepath.Join(s.Root, "state")),
		extra,
		"[host." + s.Host + "]",
		`target = "local"`,
		`tags = ["home"]`,
		hosts[s.Host],
		"[host.web1]",
		"target = " + q(m.web1.Target()),
		`build_on = "web2"`,
		"ssh_options = " + ssh(m.web1),
		`tags = ["web"]`,
		hosts["web1"],
		"[host.web2]",
		"target = " + q(m.web2.Target()),
		`build_on = "target"`,
		"ssh_options = " + ssh(m.web2),
		`tags = ["web"]`,
		hosts["web2"],
	}, "\n"))
	if err := s.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, dir: s.Root, home: s.Home, cfg: cfg, env: s.RebuildEnviron(cleanEnv())}
	m.nixosSandbox = &nixosSandbox{Sandbox: s, t: t, w: w}
	return m
}

// span is when a host's first task started and its last one finished.
type span struct{ start, end time.Time }

// spans reads each host's span from the json events.
func spans(t *testing.T, r jsonRun) map[string]span {
	t.Helper()
	out := map[string]span{}
	for _, e := range r.events {
		if e.Host == "" || (e.Event != "start" && e.Event != "finish") {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, e.Time)
		if err != nil {
			t.Fatalf("event time %q: %v", e.Time, err)
		}
		s := out[e.Host]
		if s.start.IsZero() || at.Before(s.start) {
			s.start = at
		}
		if at.After(s.end) {
			s.end = at
		}
		out[e.Host] = s
	}
	return out
}

// switched reports whether a host's switch log shows its new system
// (foo 1.2's) switched to with test, then made the boot default.
func switchedTo(calls, systems []string) bool {
	return strings.Contains(strings.Join(calls, " "), "test boot") && len(systems) > 0
}

// One run builds three hosts three ways (here, on a remote builder, on the
// target), copies to the remote ones, and activates each in its own
// store and profile; the chains overlap in time, copy@ reports its
// progress in json, and the summary has a row per host. The same change
// deployed one host at a time (--parallel-hosts 1) is timed beside it.
func TestManyHostsDeployInParallel(t *testing.T) {
	m := newManyHosts(t, "", nil)
	began := time.Now()
	r, stderr, code := m.runJSON(nil, "--only=system", "--yes")
	parallel := time.Since(began)
	if code != 0 {
		var failed strings.Builder
		for task, st := range r.summary.Tasks {
			if st == "failed" {
				failed.WriteString(task + ":\n" + taskEvents(r, task))
			}
		}
		t.Fatalf("exit %d\n%s\nsummary: %+v\n%s", code, stderr, r.summary, failed.String())
	}
	for _, e := range r.events {
		if e.Event == "finish" {
			t.Logf("in parallel: %-16s %-10s %6dms", e.Task, e.State, e.DurationMS)
		}
	}
	for _, h := range []string{"demo", "web1", "web2"} {
		if st := r.summary.Hosts[h].State; st != "succeeded" {
			t.Errorf("summary: host %s is %q, want succeeded (%+v)", h, st, r.summary.Hosts)
		}
	}
	// Each host switched in its own place, and only there.
	if !switchedTo(m.SwitchCalls(), m.SwitchSystems()) {
		t.Errorf("demo (local) did not switch: %v", m.SwitchCalls())
	}
	for _, h := range []*nixtest.Remote{m.web1, m.web2} {
		calls := h.SwitchCalls()
		if !switchedTo(calls, h.SwitchSystems()) {
			t.Errorf("%s did not switch: %v", h.Name, calls)
		}
		cur, err := h.CurrentSystem()
		if err != nil || !strings.HasSuffix(cur, "nixos-system-"+h.Name) || cur == h.System {
			t.Errorf("%s runs %q (%v), want its new nixos-system-%s", h.Name, cur, err, h.Name)
		}
		if gens, now, _ := h.Generations(); now != 2 {
			t.Errorf("%s: generations %v, current %d; want 2 current", h.Name, gens, now)
		}
		for _, sys := range h.SwitchSystems() {
			if !strings.Contains(sys, "nixos-system-"+h.Name) {
				t.Errorf("%s ran another host's system: %s", h.Name, sys)
			}
		}
	}
	// web2 built on itself: its new system is in its store. web1 was
	// built by web2 as a remote builder, and copied to web1.
	cur2, _ := m.web2.CurrentSystem()
	if !m.web2.Has(cur2) {
		t.Errorf("web2's system %s is not in web2's store", cur2)
	}
	cur1, _ := m.web1.CurrentSystem()
	if !m.web1.Has(cur1) || !m.web2.Has(cur1) {
		t.Errorf("web1's system %s: in web1's store %v, in web2's (its builder) %v; want both",
			cur1, m.web1.Has(cur1), m.web2.Has(cur1))
	}
	// The three chains overlap: every host started before every other
	// one finished.
	sp := spans(t, r)
	for a, sa := range sp {
		for b, sb := range sp {
			if a != b && !sa.start.Before(sb.end) {
				t.Errorf("%s started %s after %s finished: the chains did not overlap", a, sa.start.Sub(sb.end), b)
			}
		}
	}
	if len(sp) != 3 {
		t.Errorf("events name hosts %v, want demo, web1, web2", sp)
	}
	// copy@web1 said how far it got: paths and bytes.
	copied := false
	for _, e := range r.events {
		if e.Task == "copy@web1" && e.Event == "status" && e.Progress != nil && e.Progress.DownloadedBytes > 0 {
			copied = true
		}
	}
	if !copied {
		t.Errorf("no status event of copy@web1 carries copy progress:\n%s", taskEvents(r, "copy@web1"))
	}

	// The same kind of change, one host at a time, for the note's figure.
	if err := m.SetVersion("1.3"); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	r, stderr, code = m.runJSON(nil, "--only=system", "--yes", "--parallel-hosts", "1")
	serial := time.Since(began)
	if code != 0 {
		t.Fatalf("one host at a time: exit %d\n%s", code, stderr)
	}
	for _, e := range r.events {
		if e.Event == "finish" {
			t.Logf("one after another: %-16s %-10s %6dms", e.Task, e.State, e.DurationMS)
		}
	}
	t.Logf("three hosts in parallel: %s; one after another (--parallel-hosts 1): %s (%.2f×)",
		parallel.Round(time.Millisecond), serial.Round(time.Millisecond), parallel.Seconds()/serial.Seconds())
}

// taskEvents is a task's events, one a line, for a failure's message.
func taskEvents(r jsonRun, task string) string {
	var b strings.Builder
	for _, e := range r.events {
		if e.Task == task {
			b.WriteString(e.Event + " " + e.State + " " + e.Message + " " + e.Reason + " " + e.Error + "\n")
		}
	}
	return b.String()
}

// An activation that locks rebuild out (web1's new system stops its
// sshd) cannot be confirmed: the watchdog on web1 puts its old system
// back within the confirm timeout. The other hosts are not touched by it;
// the run exits 1 and names web1. With a timeout shorter than the time
// rebuild takes to try the host again, the rollback lets rebuild in
// before it gives up: reaching the old system is no confirmation.
func TestManyHostsLockedOutHostRollsBackOnItsOwn(t *testing.T) {
	for _, timeout := range []string{"4s", "100ms"} {
		t.Run(timeout, func(t *testing.T) { lockedOut(t, timeout) })
	}
}

func lockedOut(t *testing.T, timeout string) {
	m := newManyHosts(t, "", map[string]string{"web1": `confirm_timeout = "` + timeout + `"`})
	if err := m.SetLockOut("web1", true); err != nil {
		t.Fatal(err)
	}
	r, stderr, code := m.runJSON(nil, "--only=system", "--yes")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	if st := r.summary.Hosts["web1"].State; st == "succeeded" {
		t.Errorf("web1 reported %q after locking rebuild out", st)
	}
	out := stderr
	for _, e := range r.events {
		out += e.Error + e.Reason + "\n"
	}
	if !strings.Contains(out, "web1") {
		t.Errorf("nothing names web1:\n%s", out)
	}
	for _, h := range []string{"demo", "web2"} {
		if st := r.summary.Hosts[h].State; st != "succeeded" {
			t.Errorf("%s is %q: another host's lock-out reached it", h, st)
		}
	}
	cur2, _ := m.web2.CurrentSystem()
	if cur2 == m.web2.System {
		t.Error("web2 was not activated")
	}
	// web1's watchdog rolls it back at the deadline: the old system runs
	// again and is the profile's current generation.
	deadline := time.Now().Add(60 * time.Second)
	for {
		cur, _ := m.web1.CurrentSystem()
		_, now, _ := m.web1.Generations()
		if cur == m.web1.System && now == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web1 runs %s (generation %d), not its old %s, a minute after the run: no rollback\nswitch calls: %v",
				cur, now, m.web1.System, m.web1.SwitchCalls())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// --on @web --rollout canary: web1 goes first; its gate fails, web1 is
// rolled back and web2 is never activated. demo, not selected, is not
// touched at all.
func TestManyHostsCanaryStopsTheRollout(t *testing.T) {
	m := newManyHosts(t, "[task.smoke]\ngate = true\nneeds = [\"activate\"]\nrun = \"false\"\n",
		map[string]string{"demo": `gates = []`, "web2": `gates = []`})
	r, stderr, code := m.runJSON(nil, "--only=system,smoke", "--yes", "--on", "@web", "--rollout", "canary")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	if calls := m.web2.SwitchCalls(); len(calls) != 0 {
		t.Errorf("web2 switched after the canary's gate failed: %v", calls)
	}
	if calls := m.SwitchCalls(); len(calls) != 0 {
		t.Errorf("demo, not selected, switched: %v", calls)
	}
	if got := r.summary.Hosts["web1"]; got.State == "succeeded" {
		t.Errorf("web1 (canary, gate failed) reported %+v", got)
	}
	if cur, _ := m.web1.CurrentSystem(); cur != m.web1.System {
		t.Errorf("web1 runs %s after its gate failed, want its old %s", cur, m.web1.System)
	}
	for _, e := range r.events {
		if e.Task == "activate@web2" && e.Event == "start" {
			t.Error("activate@web2 started")
		}
		if strings.HasSuffix(e.Task, "@demo") {
			t.Errorf("%s ran: demo was not selected", e.Task)
			break
		}
	}
}
