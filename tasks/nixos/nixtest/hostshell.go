package nixtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// The host shell: sshd's ForceCommand for a remote host. sshd runs it
// (through root's login shell) for every connection, with the client's
// command in SSH_ORIGINAL_COMMAND. It re-runs itself in a private mount
// namespace (unshare -m, then mount --make-rprivate / so nothing leaks
// back), binds the host's own directories over the sandbox's paths, sets
// the sandbox's environment and runs the command — `nix-daemon --stdio`
// for ssh-ng://, whose standard output is Nix's protocol: the script
// prints nothing of its own there.
//
// Every process of the host carries NIXTEST_HOST_DIR=<Dir> in its
// environment (sshd is started with it and the host shell exports it), so
// Close finds what a command left running (killHost).

// mount is one directory of the host bound over one of the sandbox.
type mount struct{ from, at string }

// mounts are the host's own directories and where they stand in its
// namespace: the store, the Nix state (database, profiles, GC roots), the
// run directory (current-system, booted-system), the boot entries,
// rebuild's state directory, and the directory a target keeps rebuild's
// activation records and lock in by default (RemoteStateDir): every real
// host has its own.
func (r *Remote) mounts() []mount {
	s := r.s
	return []mount{
		{filepath.Join(r.Dir, "store"), s.Store},
		{filepath.Join(r.Dir, "var"), s.State},
		{filepath.Join(r.Dir, "run"), filepath.Dir(s.CurrentSystem)},
		{filepath.Join(r.Dir, "boot"), s.BootEntries},
		{filepath.Join(r.Dir, "state"), s.Config().StateDir},
		{filepath.Join(r.Dir, "remote-state"), RemoteStateDir},
	}
}

// RemoteStateDir is task.activate.remote_state_dir's default
// (nixos.DefaultRemoteStateDir, which this package cannot import: the
// nixos package's tests import it).
const RemoteStateDir = "/var/lib/rebuild"

// hostEnv is the environment of every command on the host: the sandbox's,
// with the host's own switch logs, its sshd's pid file and start script
// (for a configuration that locks you out, SetLockOut), its name, and a
// PATH with the system's directories and Nix's.
func (r *Remote) hostEnv() []string {
	path := []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}
	for _, prog := range []string{"nix", "nix-daemon"} {
		if p, err := exec.LookPath(prog); err == nil && !slices.Contains(path, filepath.Dir(p)) {
			path = append([]string{filepath.Dir(p)}, path...)
		}
	}
	var env []string
	for _, kv := range r.s.Env() {
		if k, _, _ := strings.Cut(kv, "="); k != "NIXTEST_SWITCH_LOG" {
			env = append(env, kv)
		}
	}
	return append(env,
		"NIXTEST_SWITCH_LOG="+r.switchLog(),
		"NIXTEST_SSHD_PIDFILE="+r.pidFile(),
		"NIXTEST_SSHD_START="+r.startScript(),
		"NIXTEST_HOST="+r.Name,
		"NIXTEST_HOST_DIR="+r.Dir,
		"PATH="+strings.Join(path, ":"))
}

// writeHostShell writes the host shell and the script that starts sshd.
func (r *Remote) writeHostShell() error {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return err
	}
	mnt, err := exec.LookPath("mount")
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# The shell of nixtest remote host %s (sshd's ForceCommand; see tasks/nixos/nixtest/hostshell.go).\n", r.Name)
	fmt.Fprintf(&b, "if [ \"$NIXTEST_HOST_NS\" != %s ]; then\n\tNIXTEST_HOST_NS=%s exec %s -m /bin/sh \"$0\"\nfi\n", shq(r.Dir), shq(r.Dir), shq(unshare))
	fmt.Fprintf(&b, "unset NIXTEST_HOST_NS\nset -e\n%s --make-rprivate /\n", shq(mnt))
	for _, m := range r.mounts() {
		fmt.Fprintf(&b, "%s --bind %s %s\n", shq(mnt), shq(m.from), shq(m.at))
	}
	b.WriteString("set +e\n")
	for _, kv := range r.hostEnv() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shq(v))
	}
	fmt.Fprintf(&b, "[ ! -f %s ] || . %s\n", shq(r.envFile()), shq(r.envFile()))
	fmt.Fprintf(&b, "cd %s || exit 1\n", shq(r.s.Home))
	b.WriteString("[ -z \"$SSH_ORIGINAL_COMMAND\" ] || exec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\nexec /bin/sh -i\n")
	if err := os.WriteFile(r.hostShell(), []byte(b.String()), 0o755); err != nil {
		return err
	}
	start := fmt.Sprintf("#!/bin/sh\n# Starts the sshd of nixtest remote host %s (daemonized).\nexec %s -f %s -E %s\n",
		r.Name, shq(sshdPath), shq(r.sshdConfig()), shq(r.sshdLog()))
	return os.WriteFile(r.startScript(), []byte(start), 0o755)
}

func (r *Remote) hostShell() string   { return filepath.Join(r.Dir, "ssh", "host-shell") }
func (r *Remote) startScript() string { return filepath.Join(r.Dir, "ssh", "start-sshd") }
