package nixos

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// fakeSystemctl answers is-system-running with $FAKE_STATE (waiting as
// --wait does is not needed) and lists $FAKE_FAILED as failed units.
const fakeSystemctl = `#!/bin/sh
case $1 in
is-system-running) echo "$FAKE_STATE"; [ "$FAKE_STATE" = running ] ;;
list-units) for u in $FAKE_FAILED; do echo "$u loaded failed failed $u"; done ;;
*) exit 1 ;;
esac
`

// The health gate of a host reached over ssh checks on the target: its
// state, the units failed since the activation, and probes made from
// there; each problem names the host.
func TestRemoteHealth(t *testing.T) {
	f := newFakeSSH(t)
	f.tool(t, "systemctl", fakeSystemctl)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer bad.Close()
	web1 := config.Host{Name: "web1", Target: "root@10.0.0.5"}

	for _, c := range []struct {
		name, state, failed string
		opts                map[string]any
		want                []string // "" for a pass
	}{
		{"all pass", "running", "old.service", map[string]any{"tcp": []string{ln.Addr().String()}, "http": []string{ok.URL + "/health"}}, nil},
		{"closed port", "running", "", map[string]any{"tcp": []string{closedAddr}}, []string{"tcp " + closedAddr + " on web1: "}},
		{"http 500", "running", "", map[string]any{"http": []string{bad.URL}}, []string{bad.URL + " on web1: status 500"}},
		{"degraded", "degraded", "", nil, []string{"web1: the system is degraded (allow_degraded = false)"}},
		{"newly failed", "running", "old.service new.service", nil, []string{"web1: units failed since the activation: new.service"}},
		{"no systemd", "offline", "", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			vals := tasks.NewValues()
			tasks.Activated.On("web1").Put(vals, tasks.Activation{Path: "/nix/store/x-system", Generation: 2, Previous: 1})
			failedUnitsKey.On("web1").Put(vals, []string{"old.service"})
			env := remoteEnvOf(f, "health", web1, &config.Config{}, nil, vals)
			env.Runner.Environ = append(env.Runner.Environ, "FAKE_STATE="+c.state, "FAKE_FAILED="+c.failed)
			err := configured(t, c.opts).Run(context.Background(), env)
			if len(c.want) == 0 && err != nil {
				t.Errorf("failed: %v", err)
			}
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v lacks %q", err, w)
				}
			}
			if c.state == "offline" && !strings.Contains(stats(env), "systemd is not running on web1") {
				t.Errorf("stats %q", stats(env))
			}
		})
	}
	calls := f.calls(t)
	if !slices.ContainsFunc(calls, func(c sshCall) bool { return c.remote() == "timeout 120 systemctl is-system-running --wait" }) {
		t.Errorf("the state was not asked on the target: %v", calls)
	}

	// A host that cannot be reached fails the gate, saying so.
	f.setDown(t, true)
	vals := tasks.NewValues()
	tasks.Activated.On("web1").Put(vals, tasks.Activation{Path: "/nix/store/x-system", Generation: 2, Previous: 1})
	err = configured(t, nil).Run(context.Background(), remoteEnvOf(f, "health", web1, &config.Config{}, nil, vals))
	if err == nil || !strings.Contains(err.Error(), "web1 (root@10.0.0.5): ssh failed") {
		t.Errorf("unreachable: %v", err)
	}
}

// Without curl on the target, an http:// probe goes through bash's
// /dev/tcp; https:// cannot, and says why.
func TestRemoteHealthHTTPWithoutCurl(t *testing.T) {
	f := newFakeSSH(t)
	f.tool(t, "systemctl", fakeSystemctl)
	tools := t.TempDir()
	for _, name := range []string{"sh", "bash", "timeout", "date"} {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("no %s here", name)
		}
		if err := os.Symlink(p, filepath.Join(tools, name)); err != nil {
			t.Fatal(err)
		}
	}
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RequestURI() != "/health?x=1" {
			w.WriteHeader(404)
		}
	}))
	defer ok.Close()
	web1 := config.Host{Name: "web1", Target: "root@10.0.0.5"}
	for _, c := range []struct {
		url, want string
	}{
		{ok.URL + "/health?x=1", ""},
		{ok.URL + "/other", "status 404"},
		{"https://localhost:1/", "no curl there to probe https://localhost:1/"},
	} {
		vals := tasks.NewValues()
		tasks.Activated.On("web1").Put(vals, tasks.Activation{Path: "/nix/store/x-system", Generation: 2, Previous: 1})
		env := remoteEnvOf(f, "health", web1, &config.Config{}, nil, vals)
		env.Runner.Environ = append(env.Runner.Environ, "PATH="+f.bin+":"+tools, "FAKE_STATE=offline")
		err := configured(t, map[string]any{"http": []string{c.url}}).Run(context.Background(), env)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q\n%s", c.url, err, c.want, env.Log.(*taskstest.Buffer).String())
		}
	}
}

