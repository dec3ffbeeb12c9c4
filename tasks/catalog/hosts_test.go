package catalog

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
)

// hostsOf returns cfg's hosts in the order given.
func hostsOf(t *testing.T, cfg *config.Config, order ...string) []config.Host {
	t.Helper()
	var out []config.Host
	for _, n := range order {
		h, ok := cfg.Hosts[n]
		if !ok {
			t.Fatalf("no host %s in %v", n, slices.Sorted(maps.Keys(cfg.Hosts)))
		}
		out = append(out, h)
	}
	return out
}

// assembleHosts assembles the real catalogue over the hosts of text.
func assembleHosts(t *testing.T, text, rollout string, order ...string) map[string]tasks.Spec {
	t.Helper()
	cfg, _ := load(t, text)
	specs, err := Assemble(cfg, Builtins(), Options{Hosts: hostsOf(t, cfg, order...), Rollout: rollout})
	if err != nil {
		t.Fatal(err)
	}
	return byName(specs)
}

const threeHosts = `
[task.smoke]
run = "true"
gate = true
needs = ["activate"]

[task.notify]
run = "true"
needs = ["activate"]

[host.a]
[host.b]
target = "root@b"
[host.c]
target = "root@c"
`

// Each host gets its own chain; the whole run's tasks stay single and
// wait for every host's instance of what they need.
func TestExpandHostsEdges(t *testing.T) {
	s := assembleHosts(t, threeHosts, config.RolloutAll, "a", "b", "c")
	for _, name := range []string{"build", "copy", "diff", "activate", "health", "smoke", "accept", "generations"} {
		if _, ok := s[name]; ok {
			t.Errorf("%s is per host, yet there is a task of that name", name)
		}
		for _, h := range []string{"a", "b", "c"} {
			inst, ok := s[name+"@"+h]
			if !ok || inst.Host != h {
				t.Errorf("%s@%s: %v, host %q", name, h, ok, inst.Host)
			}
		}
	}
	for name, sp := range s {
		if _, host := tasks.SplitHost(name); sp.Host != host {
			t.Errorf("%s: Host = %q", name, sp.Host)
		}
	}
	want := map[string]struct{ needs, after []string }{
		"flake-update":  {nil, nil},
		"build@b":       {[]string{"flake-update"}, nil},
		"copy@b":        {[]string{"build@b"}, nil},
		"diff@b":        {[]string{"build@b", "copy@b"}, nil},
		"activate@b":    {[]string{"build@b", "copy@b"}, nil},
		"health@b":      {[]string{"activate@b"}, nil},
		"smoke@b":       {[]string{"activate@b"}, nil},
		"accept@b":      {[]string{"activate@b", "health@b", "smoke@b"}, []string{"diff@b"}},
		"generations@c": {[]string{"accept@c"}, nil},
		"commit":        {[]string{"accept@a", "accept@b", "accept@c"}, []string{"claude-config", "mcp-analytics", "tool-analytics", "learn-review"}},
		"claude-config": {[]string{"activate@a", "activate@b", "activate@c", "health@a", "health@b", "health@c", "smoke@a", "smoke@b", "smoke@c"}, nil},
		"notify":        {[]string{"activate@a", "activate@b", "activate@c", "health@a", "health@b", "health@c", "smoke@a", "smoke@b", "smoke@c"}, nil},
	}
	for name, w := range want {
		sp := s[name]
		if !slices.Equal(sp.Needs, w.needs) || !slices.Equal(sp.After, w.after) {
			t.Errorf("%s: needs %v after %v; want needs %v after %v", name, sp.Needs, sp.After, w.needs, w.after)
		}
	}
	if s["commit"].Host != "" || !s["smoke@a"].User || !s["smoke@a"].Gate {
		t.Errorf("commit host %q, smoke@a %+v", s["commit"].Host, s["smoke@a"])
	}
}

