package main

import (
	"bytes"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// --on, --rollout and --parallel-hosts parse into the run's options and
// the configuration's flag layer.
func TestHostFlagsParse(t *testing.T) {
	var out, errw bytes.Buffer
	f := newFactory(testSystem(t, &out, &errw))
	var got *runOptions
	err := execute(f, newRunCmd(f, func(o *runOptions) error { got = o; return nil }),
		"--on", "web1,@servers", "--rollout", "canary", "--parallel-hosts", "3", "--only", "build")
	if err != nil || got == nil {
		t.Fatalf("err %v", err)
	}
	if got.On != "web1,@servers" || got.Only != "build" {
		t.Errorf("on %q, only %q", got.On, got.Only)
	}
	if want := map[string]any{"rollout": "canary", "parallel_hosts": "3"}; !maps.Equal(got.Load.Set, want) {
		t.Errorf("config keys from flags %v, want %v", got.Load.Set, want)
	}

	f = newFactory(testSystem(t, &out, &errw))
	var graph *graphOptions
	if err := execute(f, newGraphCmd(f, func(o *graphOptions) error { graph = o; return nil }), "--on", "db", "--rollout", "one-by-one"); err != nil {
		t.Fatal(err)
	}
	if graph.On != "db" || graph.Load.Set["rollout"] != "one-by-one" {
		t.Errorf("graph: on %q, set %v", graph.On, graph.Load.Set)
	}

	f = newFactory(testSystem(t, &out, &errw))
	var hosts *hostsOptions
	if err := execute(f, newHostsCmd(f, func(o *hostsOptions) error { hosts = o; return nil }), "--on", "@eu", "--json"); err != nil {
		t.Fatal(err)
	}
	if hosts.On != "@eu" || !hosts.JSON {
		t.Errorf("hosts: %+v", hosts)
	}
	ran := false
	err = execute(f, newHostsCmd(f, func(*hostsOptions) error { ran = true; return nil }), "--on=")
	if ran || exitCode(err) != 2 || !strings.Contains(err.Error(), "--on is empty") {
		t.Errorf("hosts --on=: ran %v, %v", ran, err)
	}
}

// A per-host task's environment has its host, and a configuration whose
// host is that host's name and whose elevation is the host's when it has
// one; the run's own tasks keep the configuration as it is.
func TestHostTaskEnv(t *testing.T) {
	cfg := &config.Config{Host: "box", Elevate: "sudo", Hosts: map[string]config.Host{
		"db":   {Name: "db", Target: "root@db", Elevate: "doas"},
		"web1": {Name: "web1", Target: "root@web1"},
	}}
	hosts, err := selectHosts(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	s := taskEnv{cfg: cfg, hosts: hostEnvs(cfg, hosts)}
	for name, want := range map[string]struct{ host, elevate, target string }{
		"activate@db":   {"db", "doas", "root@db"},
		"build@web1":    {"web1", "sudo", "root@web1"},
		"health@web1":   {"web1", "sudo", "root@web1"},
		"commit":        {"box", "sudo", config.TargetLocal},
		"claude-config": {"box", "sudo", config.TargetLocal},
	} {
		env := tasks.NewEnv(name, nil, nil)
		s.fill(env, false)
		if env.Config.Host != want.host || env.Config.Elevate != want.elevate || env.Target().Target != want.target || env.Target().Name != want.host {
			t.Errorf("%s: host %q elevate %q target %+v", name, env.Config.Host, env.Config.Elevate, env.Target())
		}
		if _, host := tasks.SplitHost(name); (host == "") != (env.Host == nil) || host == "" && env.Config != cfg {
			t.Errorf("%s: Host %v, Config %p (run's %p)", name, env.Host, env.Config, cfg)
		}
	}
	// The tasks of one host share one configuration; the run's is untouched.
	a, b := tasks.NewEnv("build@db", nil, nil), tasks.NewEnv("activate@db", nil, nil)
	s.fill(a, false)
	s.fill(b, false)
	if a.Config != b.Config || a.Host != b.Host || cfg.Host != "box" || cfg.Elevate != "sudo" {
		t.Errorf("per-host configurations: %p %p, run's host %q", a.Config, b.Config, cfg.Host)
	}
}

// Before the first task, a run checks with one evaluation that every
// selected host is one of the flake's nixosConfigurations, and names the
// ones that are not; a selected host the flake has builds, with the
// host's own name, through the per-host build@HOST.
func TestHostsCheckedAgainstTheFlake(t *testing.T) {
	n := newNixOS(t, "")
	q := strconv.Quote
	cfg := filepath.Join(n.Root, "hosts.toml")
	writeFile(t, cfg, strings.Join([]string{
		"flake = " + q(n.Flake),
		"profile = " + q(n.Profile),
		"current_system = " + q(n.CurrentSystem),
		"booted_system = " + q(n.BootedSystem),
		`elevate = "none"`,
		"state_dir = " + q(filepath.Join(n.Root, "state")),
		"[host." + n.Host + "]",
		"[host.ghost]",
		`target = "root@ghost.invalid"`,
		"[host.phantom]",
		`target = "root@phantom.invalid"`,
	}, "\n")+"\n")
	n.w.cfg = cfg

	r := n.w.run(nil, nil, "--only=build", "--output", "json")
	want := "the flake " + n.Flake + " (from flake in " + cfg + ") has no nixosConfigurations.ghost and nixosConfigurations.phantom; it has " + n.Host +
		". Each [host.NAME] names one of them"
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "rebuild:") != 1 {
		t.Errorf("exit %d, want 2 and one message with %q and no events\n%s%s", r.code, want, r.stdout, r.stderr)
	}

	j, stderr, code := n.runJSON(nil, "--on", n.Host, "--only=build")
	if code != 0 || j.states()["build@"+n.Host] != "succeeded" {
		t.Errorf("--on %s --only=build: exit %d, %v\n%s", n.Host, code, j.states(), stderr)
	}
	if _, ok := j.states()["build@ghost"]; ok {
		t.Errorf("build@ghost ran, though --on left it out: %v", j.states())
	}
}
