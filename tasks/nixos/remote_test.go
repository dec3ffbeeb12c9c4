package nixos

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// These tests run the commands rebuild gives a host reached over ssh
// through fakeSSH: every argv is recorded, and the remote command line
// runs here, as the target's shell would run it.

// fakeSudo passes the command on after checking the prefix rebuild uses
// on a target: it must never ask.
const fakeSudo = `#!/bin/sh
[ "$1" = -n ] && [ "$2" = -- ] || { echo "fake sudo: called as $*" >&2; exit 99; }
shift 2
exec "$@"
`

// remoteEnv is an Env for task name on host h, its commands through f.
func remoteEnv(f *fakeSSH, name string, h config.Host, cfg *config.Config) *tasks.Env {
	return remoteEnvOf(f, name, h, cfg, nil, nil)
}

// remoteEnvOf is remoteEnv with its status going to rep and its values
// in vals (either may be nil).
func remoteEnvOf(f *fakeSSH, name string, h config.Host, cfg *config.Config, rep tasks.Reporter, vals *tasks.Values) *tasks.Env {
	env := tasks.NewEnv(tasks.OnHost(name, h.Name), rep, vals)
	env.Host = &h
	c := *cfg
	c.Host = h.Name
	env.Config = &c
	env.Runner = &proc.Runner{Environ: f.environ(os.Environ())}
	env.Log = &taskstest.Buffer{}
	return env
}

// The words of a remote command reach the target's shell as they were:
// a path with a space and a single quote, $ and an empty word; root goes
// through `sudo -n --`; the ssh argv has BatchMode, the port and the
// options, then the destination and --.
func TestRemoteCommandQuoting(t *testing.T) {
	f := newFakeSSH(t)
	f.tool(t, "sudo", fakeSudo)
	r, err := newRemote(config.Host{Name: "web1", Target: "deploy@10.0.0.5:2222", SSHOptions: []string{"-i", "/keys/deploy"}}, "sudo")
	if err != nil {
		t.Fatal(err)
	}
	words := []string{"printf", "<%s>\n", "/nix/store/abc-my system's/bin/switch-to-configuration", "$HOME", "", "a\"b`c`"}
	c := remoteCmd{argv: words, root: true}
	argv := r.argv(c)
	wantHead := append(append([]string{"ssh", "-o", "BatchMode=yes", "-p", "2222", "-i", "/keys/deploy"}, strings.Fields(sshDefaults)...), "deploy@10.0.0.5", "--")
	if !slices.Equal(argv[:len(wantHead)], wantHead) || len(argv) != len(wantHead)+1 {
		t.Fatalf("argv %q", argv)
	}
	if line := argv[len(argv)-1]; !strings.HasPrefix(line, "sudo -n -- printf ") || !strings.Contains(line, `'/nix/store/abc-my system'\''s/bin/switch-to-configuration'`) {
		t.Errorf("remote command line %s", line)
	}
	env := remoteEnv(f, "activate", r.host, &config.Config{})
	out, err := r.output(context.Background(), env, c)
	if err != nil {
		t.Fatal(err)
	}
	want := "</nix/store/abc-my system's/bin/switch-to-configuration>\n<$HOME>\n<>\n<a\"b`c`>\n"
	if out != want {
		t.Errorf("the target's shell got\n%s\nwant\n%s", out, want)
	}
	// The log names the host and the command, not a quoted script.
	if log := env.Log.(*taskstest.Buffer).String(); !strings.HasPrefix(log, "$ ssh web1 -- sudo -n printf ") {
		t.Errorf("log %q", log)
	}
	// A fresh connection shares none: no ControlMaster.
	fresh := r.argv(remoteCmd{argv: []string{"true"}, fresh: true})
	if !slices.Contains(fresh, "ControlPath=none") {
		t.Errorf("fresh argv %q", fresh)
	}
}