// one-by-one: each activation waits for the host before it to pass its
// gates (or, without gates, to be activated); canary: every other host
// waits for the first one's; all: nothing between hosts.
func TestExpandHostsRollout(t *testing.T) {
	text := threeHosts + "[host.d]\ntarget = \"root@d\"\ngates = []\n"
	cases := []struct {
		rollout string
		needs   map[string][]string
	}{
		{config.RolloutAll, map[string][]string{
			"activate@a": {"build@a", "copy@a"}, "activate@b": {"build@b", "copy@b"}, "activate@d": {"build@d", "copy@d"}, "activate@c": {"build@c", "copy@c"}}},
		{config.RolloutOne, map[string][]string{
			"activate@a": {"build@a", "copy@a"},
			"activate@b": {"build@b", "copy@b", "health@a", "smoke@a"},
			"activate@d": {"build@d", "copy@d", "health@b", "smoke@b"},
			"activate@c": {"build@c", "copy@c", "activate@d"}, // d has no gate: its activation is what c waits for
		}},
		{config.RolloutCanary, map[string][]string{
			"activate@a": {"build@a", "copy@a"},
			"activate@b": {"build@b", "copy@b", "health@a", "smoke@a"},
			"activate@d": {"build@d", "copy@d", "health@a", "smoke@a"},
			"activate@c": {"build@c", "copy@c", "health@a", "smoke@a"},
		}},
	}
	for _, c := range cases {
		s := assembleHosts(t, text, c.rollout, "a", "b", "d", "c")
		for name, want := range c.needs {
			if got := s[name].Needs; !slices.Equal(got, want) {
				t.Errorf("%s: %s needs %v, want %v", c.rollout, name, got, want)
			}
		}
	}
	// The canary first: the order of --on decides.
	s := assembleHosts(t, text, config.RolloutCanary, "c", "a")
	if got := s["activate@a"].Needs; !slices.Equal(got, []string{"build@a", "copy@a", "health@c", "smoke@c"}) {
		t.Errorf("canary c: activate@a needs %v", got)
	}
	if _, ok := s["build@b"]; ok {
		t.Error("build@b exists though b is not selected")
	}
}

// A host's gates choose its gate instances; accept waits only for those.
func TestExpandHostsGates(t *testing.T) {
	text := threeHosts + "[host.d]\ntarget = \"root@d\"\ngates = [\"smoke\"]\n[host.e]\ntarget = \"root@e\"\ngates = []\n"
	s := assembleHosts(t, text, config.RolloutAll, "a", "d", "e")
	for name, exists := range map[string]bool{
		"health@a": true, "smoke@a": true, "health@d": false, "smoke@d": true, "health@e": false, "smoke@e": false,
	} {
		if _, ok := s[name]; ok != exists {
			t.Errorf("%s exists: %v, want %v", name, ok, exists)
		}
	}
	for name, want := range map[string][]string{
		"accept@a": {"activate@a", "health@a", "smoke@a"},
		"accept@d": {"activate@d", "smoke@d"},
		"accept@e": {"activate@e"},
	} {
		if got := s[name].Needs; !slices.Equal(got, want) {
			t.Errorf("%s needs %v, want %v", name, got, want)
		}
	}
	if got := s["notify"].Needs; !slices.Equal(got, []string{"activate@a", "activate@d", "activate@e", "health@a", "smoke@a", "smoke@d"}) {
		t.Errorf("notify needs %v", got)
	}
}

func TestExpandHostsGateErrors(t *testing.T) {
	for gates, want := range map[string]string{
		`["helth"]`: `host.x.gates = ["helth"]: helth is not a gate task (did you mean "health"?); allowed: the gate tasks: health, smoke`,
		`["build"]`: `host.x.gates = ["build"]: build is a task but not a gate (a gate is a task with gate = true); allowed: the gate tasks: health, smoke`,
	} {
		cfg, file := load(t, threeHosts+"[host.x]\ntarget = \"root@x\"\ngates = "+gates+"\n")
		_, err := Assemble(cfg, Builtins(), Options{Hosts: hostsOf(t, cfg, "a", "x")})
		if err == nil || err.Error() != file+": "+want {
			t.Errorf("gates = %s: %v\nwant %s: %s", gates, err, file, want)
		}
	}
}

// A host's keep, keep_since and confirm_timeout reach its own instances'
// options, over the task's table; other hosts keep the table's.
func TestExpandHostsOptionOverrides(t *testing.T) {
	s := assembleHosts(t, `
[task.generations]
keep = 2
loader_entries = "/boot/x"

[task.activate]
confirm_timeout = "30s"

[host.a]
keep = 7
keep_since = "14d"
confirm_timeout = "2m"
[host.b]
target = "root@b"
`, config.RolloutAll, "a", "b")
	ga := s["generations@a"].Task.(nixos.Generations).Options
	gb := s["generations@b"].Task.(nixos.Generations).Options
	if ga.Keep == nil || *ga.Keep != 7 || ga.KeepSince == nil || time.Duration(*ga.KeepSince) != 14*24*time.Hour || ga.BootEntries != "/boot/x" {
		t.Errorf("generations@a options %+v", ga)
	}
	if gb.Keep == nil || *gb.Keep != 2 || gb.KeepSince != nil {
		t.Errorf("generations@b options %+v", gb)
	}
	if a, b := s["activate@a"].Task.(nixos.Activate).Options, s["activate@b"].Task.(nixos.Activate).Options; time.Duration(a.ConfirmTimeout) != 2*time.Minute || time.Duration(b.ConfirmTimeout) != 30*time.Second {
		t.Errorf("confirm timeouts %v %v", time.Duration(a.ConfirmTimeout), time.Duration(b.ConfirmTimeout))
	}
}

