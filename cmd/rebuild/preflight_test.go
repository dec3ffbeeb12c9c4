package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
)

// Before the first task a run checks what it needs of the machine: a
// flake with the host, a writable state directory, the elevation program.
// When something is missing it says so once, exits 2, and nothing has
// started: no task event, no log folder, no history record.

// bareMachine is a machine with a home, no configuration anywhere, no
// NH_* variables, and /etc/nixos standing at root/etc/nixos (absent
// until a test writes it).
type bareMachine struct {
	sys      *System
	out, err bytes.Buffer
	root     string
}

func newBareMachine(t *testing.T) *bareMachine {
	t.Helper()
	root := t.TempDir()
	home := filepath.Join(root, "home", "alice")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	m := &bareMachine{root: root}
	var env []string
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "NH_") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home)
	m.sys = &System{IO: testIO(&m.out, &m.err), Environ: env, Home: home, SystemFile: "-", Host: "alice-laptop",
		Now: time.Now, Euid: os.Geteuid(), NixosDir: filepath.Join(root, "etc", "nixos")}
	return m
}

func (m *bareMachine) run(args ...string) int {
	m.out.Reset()
	m.err.Reset()
	return Run(m.sys, args)
}

// stateDir is where the machine's runs keep their state.
func (m *bareMachine) stateDir() string {
	return filepath.Join(m.sys.Home, ".local", "state", "rebuild")
}

// nothingStarted fails the test when the run left any trace: an event on
// stdout, or anything at all in the state directory.
func (m *bareMachine) nothingStarted(t *testing.T) {
	t.Helper()
	if m.out.Len() != 0 {
		t.Errorf("a run that could not start wrote events:\n%s", m.out.String())
	}
	if _, err := os.Stat(m.stateDir()); err == nil {
		entries, _ := os.ReadDir(m.stateDir())
		t.Errorf("a run that could not start left %s with %d entries (logs, lock or history)", m.stateDir(), len(entries))
	}
}

// No flake anywhere: one message naming every place looked at, in order,
// and how to set one; exit 2; nothing started. --only=caches needs no
// flake and runs.
func TestNoFlakeAnywhereStopsBeforeAnyTask(t *testing.T) {
	m := newBareMachine(t)
	if code := m.run("--output", "json", "--yes"); code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", code, m.out.String(), m.err.String())
	}
	m.nothingStarted(t)
	msg := m.err.String()
	if n := strings.Count(msg, "rebuild:"); n != 1 {
		t.Errorf("%d messages, want one:\n%s", n, msg)
	}
	places := []string{"--flake", "flake in the configuration", "REBUILD_FLAKE", "NH_OS_FLAKE", "NH_FLAKE",
		m.sys.NixosDir, "~/nixos-config", "Set one with --flake DIR", "--skip flake-update,build,commit,push"}
	at := 0
	for _, p := range places {
		i := strings.Index(msg[at:], p)
		if i < 0 {
			t.Fatalf("the message lacks %q (after what came before it):\n%s", p, msg)
		}
		at += i
	}

	// The same for a dry run, which rehearses the run; plan runs nothing
	// and says it.
	if code := m.run("-n", "--flake", filepath.Join(m.root, "nonexistent")); code != 2 ||
		!strings.Contains(m.err.String(), "the flake set by --flake, "+filepath.Join(m.root, "nonexistent")+", does not exist") {
		t.Errorf("-n --flake=<missing>: exit %d\n%s", code, m.err.String())
	}
	m.nothingStarted(t)
	if code := m.run("plan"); code != 0 || !strings.Contains(m.out.String(), "flake: none; a run would stop before its first task") {
		t.Errorf("plan: exit %d\n%s%s", code, m.out.String(), m.err.String())
	}

	// What needs no flake runs without one.
	if code := m.run("--only=caches,disk", "--yes", "--output", "json"); code != 0 {
		t.Fatalf("--only=caches,disk: exit %d\n%s%s", code, m.out.String(), m.err.String())
	}
	j := parseJSON(t, m.out.String())
	if !j.started("disk") || j.states()["disk"] != "succeeded" {
		t.Errorf("--only=caches,disk did not run disk: %v", j.states())
	}
}

