package config

import (
	"bytes"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// hostsFile sets every key of a host table.
const hostsFile = `
rollout = "one-by-one"
parallel_hosts = 3

[host.web1]
target = "deploy@web1.example.org:2222"
build_on = "builder"
tags = ["servers", "eu"]
elevate = "doas"
ssh_options = ["-i", "~/.ssh/deploy", "-o", "ConnectTimeout=5"]
confirm_timeout = "90s"
keep = 5
keep_since = "14d"
gates = ["health", "smoke"]

[host."db.x"]
target = "root@[2001:db8::1]"
gates = []

[host.builder]
target = "nix@10.0.0.9"
build_on = "target"

[host.laptop]
`

// forHosts drops what only says where a host's values came from.
func forHosts(m map[string]Host) map[string]Host {
	out := make(map[string]Host, len(m))
	for k, h := range m {
		h.File, h.sources = "", nil
		out[k] = h
	}
	return out
}

func TestHostTables(t *testing.T) {
	e := newEnv(t)
	usr := e.user(hostsFile)
	c := mustLoad(t, e.opts())
	want := map[string]Host{
		"web1": {Name: "web1", Target: "deploy@web1.example.org:2222", BuildOn: "builder", Tags: []string{"servers", "eu"},
			Elevate: "doas", SSHOptions: []string{"-i", "~/.ssh/deploy", "-o", "ConnectTimeout=5"},
			ConfirmTimeout: ptr(90 * time.Second), Keep: ptr(5), KeepSince: "14d", Gates: []string{"health", "smoke"}},
		"db.x":    {Name: "db.x", Target: "root@[2001:db8::1]", BuildOn: BuildLocal, Gates: []string{}},
		"builder": {Name: "builder", Target: "nix@10.0.0.9", BuildOn: BuildTarget},
		"laptop":  {Name: "laptop", Target: TargetLocal, BuildOn: BuildLocal},
	}
	if got := forHosts(c.Hosts); !reflect.DeepEqual(got, want) {
		t.Errorf("hosts:\n got %+v\nwant %+v", got, want)
	}
	if c.Rollout != RolloutOne || c.ParallelHosts != 3 {
		t.Errorf("rollout %q, parallel_hosts %d", c.Rollout, c.ParallelHosts)
	}
	if h := c.Hosts["web1"]; h.File != usr || h.Source("keep") != usr || h.KeyName("keep") != "host.web1.keep" {
		t.Errorf("web1: file %q, source %q, key %q", h.File, h.Source("keep"), h.KeyName("keep"))
	}
	if c.Host != "myhost" {
		t.Errorf("host = %q: the one machine's name stays", c.Host)
	}
	// nil gates is every gate, [] is none.
	if c.Hosts["laptop"].Gates != nil || c.Hosts["db.x"].Gates == nil {
		t.Errorf("gates: laptop %#v, db.x %#v", c.Hosts["laptop"].Gates, c.Hosts["db.x"].Gates)
	}
}

// Without a [host.NAME] table nothing is there, and rollout and
// parallel_hosts keep no value; with one they get their defaults.
func TestHostDefaults(t *testing.T) {
	e := newEnv(t)
	c := mustLoad(t, e.opts())
	if c.Hosts != nil || c.Rollout != "" || c.ParallelHosts != 0 {
		t.Errorf("without hosts: %v %q %d", c.Hosts, c.Rollout, c.ParallelHosts)
	}
	e.user("[host.web1]\ntarget = \"root@web1\"\n")
	c = mustLoad(t, e.opts())
	if len(c.Hosts) != 1 || c.Rollout != RolloutAll || c.ParallelHosts != DefaultParallelHosts {
		t.Errorf("with a host: %v %q %d", c.Hosts, c.Rollout, c.ParallelHosts)
	}
}

// Each layer sets a host's keys one by one, as for tasks: the system
// file, the user file, the environment (a host of a file by the name it
// spells), the flags.
func TestHostLayers(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.SystemFile = e.system(`
[host.web-1]
target = "root@old"
tags = ["a"]

[host."db.example"]
target = "root@db"
`)
	usr := e.user(`
[host.web-1]
build_on = "target"
`)
	o.Environ = append(o.Environ,
		"REBUILD_HOST__WEB_1__TARGET=root@new:22",
		"REBUILD_HOST__DB_EXAMPLE__KEEP=3",
		"REBUILD_HOST__NEW_ONE__TARGET=me@new-one",
		"REBUILD_HOST__NEW_ONE__SSH_OPTIONS=-p,2200",
		"REBUILD_HOST__NEW_ONE__CONFIRM_TIMEOUT=0s",
		"REBUILD_ROLLOUT=canary",
		"REBUILD_HOST__WEB_1__ELEVATE=", // empty: unset
	)
	o.Flags = map[string]any{"host.web-1.tags": []string{"b", "c"}, "parallel_hosts": 2, "host.db.example.keep_since": "1w"}
	o.FlagNames = map[string]string{"parallel_hosts": "--parallel-hosts"}
	c := mustLoad(t, o)

	web := c.Hosts["web-1"]
	if web.Target != "root@new:22" || web.BuildOn != BuildTarget || !reflect.DeepEqual(web.Tags, []string{"b", "c"}) || web.Elevate != "" {
		t.Errorf("web-1 = %+v", web)
	}
	for key, want := range map[string]string{"target": SourceEnvironment, "build_on": usr, "tags": SourceFlags} {
		if got := web.Source(key); got != want {
			t.Errorf("web-1 %s from %q, want %q", key, got, want)
		}
	}
	if web.KeyName("target") != "REBUILD_HOST__WEB_1__TARGET" || web.KeyName("build_on") != "host.web-1.build_on" {
		t.Errorf("key names %q %q", web.KeyName("target"), web.KeyName("build_on"))
	}
	db := c.Hosts["db.example"]
	if db.Keep == nil || *db.Keep != 3 || db.KeepSince != "1w" || db.Target != "root@db" {
		t.Errorf("db.example = %+v", db)
	}
	nw := c.Hosts["new-one"]
	if nw.Target != "me@new-one" || !reflect.DeepEqual(nw.SSHOptions, []string{"-p", "2200"}) || nw.ConfirmTimeout == nil || *nw.ConfirmTimeout != 0 || nw.File != SourceEnvironment {
		t.Errorf("new-one = %+v", nw)
	}
	if c.Rollout != RolloutCanary || c.ParallelHosts != 2 {
		t.Errorf("rollout %q, parallel_hosts %d", c.Rollout, c.ParallelHosts)
	}
	if EnvName("host.web-1.target") != "REBUILD_HOST__WEB_1__TARGET" || EnvName("host.db.example.keep") != "REBUILD_HOST__DB_EXAMPLE__KEEP" {
		t.Errorf("EnvName: %s %s", EnvName("host.web-1.target"), EnvName("host.db.example.keep"))
	}
}

// A bad host key or value names the file (or the variable, or the flag)
// and the key.
func TestHostErrors(t *testing.T) {
	cases := []struct {
		name, file string
		want       string
	}{
		{"name with @", "[host.\"root@web1\"]\n", `: host name "root@web1" has '@': a host name is a letter or a digit, then letters, digits, '-', '_' and '.' (no '@', no spaces); a host's name is its nixosConfigurations.NAME`},
		{"name with space", "[host.\"web 1\"]\n", `host name "web 1" has ' '`},
		{"not a table", "[host]\nweb1 = 1\n", `: host.web1 = 1: not a table; allowed: a [host.web1] table`},
		{"unknown key", "[host.web1]\ntargte = \"root@x\"\n", `: unknown key "host.web1.targte" (did you mean "target"?); known keys: build_on, confirm_timeout, elevate, gates, keep, keep_since, ssh_options, tags, target`},
		{"no user", "[host.web1]\ntarget = \"web1.example.org\"\n", `: host.web1.target = "web1.example.org": no user: write user@web1.example.org; allowed: "local", or user@addr[:port]`},
		{"option as user", "[host.web1]\ntarget = \"-oProxyCommand=x@h\"\n", `host.web1.target = "-oProxyCommand=x@h": user "-oProxyCommand=x": letters, digits, '.', '_' and '-', not first`},
		{"option as address", "[host.web1]\ntarget = \"root@-oProxyCommand=x\"\n", `address "-oProxyCommand=x": a host name or an IP address`},
		{"bare ipv6", "[host.web1]\ntarget = \"root@2001:db8::1\"\n", `an IPv6 address goes in brackets: root@[2001:db8::1]`},
		{"port 0", "[host.web1]\ntarget = \"root@h:0\"\n", `host.web1.target = "root@h:0": port "0": a number from 1 to 65535`},
		{"port too big", "[host.web1]\ntarget = \"root@h:65536\"\n", `port "65536": a number from 1 to 65535`},
		{"empty port", "[host.web1]\ntarget = \"root@h:\"\n", `port "": a number from 1 to 65535`},
		{"target not a string", "[host.web1]\ntarget = 1\n", `host.web1.target = 1: not a string`},
		{"build_on unknown", "[host.web1]\ntarget = \"root@a\"\nbuild_on = \"bilder\"\n[host.builder]\ntarget = \"root@b\"\n", `: host.web1.build_on = "bilder": there is no [host.bilder] (did you mean "builder"?); allowed: "local", "target", or one of the hosts: builder, web1`},
		{"build_on itself", "[host.web1]\ntarget = \"root@a\"\nbuild_on = \"web1\"\n", `host.web1.build_on = "web1": is this host itself; allowed: "target" to build it on itself`},
		{"build_on bad name", "[host.web1]\nbuild_on = \"a b\"\n", `host.web1.build_on = "a b": not a host's name: it has ' '`},
		{"two local hosts", "[host.a]\n[host.b]\n", `: host.b.target = "local": host a is this machine already (a host without target is local)`},
		{"tags", "[host.web1]\ntags = [\"Servers\"]\n", `host.web1.tags = ["Servers"]: "Servers" is not a kebab-case name`},
		{"elevate", "[host.web1]\nelevate = \"su\"\n", `host.web1.elevate = "su": not allowed; allowed: sudo, doas, run0, none`},
		{"ssh_options string", "[host.web1]\nssh_options = \"-i k\"\n", `host.web1.ssh_options = "-i k": not a list of strings`},
		{"ssh_options empty", "[host.web1]\nssh_options = [\"\"]\n", `host.web1.ssh_options = [""]: has an empty string`},
		{"confirm_timeout", "[host.web1]\nconfirm_timeout = \"soon\"\n", `host.web1.confirm_timeout = "soon": not a duration; allowed: e.g. "60s", "5m"; "0s" for off`},
		{"confirm_timeout negative", "[host.web1]\nconfirm_timeout = \"-1s\"\n", `host.web1.confirm_timeout = "-1s": negative`},
		{"keep", "[host.web1]\nkeep = 0\n", `host.web1.keep = 0: too small; allowed: a whole number ≥ 1`},
		{"keep_since", "[host.web1]\nkeep_since = \"7x\"\n", `host.web1.keep_since = "7x": not an age; allowed: an age such as "7d"`},
		{"keep_since too large", "[host.web1]\nkeep_since = \"999999w\"\n", `host.web1.keep_since = "999999w": too large`},
		{"gates", "[host.web1]\ngates = [\"Health\"]\n", `host.web1.gates = ["Health"]: "Health" is not a kebab-case name`},
		{"rollout", "rollout = \"rolling\"\n", `: rollout = "rolling": not allowed; allowed: all, one-by-one, canary`},
		{"parallel_hosts", "parallel_hosts = 0\n", `: parallel_hosts = 0: too small; allowed: a whole number ≥ 1`},
		{"host and tables", "host = \"x\"\n[host.web1]\n", `key host already exists as a value; host = "NAME" (one host) and [host.NAME] tables (several hosts) cannot both be in one file`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			usr := e.user(c.file)
			err := loadError(t, e.opts())
			if err.File != usr {
				t.Errorf("File = %q, want %q", err.File, usr)
			}
			wantIn(t, err.Error(), usr+": ", c.want)
		})
	}
}