// config takes keep_since exactly as generations does: what one accepts
// the other does.
func TestHostKeepSinceAgreesWithGenerations(t *testing.T) {
	for _, age := range []string{"7d", "1d12h", "2w", "90m", "36h", "0s", " 3d ", "7", "d", "7x", "1.5d", "999999w", "-1d", ""} {
		_, parseErr := nixos.ParseAge(age)
		_, loadErr := config.Load(config.Options{SystemFile: "-", Home: "/h", Hostname: "h",
			Environ: []string{"HOME=/h", "XDG_CONFIG_HOME=/nonexistent", "REBUILD_HOST__X__KEEP_SINCE=" + age}})
		if age == "" {
			continue // an empty variable is unset
		}
		if (parseErr == nil) != (loadErr == nil) {
			t.Errorf("%q: generations says %v, config says %v", age, parseErr, loadErr)
		}
	}
}

// withCopy is a small catalogue with a task that exists only with hosts:
//
//	build ─▶ copy ─▶ diff, build ─▶ diff;  copy ┄┄▶ report
func withCopy() []tasks.Spec {
	return []tasks.Spec{
		{Name: "build", PerHost: true, Task: tasks.Func(noop)},
		{Name: "copy", PerHost: true, HostsOnly: true, Needs: []string{"build"}, Task: tasks.Func(noop)},
		{Name: "diff", PerHost: true, Needs: []string{"build", "copy"}, Task: tasks.Func(noop)},
		{Name: "report", After: []string{"copy"}, Needs: []string{"diff"}, Task: tasks.Func(noop)},
	}
}

// Without hosts, a task that exists only with hosts is left out with the
// edges to it; with hosts, every host has one.
func TestHostsOnlyDroppedWithoutHosts(t *testing.T) {
	cfg, _ := load(t, "")
	specs, err := Assemble(cfg, withCopy(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := byName(specs)
	if got := names(specs); !slices.Equal(got, []string{"build", "diff", "report"}) {
		t.Errorf("without hosts: %v", got)
	}
	if !slices.Equal(s["diff"].Needs, []string{"build"}) || len(s["report"].After) != 0 || s["diff"].Host != "" {
		t.Errorf("diff %+v, report %+v", s["diff"], s["report"])
	}

	cfg, _ = load(t, "[host.a]\n[host.b]\ntarget = \"root@b\"\n")
	specs, err = Assemble(cfg, withCopy(), Options{Hosts: hostsOf(t, cfg, "a", "b")})
	if err != nil {
		t.Fatal(err)
	}
	s = byName(specs)
	if got := names(specs); !slices.Equal(got, []string{"build@a", "build@b", "copy@a", "copy@b", "diff@a", "diff@b", "report"}) {
		t.Errorf("with hosts: %v", got)
	}
	if !slices.Equal(s["diff@b"].Needs, []string{"build@b", "copy@b"}) || !slices.Equal(s["report"].After, []string{"copy@a", "copy@b"}) {
		t.Errorf("diff@b %+v, report %+v", s["diff@b"], s["report"])
	}
}

// Without hosts the catalogue is what it was before tasks were per
// host: the same specs, edges and tasks, with only PerHost set.
func TestSingleHostUnchanged(t *testing.T) {
	cfg, _ := load(t, threeHosts[:strings.Index(threeHosts, "[host.a]")])
	specs, err := Assemble(cfg, Builtins(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var old []tasks.Spec
	for _, b := range Builtins() {
		b.PerHost = false
		old = append(old, b)
	}
	before, err := Assemble(cfg, old, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != len(before) {
		t.Fatalf("%d specs, before %d", len(specs), len(before))
	}
	for i := range specs {
		a, b := specs[i], before[i]
		if a.Name != b.Name || !slices.Equal(a.Needs, b.Needs) || !slices.Equal(a.After, b.After) || a.Host != "" {
			t.Errorf("%s: needs %v after %v, before %s: %v %v", a.Name, a.Needs, a.After, b.Name, b.Needs, b.After)
		}
	}
}
