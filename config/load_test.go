package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	e := newEnv(t)
	c := mustLoad(t, e.opts())
	want := &Config{
		Flake:         filepath.Join(e.home, "nixos-config"),
		Host:          "myhost",
		Profile:       "/nix/var/nix/profiles/system",
		CurrentSystem: "/run/current-system",
		BootedSystem:  "/run/booted-system",
		Elevate:       "sudo",
		Jobs:          0,
		StateDir:      filepath.Join(e.home, ".local", "state", "rebuild"),
		KeepLogs:      20,
		MetricsFile:   "",
		LogMax:        50 << 20,
		HistoryMax:    10 << 20,
		Tasks:         map[string]Task{},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if c.EffectiveJobs(2) != 4 || c.EffectiveJobs(16) != 16 {
		t.Errorf("EffectiveJobs(2), (16) = %d, %d; want 4, 16", c.EffectiveJobs(2), c.EffectiveJobs(16))
	}
	c.Jobs = 3
	if c.EffectiveJobs(16) != 3 {
		t.Errorf("EffectiveJobs with jobs = 3: %d", c.EffectiveJobs(16))
	}
}

// Each layer overrides the one before it, key by key.
func TestLayersOverride(t *testing.T) {
	e := newEnv(t)
	sys := e.system(`
flake = "/etc/nixos"
host = "sys-host"
jobs = 1
elevate = "doas"
keep_logs = 5
metrics_file = "/var/lib/rebuild.prom"

[task.build]
timeout = "1h"
max_jobs = 8

[task.caches]
paths = ["/var/cache/a"]
`)
	usr := e.user(`
host = "user-host"
jobs = 2
keep_logs = 7

[task.build]
timeout = "2h"

[task.vulnix]
run = "vulnix --system"
after = ["activate"]
`)
	o := e.opts()
	o.SystemFile = sys
	o.Environ = append(o.Environ,
		"REBUILD_JOBS=3",
		"REBUILD_ELEVATE=run0",
		"REBUILD_TASK__VULNIX__CRITICAL=true",
	)
	o.Flags = map[string]any{"jobs": 4, "state_dir": "~/state"}

	c := mustLoad(t, o)
	checks := []struct {
		name      string
		got, want any
	}{
		{"flake (system)", c.Flake, "/etc/nixos"},
		{"host (user over system)", c.Host, "user-host"},
		{"keep_logs (user over system)", c.KeepLogs, 7},
		{"elevate (environment over system)", c.Elevate, "run0"},
		{"jobs (flags over environment)", c.Jobs, 4},
		{"state_dir (flags, expanded)", c.StateDir, filepath.Join(e.home, "state")},
		{"metrics_file (system)", c.MetricsFile, "/var/lib/rebuild.prom"},
		{"build timeout (user over system)", c.Tasks["build"].Timeout, 2 * time.Hour},
		{"build option kept from system", c.Tasks["build"].Options["max_jobs"], int64(8)},
		{"build file", c.Tasks["build"].File, usr},
		{"caches file", c.Tasks["caches"].File, sys},
		{"vulnix run", c.Tasks["vulnix"].Run, "vulnix --system"},
		{"vulnix critical (environment)", c.Tasks["vulnix"].Critical, ptr(true)},
		{"vulnix file", c.Tasks["vulnix"].File, SourceEnvironment},
		{"sources", c.Sources, []string{sys, usr}},
		{"task names", c.TaskNames(), []string{"build", "caches", "vulnix"}},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s: got %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

// One key through every layer: the last layer that sets it wins.
func TestEachLayerWins(t *testing.T) {
	for depth := 0; depth <= 4; depth++ {
		e := newEnv(t)
		o := e.opts()
		if depth >= 1 {
			o.SystemFile = e.system("jobs = 1\n")
		}
		if depth >= 2 {
			e.user("jobs = 2\n")
		}
		if depth >= 3 {
			o.Environ = append(o.Environ, "REBUILD_JOBS=3")
		}
		if depth >= 4 {
			o.Flags = map[string]any{"jobs": "4"}
		}
		if got := mustLoad(t, o).Jobs; got != depth {
			t.Errorf("with %d layers setting jobs: got %d, want %d", depth, got, depth)
		}
	}
}

func TestExplicitUserFile(t *testing.T) {
	e := newEnv(t)
	e.user("jobs = 2\n")
	other := writeFile(t, e.dir, "other.toml", "jobs = 9\n")

	o := e.opts()
	o.UserFile = other
	c := mustLoad(t, o)
	if c.Jobs != 9 || !slices.Equal(c.Sources, []string{other}) {
		t.Errorf("--config: jobs %d sources %v; want 9 [%s]", c.Jobs, c.Sources, other)
	}

	o = e.opts()
	o.Environ = append(o.Environ, "REBUILD_CONFIG="+other)
	if c := mustLoad(t, o); c.Jobs != 9 {
		t.Errorf("REBUILD_CONFIG: jobs %d, want 9", c.Jobs)
	}

	// --config beats REBUILD_CONFIG.
	third := writeFile(t, e.dir, "third.toml", "jobs = 5\n")
	o.UserFile = third
	if c := mustLoad(t, o); c.Jobs != 5 {
		t.Errorf("--config with REBUILD_CONFIG: jobs %d, want 5", c.Jobs)
	}
}

func TestMissingFiles(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.SystemFile = filepath.Join(e.dir, "no", "such.toml")
	c := mustLoad(t, o) // missing system and user files are fine
	if len(c.Sources) != 0 {
		t.Errorf("sources %v, want none", c.Sources)
	}

	missing := filepath.Join(e.dir, "missing.toml")
	o.UserFile = missing
	err := loadError(t, o)
	if err.File != missing {
		t.Errorf("error file %q, want %q", err.File, missing)
	}
	wantIn(t, err.Error(), missing, "no such file")

	o = e.opts()
	o.Environ = append(o.Environ, "REBUILD_CONFIG="+missing)
	wantIn(t, loadError(t, o).Error(), missing, "no such file")

	// A directory where the file should be is an error, not "missing".
	o = e.opts()
	o.SystemFile = e.dir
	wantIn(t, loadError(t, o).Error(), e.dir, "cannot read")
}

func TestUserPath(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"config flag", Options{UserFile: "/x/c.toml", Home: "/h", Environ: []string{"REBUILD_CONFIG=/y.toml"}}, "/x/c.toml"},
		{"config flag with ~", Options{UserFile: "~/c.toml", Home: "/h"}, "/h/c.toml"},
		{"REBUILD_CONFIG", Options{Home: "/h", Environ: []string{"REBUILD_CONFIG=/y.toml", "XDG_CONFIG_HOME=/xdg"}}, "/y.toml"},
		{"XDG_CONFIG_HOME", Options{Home: "/h", Environ: []string{"XDG_CONFIG_HOME=/xdg"}}, "/xdg/rebuild/config.toml"},
		{"relative XDG_CONFIG_HOME is ignored", Options{Home: "/h", Environ: []string{"XDG_CONFIG_HOME=rel"}}, "/h/.config/rebuild/config.toml"},
		{"home", Options{Home: "/h"}, "/h/.config/rebuild/config.toml"},
		{"HOME from the environment", Options{Environ: []string{"HOME=/e"}}, "/e/.config/rebuild/config.toml"},
		{"last of a repeated variable", Options{Environ: []string{"HOME=/a", "HOME=/b"}}, "/b/.config/rebuild/config.toml"},
		{"nowhere", Options{}, ""},
	}
	for _, c := range cases {
		if got := UserPath(c.o); got != c.want {
			t.Errorf("%s: UserPath = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestXDGDefaults(t *testing.T) {
	e := newEnv(t)
	xdg := filepath.Join(e.dir, "xdg")
	writeFile(t, xdg, "config/rebuild/config.toml", "keep_logs = 3\n")

	o := e.opts()
	o.Environ = append(o.Environ,
		"XDG_CONFIG_HOME="+filepath.Join(xdg, "config"),
		"XDG_STATE_HOME="+filepath.Join(xdg, "state"))
	c := mustLoad(t, o)
	if c.KeepLogs != 3 {
		t.Errorf("user file under XDG_CONFIG_HOME not read: keep_logs %d", c.KeepLogs)
	}
	if want := filepath.Join(xdg, "state", "rebuild"); c.StateDir != want {
		t.Errorf("state dir %q, want %q", c.StateDir, want)
	}

	o = e.opts()
	o.Environ = append(o.Environ, "XDG_STATE_HOME=relative/state")
	if c := mustLoad(t, o); c.StateDir != filepath.Join(e.home, ".local", "state", "rebuild") {
		t.Errorf("relative XDG_STATE_HOME should be ignored: %q", c.StateDir)
	}

	// An explicit state_dir wins over XDG.
	o.Flags = map[string]any{"state_dir": "/srv/rebuild"}
	if c := mustLoad(t, o); c.StateDir != "/srv/rebuild" {
		t.Errorf("state_dir flag: %q", c.StateDir)
	}
}

func TestNoHome(t *testing.T) {
	o := Options{SystemFile: "-", Hostname: "h"}
	err := loadError(t, o)
	wantIn(t, err.Error(), "defaults: flake = \"~/nixos-config\"", "no home directory", "allowed: an absolute path")

	o.Flags = map[string]any{"flake": "/etc/nixos"}
	wantIn(t, loadError(t, o).Error(), "state directory", "XDG_STATE_HOME")

	o.Environ = []string{"XDG_STATE_HOME=/state"}
	c := mustLoad(t, o)
	if c.StateDir != "/state/rebuild" {
		t.Errorf("state dir %q", c.StateDir)
	}
}

func TestTildeExpansion(t *testing.T) {
	e := newEnv(t)
	e.user(`
flake = "~/src/nixos"
profile = "~"
current_system = "~other/current"
booted_system = "/run/booted-system"
state_dir = "~/state/"
metrics_file = "~/metrics.prom"

[task.caches]
paths = ["~/.cache/uv", "~/.npm"]
`)
	c := mustLoad(t, e.opts())
	for _, ch := range []struct{ key, got, want string }{
		{"flake", c.Flake, e.home + "/src/nixos"},
		{"profile", c.Profile, e.home},
		{"current_system", c.CurrentSystem, "~other/current"},
		{"state_dir", c.StateDir, e.home + "/state/"},
		{"metrics_file", c.MetricsFile, e.home + "/metrics.prom"},
	} {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.key, ch.got, ch.want)
		}
	}
	paths, err := c.Tasks["caches"].Strings("paths", nil)
	if err != nil || !slices.Equal(paths, []string{"~/.cache/uv", "~/.npm"}) {
		t.Errorf("task options must stay raw: %q %v", paths, err)
	}
}

func TestHost(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.Hostname = "box"
	if c := mustLoad(t, o); c.Host != "box" {
		t.Errorf("host %q, want box", c.Host)
	}
	o.Flags = map[string]any{"host": "other"}
	if c := mustLoad(t, o); c.Host != "other" {
		t.Errorf("host %q, want other", c.Host)
	}
	o = e.opts()
	o.Hostname = ""
	if c := mustLoad(t, o); c.Host != "" {
		t.Errorf("host %q, want empty without a hostname", c.Host)
	}
}

func TestEnvironment(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.Environ = append(o.Environ,
		"REBUILD_FLAKE=~/flake",
		"REBUILD_HOST=h2",
		"REBUILD_PROFILE=/p",
		"REBUILD_CURRENT_SYSTEM=/c",
		"REBUILD_BOOTED_SYSTEM=/b",
		"REBUILD_ELEVATE=none",
		"REBUILD_JOBS= 6 ",
		"REBUILD_STATE_DIR=/s",
		"REBUILD_KEEP_LOGS=2",
		"REBUILD_METRICS_FILE=/m",
		"REBUILD_LOG_MAX=1.5GiB",
		"REBUILD_HISTORY_MAX=4096",
		"REBUILD_CONFIG=",
		"REBUILD_TASK__FLAKE_UPDATE__TIMEOUT=30m",
		"REBUILD_TASK__FLAKE_UPDATE__ENABLED=false",
		"REBUILD_TASK__BUILD__NEEDS=flake-update, diff",
		"REBUILD_TASK__BUILD__AFTER=",
		"REBUILD_TASK__CACHES__MAX_AGE=30",
		"REBUILD_TASK__CACHES__PATHS=~/.npm,~/.cache/uv",
		"OTHER_VAR=1",
	)
	c := mustLoad(t, o)
	want := Config{
		Flake: e.home + "/flake", Host: "h2", Profile: "/p", CurrentSystem: "/c", BootedSystem: "/b",
		Elevate: "none", Jobs: 6, StateDir: "/s", KeepLogs: 2, MetricsFile: "/m",
		LogMax: 3 << 29, HistoryMax: 4096, FlakeSource: SourceEnvironment,
	}
	got := *c
	got.Tasks = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("environment:\n got %+v\nwant %+v", got, want)
	}
	fu := c.Tasks["flake-update"]
	if fu.Timeout != 30*time.Minute || fu.Enabled == nil || *fu.Enabled || fu.File != SourceEnvironment {
		t.Errorf("flake-update from environment: %+v", fu)
	}
	b := c.Tasks["build"]
	// An empty variable is unset (see TestEmptyEnvironmentVariableIsUnset).
	if !slices.Equal(b.Needs, []string{"flake-update", "diff"}) || b.After != nil {
		t.Errorf("build needs %#v after %#v; want [flake-update diff] and unset", b.Needs, b.After)
	}
	caches := c.Tasks["caches"]
	if n, err := caches.Int("max_age", 0); n != 30 || err != nil {
		t.Errorf("Int from environment: %d %v", n, err)
	}
	if p, err := caches.Strings("paths", nil); !slices.Equal(p, []string{"~/.npm", "~/.cache/uv"}) || err != nil {
		t.Errorf("Strings from environment: %q %v", p, err)
	}
}