// The flake is found in /etc/nixos (here a test root standing in for it)
// when it has a flake.nix, and in NH_FLAKE; the build uses it. A flake
// without the host stops the run, naming the host and the hosts it has.
func TestFlakeFoundInEtcNixosAndNHFlake(t *testing.T) {
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	n := newNixOS(t, "")
	q := strconv.Quote
	noFlakeCfg := filepath.Join(n.Root, "noflake.toml")
	writeFile(t, noFlakeCfg, strings.Join([]string{"host = " + q(n.Host), "profile = " + q(n.Profile),
		"current_system = " + q(n.CurrentSystem), "booted_system = " + q(n.BootedSystem), `elevate = "none"`,
		"state_dir = " + q(filepath.Join(n.Root, "state"))}, "\n"))

	var out, errb bytes.Buffer
	sys := &System{IO: testIO(&out, &errb), Environ: n.w.env, Home: n.Home, SystemFile: "-", Host: "elsewhere",
		Now: time.Now, Euid: os.Geteuid(), NixosDir: n.Flake}
	if code := Run(sys, []string{"--config", noFlakeCfg, "--only=build", "--output", "json"}); code != 0 {
		t.Fatalf("/etc/nixos: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if j := parseJSON(t, out.String()); j.states()["build"] != "succeeded" {
		t.Errorf("/etc/nixos: build %s\n%s", j.states()["build"], out.String())
	}
	out.Reset()
	if code := Run(sys, []string{"--config", noFlakeCfg, "plan", "--only=build"}); code != 0 ||
		!strings.Contains(out.String(), "flake: "+n.Flake+" (from "+n.Flake+")") {
		t.Errorf("plan does not say the flake came from /etc/nixos:\n%s%s", out.String(), errb.String())
	}

	// NH_FLAKE, and NH_OS_FLAKE before it, in the real binary.
	n.w.cfg = noFlakeCfg
	evs, stderr, code := n.runJSON([]string{"NH_FLAKE=" + n.Flake}, "--only=build")
	if code != 0 || evs.states()["build"] != "succeeded" {
		t.Errorf("NH_FLAKE: exit %d, build %s\n%s", code, evs.states()["build"], stderr)
	}
	r := n.w.run(nil, []string{"NH_OS_FLAKE=" + filepath.Join(n.Root, "typo"), "NH_FLAKE=" + n.Flake}, "--only=build")
	if r.code != 2 || !strings.Contains(r.stderr, "the flake set by NH_OS_FLAKE, "+filepath.Join(n.Root, "typo")+", does not exist") {
		t.Errorf("a typo in NH_OS_FLAKE must not fall through to NH_FLAKE: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A flake without the host: exit 2, the host and the hosts it has.
	before, _ := os.ReadDir(filepath.Join(n.Root, "state", "logs"))
	r = n.w.run(nil, []string{"NH_FLAKE=" + n.Flake}, "--only=system", "-H", "nosuchhost", "--output", "json")
	if r.code != 2 {
		t.Fatalf("unknown host: exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := "the flake " + n.Flake + " (from NH_FLAKE) has no nixosConfigurations.nosuchhost; it has " + n.Host
	if r.stdout != "" || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "rebuild:") != 1 {
		t.Errorf("unknown host: want one message with %q and no events\n%s%s", want, r.stdout, r.stderr)
	}
	if after, _ := os.ReadDir(filepath.Join(n.Root, "state", "logs")); len(after) != len(before) {
		t.Errorf("the refused run left a log folder")
	}
}

// The state directory must be writable and the elevation program must
// exist when a task needs root; both problems come in the one message.
func TestStateDirAndElevationCheckedBeforeStarting(t *testing.T) {
	m := newBareMachine(t)
	file := filepath.Join(m.root, "afile")
	writeFile(t, file, "not a folder\n")
	cfg := filepath.Join(m.root, "cfg.toml")
	writeFile(t, cfg, "state_dir = "+strconv.Quote(filepath.Join(file, "state"))+"\nelevate = \"doas\"\n")
	empty := filepath.Join(m.root, "empty-bin")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	m.sys.Environ = append(m.sys.Environ, "PATH="+empty)
	m.sys.Euid = 1000
	code := m.run("--config", cfg, "--only=generations", "--output", "json", "--yes")
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", code, m.out.String(), m.err.String())
	}
	msg := m.err.String()
	for _, want := range []string{"state directory " + filepath.Join(file, "state"), "is not a directory",
		`elevate = "doas", but doas is not installed; generations need root`} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Count(msg, "rebuild:") != 1 || m.out.Len() != 0 {
		t.Errorf("want one message and no events:\n%s%s", m.out.String(), msg)
	}
	if strings.Contains(msg, "flake") {
		t.Errorf("generations needs no flake, yet:\n%s", msg)
	}

	// As root no elevation is needed, and none is checked.
	m.sys.Euid = 0
	m.run("--config", cfg, "--only=generations", "--output", "json", "--yes")
	if strings.Contains(m.err.String(), "doas") {
		t.Errorf("as root: %s", m.err.String())
	}
}