// A failed command names the host and the command; ssh failing to
// connect says so.
func TestRemoteErrors(t *testing.T) {
	f := newFakeSSH(t)
	r, err := newRemote(config.Host{Name: "web1", Target: "root@10.0.0.5"}, "sudo")
	if err != nil {
		t.Fatal(err)
	}
	if r.root != nil {
		t.Errorf("root@ target got the prefix %q", r.root)
	}
	env := remoteEnv(f, "activate", r.host, &config.Config{})
	err = r.run(context.Background(), env, remoteCmd{script: `echo "it broke" >&2; exit 3`, what: "nix-env --set x"})
	if err == nil || !strings.HasPrefix(err.Error(), "web1 (root@10.0.0.5): nix-env --set x: exit status 3") || !strings.Contains(err.Error(), "it broke") || unreachable(err) {
		t.Errorf("failed command: %v", err)
	}
	f.setDown(t, true)
	err = r.run(context.Background(), env, remoteCmd{argv: []string{"true"}})
	if err == nil || !unreachable(err) || !strings.Contains(err.Error(), "web1 (root@10.0.0.5): ssh failed") || !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("unreachable: %v", err)
	}
	for _, bad := range []config.Host{{Name: "x", Target: "root@host;reboot"}, {Name: "x", Target: "u@h", Elevate: "su"}} {
		if _, err := newRemote(bad, "sudo"); err == nil || !strings.HasPrefix(err.Error(), "host x: ") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// The check before a run: sudo that would ask for a password fails,
// naming the host and what to do; a root@ target and elevate = "none"
// run nothing; a host that cannot be reached says so.
func TestCheckHostElevation(t *testing.T) {
	f := newFakeSSH(t)
	runner := &proc.Runner{Environ: f.environ(os.Environ())}
	ctx := context.Background()
	h := config.Host{Name: "web1", Target: "deploy@10.0.0.5:2222"}

	f.tool(t, "sudo", "#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n")
	err := CheckHostElevation(ctx, runner, h, "sudo")
	for _, want := range []string{"host web1: sudo on deploy@10.0.0.5:2222 needs a password", "NOPASSWD", `target = "root@10.0.0.5:2222"`, `elevate = "none"`, "sudo: a password is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("password needed: error lacks %q: %v", want, err)
		}
	}
	calls := f.calls(t)
	if len(calls) != 1 || calls[0].remote() != "sudo -n -- true" {
		t.Errorf("calls %+v", calls)
	}

	f.tool(t, "sudo", fakeSudo)
	if err := CheckHostElevation(ctx, runner, h, "sudo"); err != nil {
		t.Errorf("NOPASSWD sudo: %v", err)
	}
	h.Elevate = "doas"
	f.tool(t, "doas", fakeSudo)
	if err := CheckHostElevation(ctx, runner, h, "sudo"); err != nil {
		t.Errorf("doas: %v", err)
	}
	if last := f.calls(t); last[len(last)-1].remote() != "doas -n -- true" {
		t.Errorf("doas check ran %q", last[len(last)-1].remote())
	}
	n := len(f.calls(t))
	for _, quiet := range []config.Host{{Name: "a", Target: "root@10.0.0.6"}, {Name: "b", Target: "u@h", Elevate: "none"}, {Name: "c", Target: "local"}} {
		if err := CheckHostElevation(ctx, runner, quiet, "sudo"); err != nil {
			t.Errorf("%s: %v", quiet.Name, err)
		}
	}
	if got := len(f.calls(t)); got != n {
		t.Errorf("hosts that need no elevation ran ssh %d times", got-n)
	}
	f.setDown(t, true)
	h.Elevate = ""
	if err := CheckHostElevation(ctx, runner, h, "sudo"); err == nil || !strings.Contains(err.Error(), "host web1: cannot reach deploy@10.0.0.5:2222") {
		t.Errorf("unreachable: %v", err)
	}
}

// sshDefaults are the options rebuild gives ssh after a host's own.
const sshDefaults = "-o ConnectTimeout=15 -o ServerAliveInterval=5 -o ServerAliveCountMax=3"

// fakeNix records its argv and NIX_SSHOPTS in $FAKESSH_DIR/nix-calls and
// answers nix build --json with $FAKE_OUT.
const fakeNix = `#!/bin/sh
{ printf '%s\0' "$(basename "$0")"; for a in "$@"; do printf '%s\0' "$a"; done; printf '\n%s\n' "$NIX_SSHOPTS"; } >> "$FAKESSH_DIR/nix-calls"
case $1 in
build) echo '[{"drvPath":"/x.drv","outputs":{"out":"'"$FAKE_OUT"'"}}]' ;;
esac
`