func TestFlags(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.Flags = map[string]any{
		"flake":                     "/f",
		"jobs":                      int64(3),
		"elevate":                   "doas",
		"keep_logs":                 "9",
		"host":                      nil, // not set
		"task.flake-update.enabled": false,
		"task.build.timeout":        90 * time.Second,
		"task.build.needs":          []string{"flake-update"},
		"task.caches.paths":         []string{"/a"},
		"task.caches.max_age":       7,
		"task.caches.grace":         time.Minute,
	}
	c := mustLoad(t, o)
	if c.Flake != "/f" || c.Jobs != 3 || c.Elevate != "doas" || c.KeepLogs != 9 || c.Host != "myhost" {
		t.Errorf("flags: %+v", c)
	}
	if fu := c.Tasks["flake-update"]; fu.Enabled == nil || *fu.Enabled || fu.File != SourceFlags {
		t.Errorf("flake-update: %+v", fu)
	}
	b := c.Tasks["build"]
	if b.Timeout != 90*time.Second || !slices.Equal(b.Needs, []string{"flake-update"}) {
		t.Errorf("build: %+v", b)
	}
	caches := c.Tasks["caches"]
	wantOpts := map[string]any{"paths": []any{"/a"}, "max_age": int64(7), "grace": "1m"}
	if !reflect.DeepEqual(caches.Options, wantOpts) {
		t.Errorf("caches options %#v, want %#v", caches.Options, wantOpts)
	}
	if d, err := caches.Duration("grace", 0); d != time.Minute || err != nil {
		t.Errorf("grace: %v %v", d, err)
	}
}

