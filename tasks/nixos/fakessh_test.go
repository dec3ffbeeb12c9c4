package nixos

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// fakeSSH is an ssh stand-in put first on the PATH of a task's runner: it
// records every call (its argv, and NIX_SSHOPTS) and runs the remote
// command line — its last argument — here, with sh, as the target's
// shell would: a "remote host" that is this machine, so that the scripts
// rebuild runs on a target really run. With down present it fails as
// ssh does when it cannot connect (exit status 255); with lockout on, a
// call that ran switch-to-configuration test puts down there afterwards:
// a switch that locks rebuild out. SIGTERM to a call (its pid ends the
// name of its record) drops its connection.
type fakeSSH struct {
	dir, bin string
}

const fakeSSHScript = `#!/bin/sh
d=$FAKESSH_DIR
f=$d/calls/$(date +%s%N)-$$
for a in "$@"; do printf '%s\0' "$a"; done > "$f"
printf '%s' "$NIX_SSHOPTS" > "$f.opts"
if [ -e "$d/down" ]; then echo "ssh: connect to host fake port 22: Connection refused" >&2; exit 255; fi
for last; do :; done
# What runs there is not this command's: rebuild's runner must not take
# what it leaves running (a detached step) for its own.
unset _REBUILD_PROC
# SIGTERM to this process is a dropped connection: the remote command
# loses its session, ssh exits 255.
trap 'kill $child 2>/dev/null; echo "Connection to fake closed by remote host." >&2; exit 255' TERM
exec 3<&0
sh -c "$last" <&3 3<&- &
child=$!
wait $child
rc=$?
if [ -e "$d/lockout" ]; then case $last in *"switch-to-configuration test"*) : > "$d/down" ;; esac; fi
exit $rc
`

func newFakeSSH(t *testing.T) *fakeSSH {
	t.Helper()
	dir := t.TempDir()
	f := &fakeSSH{dir: dir, bin: filepath.Join(dir, "bin")}
	for _, d := range []string{f.bin, filepath.Join(dir, "calls")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.tool(t, "ssh", fakeSSHScript)
	return f
}

// tool puts an executable script named name on the fake's PATH.
func (f *fakeSSH) tool(t *testing.T, name, script string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.bin, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// environ is base with the fake first on PATH.
func (f *fakeSSH) environ(base []string) []string {
	var out []string
	path := ""
	for _, kv := range base {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
			continue
		}
		out = append(out, kv)
	}
	return append(out, "PATH="+f.bin+":"+path, "FAKESSH_DIR="+f.dir)
}

// sshCall is one recorded call.
type sshCall struct {
	argv    []string
	nixOpts string
	pid     int // the fake ssh's
}

// remote is the call's remote command line (its last argument).
func (c sshCall) remote() string { return c.argv[len(c.argv)-1] }

// calls returns the recorded calls, oldest first.
func (f *fakeSSH) calls(t *testing.T) []sshCall {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(f.dir, "calls"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".opts") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []sshCall
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(f.dir, "calls", n))
		if err != nil {
			t.Fatal(err)
		}
		opts, _ := os.ReadFile(filepath.Join(f.dir, "calls", n+".opts"))
		_, pid, _ := strings.Cut(n, "-")
		p, _ := strconv.Atoi(pid)
		out = append(out, sshCall{argv: strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"), nixOpts: string(opts), pid: p})
	}
	return out
}

// setDown makes every later call fail to connect (or connect again).
func (f *fakeSSH) setDown(t *testing.T, down bool) {
	t.Helper()
	p := filepath.Join(f.dir, "down")
	if down {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		_ = os.Remove(p)
	}
}

// lockout makes the call that runs switch-to-configuration test put down
// in place after it.
func (f *fakeSSH) lockout(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "lockout"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