// nixCalls reads what fakeNix recorded: each call's argv and NIX_SSHOPTS.
func nixCalls(t *testing.T, f *fakeSSH) (argvs [][]string, opts []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "nix-calls"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		argvs = append(argvs, strings.Split(strings.TrimSuffix(lines[i], "\x00"), "\x00"))
		opts = append(opts, lines[i+1])
	}
	return argvs, opts
}

// build_on: the target builds with --eval-store auto --store ssh-ng://…
// and the result stays there; another host builds as a Nix remote
// builder; both reach ssh through NIX_SSHOPTS. What the target runs is
// read there.
func TestBuildOnArgv(t *testing.T) {
	f := newFakeSSH(t)
	f.tool(t, "nix", fakeNix)
	dir := t.TempDir()
	out := filepath.Join(dir, "store", "abc-nixos-system-web1")
	old := filepath.Join(dir, "store", "old-nixos-system-web1")
	for _, p := range []string{out, old, filepath.Join(dir, "flake")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	taskstest.Symlink(t, old, filepath.Join(dir, "run", "current-system"))
	taskstest.Symlink(t, old, filepath.Join(dir, "profiles", "system"))
	cfg := &config.Config{Flake: filepath.Join(dir, "flake"), Profile: filepath.Join(dir, "profiles", "system"),
		CurrentSystem: filepath.Join(dir, "run", "current-system"), BootedSystem: filepath.Join(dir, "run", "current-system"),
		StateDir: filepath.Join(dir, "state"), Elevate: "sudo",
		Hosts: map[string]config.Host{"builder": {Name: "builder", Target: "nix@b.example:2200", SSHOptions: []string{"-i", "/keys/b"}}}}
	web1 := config.Host{Name: "web1", Target: "root@10.0.0.5:2222", SSHOptions: []string{"-i", "/keys/web1"}}

	for _, tc := range []struct {
		buildOn  string
		want     []string
		opts     string
		onTarget bool
	}{
		{"target", []string{"--eval-store", "auto", "--store", "ssh-ng://root@10.0.0.5"}, "-o BatchMode=yes -p 2222 -i /keys/web1 " + sshDefaults, true},
		{"builder", []string{"--max-jobs", "0", "--builders", "ssh-ng://nix@b.example " + localSystem() + " - 1 1"}, "-o BatchMode=yes -p 2200 -i /keys/b " + sshDefaults, false},
		{"local", nil, "", false},
	} {
		_ = os.Remove(filepath.Join(f.dir, "nix-calls"))
		h := web1
		h.BuildOn = tc.buildOn
		env := remoteEnv(f, "build", h, cfg)
		env.Runner.Environ = append(env.Runner.Environ, "FAKE_OUT="+out)
		if err := (Build{}).Run(context.Background(), env); err != nil {
			t.Fatalf("build_on %s: %v", tc.buildOn, err)
		}
		argvs, opts := nixCalls(t, f)
		if len(argvs) != 1 {
			t.Fatalf("build_on %s: nix calls %q", tc.buildOn, argvs)
		}
		head := []string{"nix", "build", "--no-link", "--json", cfg.Flake + "#nixosConfigurations.web1.config.system.build.toplevel", "--log-format", "internal-json", "-v"}
		if !slices.Equal(argvs[0], append(head, tc.want...)) || opts[0] != tc.opts {
			t.Errorf("build_on %s: argv %q NIX_SSHOPTS %q", tc.buildOn, argvs[0], opts[0])
		}
		b, ok := BuiltKey.Get(env)
		if !ok || b.Out != out || !b.Changed || b.OnTarget != tc.onTarget || b.Running != old {
			t.Errorf("build_on %s: handed on %+v", tc.buildOn, b)
		}
	}

	// The target runs it and its profile points at it: no changes.
	for _, l := range []string{cfg.CurrentSystem, cfg.Profile} {
		_ = os.Remove(l)
		taskstest.Symlink(t, out, l)
	}
	env := remoteEnv(f, "build", web1, cfg)
	env.Runner.Environ = append(env.Runner.Environ, "FAKE_OUT="+out)
	if err := (Build{}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if b, _ := BuiltKey.Get(env); b.Changed {
		t.Errorf("running there already: %+v", b)
	}

	h := web1
	h.BuildOn = "nowhere"
	err := (Build{}).Run(context.Background(), remoteEnv(f, "build", h, cfg))
	if err == nil || !strings.Contains(err.Error(), `host web1: build_on = "nowhere" is neither local, target nor a host ([host.nowhere])`) {
		t.Errorf("unknown build_on: %v", err)
	}
	h.BuildOn = "target"
	h.SSHOptions = []string{"-i", "/keys/a key"}
	err = (Build{}).Run(context.Background(), remoteEnv(f, "build", h, cfg))
	if err == nil || !strings.Contains(err.Error(), `host web1: ssh option "/keys/a key" cannot reach Nix`) {
		t.Errorf("option with a space for Nix: %v", err)
	}
}

// copyRecorder records status lines and progress per task.
type copyRecorder struct {
	lines    []string
	progress []tasks.BuildProgress
}

func (p *copyRecorder) Status(_, line string) { p.lines = append(p.lines, line) }
func (p *copyRecorder) Progress(_, line string, bp tasks.BuildProgress) {
	p.lines = append(p.lines, line)
	p.progress = append(p.progress, bp)
}

var _ tasks.ProgressReporter = (*copyRecorder)(nil)

// fakeCopyNix answers path-info with the closure of $FAKE_OUT (three
// paths) and replays testdata's nix copy log (Nix 2.8's, which reports
// no progress of its own), a path a tenth of a second.
const fakeCopyNix = `#!/bin/sh
{ printf '%s\0' "$(basename "$0")"; for a in "$@"; do printf '%s\0' "$a"; done; printf '\n%s\n' "$NIX_SSHOPTS"; } >> "$FAKESSH_DIR/nix-calls"
case $1 in
path-info) printf '[{"path":"%s","narSize":232},{"path":"%s","narSize":1048576},{"path":"%s","narSize":3145728}]\n' "$FAKE_OUT" "$FAKE_A" "$FAKE_B" ;;
copy) while IFS= read -r l; do printf '%s\n' "$l" >&2; case $l in *'"action":"stop"'*) sleep 0.1 ;; esac; done < "$FAKE_COPY_LOG" ;;
esac
`

// fakeNixStore: the host has none of the paths.
const fakeNixStore = `#!/bin/sh
[ "$1" = --check-validity ] && [ "$2" = --print-invalid ] || exit 99
shift 2
for p; do echo "$p"; done
`

// copy asks the host what it is missing, copies with nix copy --to
// ssh-ng://… --no-check-sigs and NIX_SSHOPTS, and reports paths and bytes
// of a known total as status and progress.
func TestCopyArgvAndProgress(t *testing.T) {
	f := newFakeSSH(t)
	f.tool(t, "nix", fakeCopyNix)
	f.tool(t, "nix-store", fakeNixStore)
	dir := t.TempDir()
	store := "/nix/store/"
	out, a, b := store+"8g1qina5c2n361jnmc6lizmjpf1mbm0p-top", store+"qmgpy5xnmjdpgv0dl2zfriwk6xg6d9bn-a-1.0", store+"bahm13d45g1ch80fgki159bpyhr41v5j-b-2.0"
	logText, err := os.ReadFile("testdata/copy-internal-json.log")
	if err != nil {
		t.Fatal(err)
	}
	copyLog := filepath.Join(dir, "copy.log")
	if err := os.WriteFile(copyLog, bytes.ReplaceAll(logText, []byte("/tmp/exp/local/store/"), []byte(store)), 0o644); err != nil {
		t.Fatal(err)
	}
	web1 := config.Host{Name: "web1", Target: "root@10.0.0.5:2222", SSHOptions: []string{"-i", "/keys/web1"}}
	rec := &copyRecorder{}
	vals := tasks.NewValues()
	env := remoteEnvOf(f, "copy", web1, &config.Config{}, rec, vals)
	env.Runner.Environ = append(env.Runner.Environ, "FAKE_OUT="+out, "FAKE_A="+a, "FAKE_B="+b, "FAKE_COPY_LOG="+copyLog)
	BuiltKey.On("web1").Put(vals, Built{Out: out, Changed: true})
	if err := (Copy{}).Run(context.Background(), env); err != nil {
		t.Fatalf("copy: %v\n%s", err, env.Log.(*taskstest.Buffer).String())
	}
	argvs, opts := nixCalls(t, f)
	if len(argvs) != 2 || !slices.Equal(argvs[0], []string{"nix", "path-info", "-r", "--json", out}) {
		t.Fatalf("nix calls %q", argvs)
	}
	want := []string{"nix", "copy", "--to", "ssh-ng://root@10.0.0.5", "--no-check-sigs", out, "--log-format", "internal-json", "-v"}
	if !slices.Equal(argvs[1], want) || opts[1] != "-o BatchMode=yes -p 2222 -i /keys/web1 "+sshDefaults {
		t.Errorf("nix copy argv %q NIX_SSHOPTS %q", argvs[1], opts[1])
	}
	// Three paths, 4.0 MiB: b (3 MiB) goes first.
	for _, want := range []string{"copying 0/3 paths · 0.0/4.0 MiB", "copying 1/3 paths · 3.0/4.0 MiB", "copying 2/3 paths · 4.0/4.0 MiB", "copying 3/3 paths · 4.0/4.0 MiB"} {
		if !slices.ContainsFunc(rec.lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("statuses lack %q: %q", want, rec.lines)
		}
	}
	last := rec.progress[len(rec.progress)-1]
	if last.Downloaded != 3 || last.ToDownload != 3 || last.DownloadedBytes != 4194536 || last.DownloadBytes != 4194536 {
		t.Errorf("last progress %+v", last)
	}
	if st := stats(env); !strings.HasPrefix(st, "copied 3 paths (4.0 MiB) to web1") {
		t.Errorf("stats %q", st)
	}
	if log := env.Log.(*taskstest.Buffer).String(); !strings.Contains(log, "copying path '"+b+"' to 'ssh-ng://root@127.0.0.1'") || strings.Contains(log, "@nix") {
		t.Errorf("log:\n%s", log)
	}
}

// copy has nothing to do for a local host, a system built on the target,
// no changes, or a host that has the whole closure.
func TestCopyNothingToDo(t *testing.T) {
	f := newFakeSSH(t)
	f.tool(t, "nix", fakeCopyNix)
	f.tool(t, "nix-store", "#!/bin/sh\nexit 0\n")
	web1 := config.Host{Name: "web1", Target: "root@10.0.0.5"}
	for _, tc := range []struct {
		host  config.Host
		built Built
		want  string
	}{
		{config.Host{Name: "here", Target: "local"}, Built{Out: "/nix/store/x", Changed: true}, "local host: nothing to copy"},
		{web1, Built{Out: "/nix/store/x", Changed: true, OnTarget: true}, "built on web1: the system is there already"},
		{web1, Built{Out: "/nix/store/x"}, "no changes: web1 runs it already"},
	} {
		vals := tasks.NewValues()
		env := remoteEnvOf(f, "copy", tc.host, &config.Config{}, nil, vals)
		BuiltKey.On(tc.host.Name).Put(vals, tc.built)
		if kind, reason := outcome((Copy{}).Run(context.Background(), env)); kind != tasks.Skipped || reason != tc.want {
			t.Errorf("%s %+v: %v %q", tc.host.Name, tc.built, kind, reason)
		}
	}
	vals := tasks.NewValues()
	env := remoteEnvOf(f, "copy", web1, &config.Config{}, nil, vals)
	env.Runner.Environ = append(env.Runner.Environ, "FAKE_OUT=/nix/store/x", "FAKE_A=/nix/store/a", "FAKE_B=/nix/store/b")
	BuiltKey.On("web1").Put(vals, Built{Out: "/nix/store/x", Changed: true})
	if err := (Copy{}).Run(context.Background(), env); err != nil || stats(env) != "nothing to copy: web1 has the whole closure already" {
		t.Errorf("all there: %v %q", err, stats(env))
	}
	if argvs, _ := nixCalls(t, f); len(argvs) != 1 {
		t.Errorf("nix copy ran with nothing to copy: %q", argvs)
	}
}

// remote_state_dir is a path on the hosts: it must be absolute.
// The rig gives every remote host its own directory where a target
// keeps its records by default: the default must be the one it covers.
func TestRigCoversTheDefaultRemoteStateDir(t *testing.T) {
	if nixtest.RemoteStateDir != DefaultRemoteStateDir {
		t.Errorf("nixtest binds %s per host, the default is %s", nixtest.RemoteStateDir, DefaultRemoteStateDir)
	}
}

func TestRemoteStateDirOption(t *testing.T) {
	_, err := Activate{}.Configure(config.Task{Name: "activate", Options: map[string]any{"remote_state_dir": "var/lib/rebuild"}, File: "config.toml"})
	if err == nil || !strings.Contains(err.Error(), `task.activate.remote_state_dir = "var/lib/rebuild": not an absolute path`) {
		t.Errorf("relative remote_state_dir: %v", err)
	}
	a, err := Activate{}.Configure(config.Task{Name: "activate"})
	if err != nil || a.(Activate).Options.remoteStateDir() != DefaultRemoteStateDir {
		t.Errorf("default: %v %+v", err, a)
	}
}

// run0 runs each command in a service of its own: a step started in a
// session there would end with it, so that is refused before anything.
func TestRemoteRun0NeedsSystemdDetach(t *testing.T) {
	f := newFakeSSH(t)
	vals := tasks.NewValues()
	h := config.Host{Name: "web1", Target: "deploy@10.0.0.5", Elevate: "run0"}
	env := remoteEnvOf(f, "activate", h, &config.Config{}, nil, vals)
	BuiltKey.On("web1").Put(vals, Built{Out: "/nix/store/x", Changed: true})
	a, err := Activate{}.Configure(config.Task{Name: "activate", Options: map[string]any{"detach": "session"}})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), `host web1: detach = "session" cannot outlive run0's service there`) {
		t.Errorf("run0 with detach = session: %v", err)
	}
	for _, c := range f.calls(t) {
		if strings.Contains(c.remote(), "switch-to-configuration") {
			t.Errorf("a switch was started: %s", c.remote())
		}
	}
}