func TestHostEnvironmentErrors(t *testing.T) {
	cases := []struct {
		name  string
		file  string
		vars  []string
		root  bool
		key   string
		wants []string
	}{
		{"lower case", "", []string{"REBUILD_HOST__web1__TARGET=root@a"}, false, "REBUILD_HOST__web1__TARGET",
			[]string{`environment: malformed host variable REBUILD_HOST__web1__TARGET (want REBUILD_HOST__<NAME>__<KEY>`}},
		{"no key", "", []string{"REBUILD_HOST__WEB1=root@a"}, false, "REBUILD_HOST__WEB1", []string{`malformed host variable`}},
		{"no key, empty", "", []string{"REBUILD_HOST__WEB1="}, false, "REBUILD_HOST__WEB1", []string{`malformed host variable`}},
		{"unknown key", "", []string{"REBUILD_HOST__WEB1__TARGTE=root@a"}, false, "REBUILD_HOST__WEB1__TARGTE",
			[]string{`environment: unknown key "REBUILD_HOST__WEB1__TARGTE" (did you mean "REBUILD_HOST__WEB1__TARGET"?); known variables: REBUILD_HOST__WEB1__BUILD_ON,`}},
		{"bad value", "", []string{"REBUILD_HOST__WEB1__KEEP=0"}, false, "REBUILD_HOST__WEB1__KEEP",
			[]string{`environment: REBUILD_HOST__WEB1__KEEP = "0": too small`}},
		{"single underscore", "", []string{"REBUILD_HOST_WEB1_TARGET=root@a"}, false, "REBUILD_HOST_WEB1_TARGET",
			[]string{`unknown variable REBUILD_HOST_WEB1_TARGET (host keys are REBUILD_HOST__<NAME>__<KEY>)`}},
		{"ambiguous", "[host.web-1]\ntarget = \"root@a\"\n[host.\"web.1\"]\ntarget = \"root@b\"\n", []string{"REBUILD_HOST__WEB_1__KEEP=2"}, false, "REBUILD_HOST__WEB_1__KEEP",
			[]string{`REBUILD_HOST__WEB_1__KEEP could be host web-1 or web.1: their names are all WEB_1 in a variable`}},
		{"root ssh_options", "", []string{"REBUILD_HOST__WEB1__SSH_OPTIONS=-oProxyCommand=sh"}, true, "REBUILD_HOST__WEB1__SSH_OPTIONS",
			[]string{`REBUILD_HOST__WEB1__SSH_OPTIONS sets ssh options of host web1, and rebuild runs as root: an ssh option can run a command`}},
		{"build_on from the environment", "", []string{"REBUILD_HOST__WEB1__BUILD_ON=nope", "REBUILD_HOST__WEB1__TARGET=root@a"}, false, "REBUILD_HOST__WEB1__BUILD_ON",
			[]string{`environment: REBUILD_HOST__WEB1__BUILD_ON = "nope": there is no [host.nope]`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			if c.file != "" {
				e.user(c.file)
			}
			o := e.opts()
			o.Environ = append(o.Environ, c.vars...)
			o.Root = c.root
			err := loadError(t, o)
			if err.File != SourceEnvironment || err.Key != c.key {
				t.Errorf("File, Key = %q, %q; want environment, %q", err.File, err.Key, c.key)
			}
			wantIn(t, err.Error(), c.wants...)
		})
	}
	// Not as root, ssh options may come from the environment.
	e := newEnv(t)
	o := e.opts()
	o.Environ = append(o.Environ, "REBUILD_HOST__WEB1__SSH_OPTIONS=-i,key", "REBUILD_HOST__WEB1__TARGET=root@a")
	if c := mustLoad(t, o); !reflect.DeepEqual(c.Hosts["web1"].SSHOptions, []string{"-i", "key"}) {
		t.Errorf("ssh options %q", c.Hosts["web1"].SSHOptions)
	}
}