// diff compares on the target, where both closures are.
func TestRemoteDiff(t *testing.T) {
	rw := newRemoteWorld(t)
	rw.build()
	env := rw.mustRun(Diff{}, rw.env("diff", nil))
	if st := stats(env); !strings.Contains(st, "foo 1.0 → 1.2") || !strings.Contains(st, "closure ") {
		t.Errorf("stats %q", st)
	}
	if !slices.ContainsFunc(rw.f.calls(t), func(c sshCall) bool {
		return strings.HasPrefix(c.remote(), "nix --extra-experimental-features nix-command store diff-closures ")
	}) {
		t.Error("diff-closures did not run on the target")
	}
}

// generations on a target: listed there, deleted there by the policy
// through sudo -n, the current and booted generations never; a dry run
// deletes nothing; a generation that became current since it was chosen
// stays.
func TestRemoteGenerations(t *testing.T) {
	rw := newRemoteWorld(t)
	for _, v := range []string{"1.1", "1.2", "1.3", "1.4"} {
		if _, err := rw.s.AddGeneration(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
	rw.host.Target, rw.host.Elevate = "deploy@fake", "sudo"
	rw.f.tool(t, "sudo", fakeSudo)

	env := rw.env("generations", map[string]any{"keep": int64(0)})
	env.DryRun = true
	rw.mustRun(Generations{}, env)
	if a := strings.Join(env.Report().Actions, "\n"); a != "would delete generations 2, 3, 4 on demo, then collect garbage there" {
		t.Errorf("dry run: %q", a)
	}
	if gens, _, _ := rw.s.Generations(); len(gens) != 5 {
		t.Fatalf("dry run deleted: %v", gens)
	}

	env = rw.env("generations", map[string]any{"keep": int64(1), "loader_entries": rw.s.BootEntries})
	rw.mustRun(Generations{}, env)
	if gens, cur, _ := rw.s.Generations(); !slices.Equal(gens, []int{1, 5}) || cur != 5 {
		t.Errorf("after keep = 1: %v current %d", gens, cur)
	}
	if a := strings.Join(env.Report().Actions, "\n"); a != "deleted generations 2, 3, 4 on demo" {
		t.Errorf("actions %q", a)
	}
	if st := stats(env); !strings.Contains(st, "freed ") || !strings.Contains(st, "on demo") || !strings.Contains(st, "boot entries regenerated: 3 entries removed") {
		t.Errorf("stats %q", st)
	}
	calls := rw.f.calls(t)
	if !slices.ContainsFunc(calls, func(c sshCall) bool { return strings.HasPrefix(c.remote(), "sudo -n -- nix-store --gc") }) {
		for _, c := range calls {
			t.Log(c.remote())
		}
		t.Errorf("garbage not collected through sudo -n on the target")
	}

	// Chosen, then made current: the target keeps it.
	r, err := remoteOf(env)
	if err != nil {
		t.Fatal(err)
	}
	err = r.deleteGenerations(context.Background(), env, []generation{{Number: 5}}, DefaultBootEntries)
	if kind, reason := outcome(err); kind != tasks.Skipped || !strings.Contains(reason, "became current, running or booted") {
		t.Errorf("deleting the current one: %v", err)
	}
	if gens, _, _ := rw.s.Generations(); !slices.Equal(gens, []int{1, 5}) {
		t.Errorf("generations %v", gens)
	}

	// What the booted system is cannot be told there: nothing goes.
	env = rw.env("generations", map[string]any{"keep": int64(0)})
	env.Config.BootedSystem = filepath.Join(rw.s.Root, "run", "no-such-system")
	if err := rw.run(Generations{}, env); err == nil || !strings.Contains(err.Error(), "cannot tell which generation is the booted one on demo") {
		t.Errorf("unknown booted system: %v", err)
	}

	// The cleanup plan names the host.
	plan, err := Generations{}.PlanCleanup(context.Background(), rw.env("generations", nil))
	if kind, _ := outcome(err); err != nil && kind != tasks.Skipped {
		t.Fatal(err)
	}
	if err == nil && plan.Title != "system generations on demo" {
		t.Errorf("plan title %q", plan.Title)
	}
}