// The fingerprint of a host reached over ssh skips the evaluation only
// when the stored system is, on the target, both the running system and
// the profile's.
func TestRemoteFingerprint(t *testing.T) {
	f := newFakeSSH(t)
	f.tool(t, "nix", fakeNix)
	dir := t.TempDir()
	out := filepath.Join(dir, "store", "abc-nixos-system-web1")
	old := filepath.Join(dir, "store", "old-nixos-system-web1")
	for _, p := range []string{out, old, filepath.Join(dir, "flake")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	taskstest.WriteFile(t, filepath.Join(dir, "flake", "flake.nix"), "{ }\n")
	cfg := &config.Config{Flake: filepath.Join(dir, "flake"), Profile: filepath.Join(dir, "profiles", "system"),
		CurrentSystem: filepath.Join(dir, "run", "current-system"), BootedSystem: filepath.Join(dir, "run", "current-system"),
		StateDir: filepath.Join(dir, "state"), Elevate: "none"}
	point := func(current, profile string) {
		for l, p := range map[string]string{cfg.CurrentSystem: current, cfg.Profile: profile} {
			_ = os.Remove(l)
			taskstest.Symlink(t, p, l)
		}
	}
	web1 := config.Host{Name: "web1", Target: "root@10.0.0.5"}
	build := func() (Built, int) {
		t.Helper()
		vals := tasks.NewValues()
		env := remoteEnvOf(f, "build", web1, cfg, nil, vals)
		env.Runner.Environ = append(env.Runner.Environ, "FAKE_OUT="+out)
		if err := (Build{Options: BuildOptions{Fingerprint: true}}).Run(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		b, _ := BuiltKey.On("web1").Get(vals)
		argvs, _ := nixCalls(t, f)
		n := 0
		for _, a := range argvs {
			if len(a) > 1 && a[1] == "build" {
				n++
			}
		}
		return b, n
	}

	point(old, old)
	if b, n := build(); !b.Changed || n != 1 {
		t.Fatalf("first build: %+v, %d nix builds", b, n)
	}
	// web1 runs it now, and its profile points at it: nothing evaluated.
	point(out, out)
	if b, n := build(); b.Changed || b.Out != out || n != 1 {
		t.Errorf("fingerprint on a target that runs it: %+v, %d nix builds", b, n)
	}
	// Running it, but its profile points elsewhere: evaluate, and activate.
	point(out, old)
	if b, n := build(); !b.Changed || n != 2 {
		t.Errorf("profile elsewhere: %+v, %d nix builds", b, n)
	}
}