func TestHostFlagErrors(t *testing.T) {
	for flags, want := range map[string]map[string]any{
		`flags: host.web1.target = "nobody": no user`:                         {"host.web1.target": "nobody"},
		`flags: malformed host key "host.web1" (want host.NAME.KEY)`:          {"host.web1": "x"},
		`flags: host name "a b" has ' '`:                                      {"host.a b.target": "root@x"},
		`flags: rollout = "x": not allowed; allowed: all, one-by-one, canary`: {"rollout": "x"},
		`flags: unknown key "host.web1.tag" (did you mean "tags"?)`:           {"host.web1.tag": "a"},
	} {
		e := newEnv(t)
		o := e.opts()
		o.Flags = want
		err := loadError(t, o)
		wantIn(t, err.Error(), flags)
	}
	e := newEnv(t)
	o := e.opts()
	o.Flags = map[string]any{"parallel_hosts": "0"}
	o.FlagNames = map[string]string{"parallel_hosts": "--parallel-hosts"}
	wantIn(t, loadError(t, o).Error(), `flag --parallel-hosts: parallel_hosts = "0": too small`)
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]SSHTarget{
		"root@web1":                  {"root", "web1", 0},
		"deploy@web1.example.org:22": {"deploy", "web1.example.org", 22},
		"a_b@10.0.0.1:65535":         {"a_b", "10.0.0.1", 65535},
		"root@[2001:db8::1]":         {"root", "2001:db8::1", 0},
		"root@[fe80::1%eth0]:2222":   {"root", "fe80::1%eth0", 2222},
	} {
		got, err := ParseTarget(in)
		if err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), in)
		}
	}
	for _, bad := range []string{"", "web1", "@web1", "root@", "root@web 1", "ro ot@web1", "root@[::1", "root@[::1]x",
		"root@[zz]", "root@h:01", "root@h:x", "a@b@c", "-l@x", "root@-x", "root@h:-1"} {
		if got, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) = %+v, want an error", bad, got)
		}
	}
}