func TestDeterministic(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.SystemFile = e.system("[task.a]\nx = 1\n[task.b]\nrun = \"true\"\n")
	e.user("[task.a]\ny = {p = 1, q = [1, 2]}\n[task.c]\nenabled = false\n")
	o.Environ = append(o.Environ, "REBUILD_TASK__A__Z=z", "REBUILD_JOBS=2")
	first := mustLoad(t, o)
	for range 20 {
		if c := mustLoad(t, o); !reflect.DeepEqual(c, first) {
			t.Fatalf("Load is not deterministic:\n%+v\n%+v", c, first)
		}
	}

	// With several bad variables the reported one does not depend on their order.
	bad := []string{"REBUILD_ZZZ=1", "REBUILD_JOBS=x", "REBUILD_AAA=1"}
	var msgs []string
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}} {
		o := e.opts()
		for _, i := range order {
			o.Environ = append(o.Environ, bad[i])
		}
		msgs = append(msgs, loadError(t, o).Error())
	}
	if msgs[0] != msgs[1] || msgs[1] != msgs[2] {
		t.Errorf("error depends on the order of the environment: %q", msgs)
	}
	wantIn(t, msgs[0], "REBUILD_AAA")
}

// An empty REBUILD_* variable is unset, as in a shell; an unknown name is
// still an error even when empty.
func TestEmptyEnvironmentVariableIsUnset(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.Environ = append(o.Environ, "REBUILD_JOBS=", "REBUILD_ELEVATE=")
	cfg, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Jobs != 0 || cfg.Elevate != "sudo" {
		t.Errorf("jobs %d elevate %q", cfg.Jobs, cfg.Elevate)
	}
	o = e.opts()
	o.Environ = append(o.Environ, "REBUILD_JBOS=")
	if _, err := Load(o); err == nil || !strings.Contains(err.Error(), "REBUILD_JBOS") {
		t.Errorf("err = %v", err)
	}
}

// FlakeSource tells the built-in default of flake from a setting, and
// names the layer that set it.
func TestFlakeSource(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	if c := mustLoad(t, o); c.FlakeSource != "" {
		t.Errorf("default flake has source %q", c.FlakeSource)
	}
	o.SystemFile = e.system(`flake = "/srv/flake"`)
	if c := mustLoad(t, o); c.FlakeSource != o.SystemFile || c.Flake != "/srv/flake" {
		t.Errorf("from the system file: %q from %q", c.Flake, c.FlakeSource)
	}
	o.Environ = append(o.Environ, "REBUILD_FLAKE=/env/flake")
	if c := mustLoad(t, o); c.FlakeSource != SourceEnvironment {
		t.Errorf("from the environment: source %q", c.FlakeSource)
	}
	o.Flags = map[string]any{"flake": "/flag/flake"}
	if c := mustLoad(t, o); c.FlakeSource != SourceFlags || c.Flake != "/flag/flake" {
		t.Errorf("from the flags: %q from %q", c.Flake, c.FlakeSource)
	}
}