// The effective configuration with hosts loads back to the same hosts.
func TestWriteTOMLHosts(t *testing.T) {
	e := newEnv(t)
	e.user(hostsFile)
	o := e.opts()
	o.Environ = append(o.Environ, "REBUILD_HOST=other")
	c := mustLoad(t, o)
	back, text := reload(t, e, c)
	if !reflect.DeepEqual(forHosts(back.Hosts), forHosts(c.Hosts)) || back.Rollout != c.Rollout || back.ParallelHosts != c.ParallelHosts {
		t.Errorf("round trip changed the hosts:\n got %+v\nwant %+v\n%s", back.Hosts, c.Hosts, text)
	}
	wantIn(t, text, "\n[host.\"db.x\"]\n", "\n[host.web1]\n", "keep_since = '14d'\n", "confirm_timeout = '1m30s'\n", "gates = []\n",
		"rollout = 'one-by-one'\n", "parallel_hosts = 3\n", `# host = "other": this machine`)
	if i, j := strings.Index(text, "[host.builder]"), strings.Index(text, "[host.web1]"); i < 0 || i > j {
		t.Errorf("hosts not sorted:\n%s", text)
	}

	// Without hosts, rollout and parallel_hosts are only a comment.
	var b bytes.Buffer
	if err := mustLoad(t, newEnv(t).opts()).WriteTOML(&b); err != nil {
		t.Fatal(err)
	}
	wantIn(t, b.String(), "# with [host.NAME] tables: rollout = \"all\", parallel_hosts = 10\n")
}

// The template's host example, uncommented as a user would, is valid.
func TestInitTemplateHosts(t *testing.T) {
	tmpl := InitTemplate()
	start := strings.Index(tmpl, "# rollout = ")
	end := strings.Index(tmpl, "# gates = ")
	if start < 0 || end < 0 {
		t.Fatalf("no host section in the template:\n%s", tmpl)
	}
	end += strings.IndexByte(tmpl[end:], '\n')
	setting := regexp.MustCompile(`^# ([a-z_]+ = |\[host\.)`)
	var on []string
	for _, line := range strings.Split(tmpl[start:end], "\n") {
		if setting.MatchString(line) {
			on = append(on, strings.TrimPrefix(line, "# "))
		}
	}
	for _, key := range append(HostKeys(), "rollout", "parallel_hosts") {
		if !strings.Contains(strings.Join(on, "\n"), "\n"+key+" = ") && !strings.HasPrefix(on[0], key+" = ") {
			t.Errorf("the host example does not show %s", key)
		}
	}
	e := newEnv(t)
	e.user(strings.Join(on, "\n") + "\n")
	c := mustLoad(t, e.opts())
	h := c.Hosts["web1"]
	if h.Target != "root@web1.example.org" || c.Rollout != RolloutAll || c.ParallelHosts != 10 || h.KeepSince != "14d" {
		t.Errorf("uncommented example: %+v, %q, %d", h, c.Rollout, c.ParallelHosts)
	}
}
