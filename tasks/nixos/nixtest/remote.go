package nixtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Remote is a "remote host" of a sandbox: a real sshd on 127.0.0.1 whose
// every command runs in a private mount namespace where the host's own
// directories stand at the sandbox's paths (hostshell.go), so it has its
// own store (at the same logical store path: store paths copy between
// stores only when their store directories match), its own Nix database,
// system profile and GC roots, current and booted system links, boot
// entries, rebuild state directory and switch-to-configuration log. `nix
// copy --to ssh-ng://…`, remote builds (--builders) and building on it
// (--store ssh-ng://…) really reach that store.
//
// It belongs to the host Name of the sandbox's flake
// (nixosConfigurations.<Name>), whose generation 1 it runs, current and
// booted. Its readers (SwitchCalls, Generations, CurrentSystem, Has) read
// its files directly, not over ssh.
type Remote struct {
	Name   string // the host: nixosConfigurations.<Name>
	Dir    string // the host's own directories (store, var, run, boot, state, ssh, switch.log)
	Store  string // Dir/store: where its store paths really are
	Port   int    // its sshd's port on 127.0.0.1
	Key    string // the client's private key, authorized for root
	System string // its generation 1, installed by AddRemote

	s    *Sandbox
	mu   sync.Mutex
	sshd *exec.Cmd     // the sshd Start started, while it runs
	done chan struct{} // closed when that sshd has been waited for
}

// User and address every remote host is reached at (its port tells them
// apart).
const (
	remoteUser = "root"
	remoteAddr = "127.0.0.1"
)

// StartRemote adds a remote host named name to the sandbox (AddRemote),
// closing it when the test ends, also when it fails; it skips the test
// when remote hosts cannot run here (RemoteAvailable) and fails it when
// the host cannot be set up.
func (s *Sandbox) StartRemote(t testing.TB, name string) *Remote {
	t.Helper()
	RemoteAvailable(t)
	r, err := s.AddRemote(t.Context(), name)
	if r != nil {
		t.Cleanup(func() {
			if err := r.Close(); err != nil {
				t.Errorf("closing remote host %s: %v", name, err)
			}
		})
	}
	if err != nil {
		t.Fatalf("remote host %s: %v", name, err)
	}
	return r
}

// AddRemote adds the host name to the flake (AddHosts), gives it its own
// directories, keys and a running sshd, builds its configuration here and
// installs it there through the rig itself — nix copy to
// ssh-ng://root@127.0.0.1, then nix-env --set and the current and booted
// system links over ssh — as generation 1. Close the Remote when done,
// also when AddRemote fails with a non-nil Remote.
func (s *Sandbox) AddRemote(ctx context.Context, name string) (*Remote, error) {
	if err := s.AddHosts(ctx, name); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.Root, "hosts", name)
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("remote host %s: %s exists already", name, dir)
	}
	r := &Remote{Name: name, Dir: dir, Store: filepath.Join(dir, "store"), Key: filepath.Join(dir, "ssh", "client_key"), s: s}
	if err := r.layout(); err != nil {
		return r, err
	}
	if err := r.keys(ctx); err != nil {
		return r, err
	}
	if err := r.listen(ctx); err != nil {
		return r, err
	}
	out, err := s.BuildHost(ctx, name)
	if err != nil {
		return r, err
	}
	if _, err := s.RunEnv(ctx, r.Env(), "nix", "copy", "--no-check-sigs", "--to", r.StoreURI(), out); err != nil {
		return r, fmt.Errorf("remote host %s: %w", name, err)
	}
	install := fmt.Sprintf("nix-env -p %s --set %s && ln -sfn %s %s && ln -sfn %s %s && echo 'title NixOS generation 1' > %s/nixos-generation-1.conf",
		shq(s.Profile), shq(out), shq(out), shq(s.CurrentSystem), shq(out), shq(s.BootedSystem), shq(s.BootEntries))
	if _, err := r.Run(ctx, install); err != nil {
		return r, err
	}
	r.System = out
	return r, nil
}

// layout makes the host's own directories, and the mount points they are
// bound to in the sandbox where missing.
func (r *Remote) layout() error {
	for _, d := range []string{"store", "var/profiles", "var/gcroots", "run", "boot", "state", "remote-state", "ssh"} {
		if err := os.MkdirAll(filepath.Join(r.Dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, m := range r.mounts() {
		if err := os.MkdirAll(m.at, 0o755); err != nil {
			return err
		}
	}
	// As in the sandbox: the current and booted system are GC roots.
	for _, l := range []string{r.s.CurrentSystem, r.s.BootedSystem} {
		if err := os.Symlink(l, filepath.Join(r.Dir, "var", "gcroots", filepath.Base(l))); err != nil {
			return err
		}
	}
	return nil
}

// keys makes the host's host key and the client key it authorizes.
func (r *Remote) keys(ctx context.Context) error {
	for _, k := range []string{r.hostKey(), r.Key} {
		if _, err := r.s.Run(ctx, "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nixtest-"+r.Name, "-f", k); err != nil {
			return err
		}
	}
	pub, err := os.ReadFile(r.Key + ".pub")
	if err != nil {
		return err
	}
	return os.WriteFile(r.authorizedKeys(), pub, 0o600)
}

// Target is the host's rebuild target, root@127.0.0.1:PORT.
func (r *Remote) Target() string {
	return remoteUser + "@" + remoteAddr + ":" + strconv.Itoa(r.Port)
}

// SSHOptions are the ssh options that reach the host besides its port:
// the client key, and no host key checks (its host key is new every
// test). They suit ssh's command line and NIX_SSHOPTS alike.
func (r *Remote) SSHOptions() []string {
	return []string{"-i", r.Key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}
}

// NixSSHOpts is NIX_SSHOPTS for this host: its port and SSHOptions (Nix
// 2.8's ssh-ng:// URIs take no port).
func (r *Remote) NixSSHOpts() string {
	return "-p " + strconv.Itoa(r.Port) + " " + strings.Join(r.SSHOptions(), " ")
}

// Env is what a local command reaching the host through Nix needs on top
// of the sandbox's environment: NIX_SSHOPTS.
func (r *Remote) Env() []string { return []string{"NIX_SSHOPTS=" + r.NixSSHOpts()} }

// StoreURI is the host's store for nix copy --to and --store, with Env.
func (r *Remote) StoreURI() string { return "ssh-ng://" + remoteUser + "@" + remoteAddr }

// Builder is the host as a Nix remote builder, for --builders (with
// --max-jobs 0 to build nothing here, and Env for the port).
func (r *Remote) Builder() string {
	return r.StoreURI() + " x86_64-linux " + r.Key + " 1 1"
}

// Host is the host as a rebuild configuration's [host.<Name>] table:
// its target and ssh options, built locally, no elevation (it is root).
func (r *Remote) Host() config.Host {
	return config.Host{Name: r.Name, Target: r.Target(), BuildOn: config.BuildLocal,
		SSHOptions: r.SSHOptions(), Elevate: "none"}
}

// SSH is the ssh command line that runs command on the host.
func (r *Remote) SSH(command string) []string {
	args := append([]string{"ssh", "-p", strconv.Itoa(r.Port)}, r.SSHOptions()...)
	return append(args, "-o", "BatchMode=yes", remoteUser+"@"+remoteAddr, command)
}

// Run runs a shell command on the host over ssh and returns its standard
// output; the error carries its last lines.
func (r *Remote) Run(ctx context.Context, command string) (string, error) {
	out, err := r.s.Run(ctx, "", r.SSH(command)...)
	if err != nil {
		return out, fmt.Errorf("remote host %s: %w", r.Name, err)
	}
	return out, nil
}

// SetEnv sets variables (KEY=VALUE) for every command on the host from
// now on, over the sandbox's — e.g. NIXTEST_SWITCH_FAIL=test or
// NIXTEST_SWITCH_SLOW=20 for that host's switch-to-configuration. Each
// call replaces the previous set; none clears it.
func (r *Remote) SetEnv(kv ...string) error {
	var b strings.Builder
	for _, v := range kv {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("remote host %s: %q is not KEY=VALUE", r.Name, v)
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, shq(val))
	}
	return os.WriteFile(r.envFile(), []byte(b.String()), 0o644)
}

// Has reports whether the store path p (a path of the sandbox's logical
// store) is in the host's own store.
func (r *Remote) Has(p string) bool {
	_, err := os.Lstat(filepath.Join(r.Store, filepath.Base(p)))
	return err == nil
}

// SwitchCalls returns the arguments switch-to-configuration was called
// with on the host, in order.
func (r *Remote) SwitchCalls() []string { return switchCalls(r.switchLog()) }

// SwitchSystems returns the host's switch-to-configuration calls in
// order, each as "<action> <system>".
func (r *Remote) SwitchSystems() []string { return switchSystems(r.switchLog() + ".systems") }

// Generations returns the host's profile's generation numbers, ascending,
// and the current one.
func (r *Remote) Generations() (gens []int, current int, err error) {
	return generations(filepath.Join(r.Dir, "var", "profiles", filepath.Base(r.s.Profile)))
}

// CurrentSystem is the store path the host's current-system link points
// at (a path of the sandbox's logical store; see Has).
func (r *Remote) CurrentSystem() (string, error) {
	return os.Readlink(filepath.Join(r.Dir, "run", filepath.Base(r.s.CurrentSystem)))
}

// BootedSystem is the store path the host's booted-system link points at.
func (r *Remote) BootedSystem() (string, error) {
	return os.Readlink(filepath.Join(r.Dir, "run", filepath.Base(r.s.BootedSystem)))
}

// Close stops the host: its sshd and every process still running on it
// (a command's detached children), and makes its store writable so the
// sandbox can be removed. It may be called more than once.
func (r *Remote) Close() error {
	errs := []error{r.Stop()}
	killHost(r.Dir)
	return errors.Join(append(errs, makeWritable(r.Dir))...)
}

func (r *Remote) hostKey() string        { return filepath.Join(r.Dir, "ssh", "host_key") }
func (r *Remote) authorizedKeys() string { return filepath.Join(r.Dir, "ssh", "authorized_keys") }
func (r *Remote) envFile() string        { return filepath.Join(r.Dir, "env") }
func (r *Remote) switchLog() string      { return filepath.Join(r.Dir, "switch.log") }

// shq quotes s for a POSIX shell.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// RunEnv is Run with extra KEY=VALUE variables (a Remote's Env).
func (s *Sandbox) RunEnv(ctx context.Context, env []string, args ...string) (string, error) {
	var out, log bytes.Buffer
	err := s.Runner().Run(ctx, proc.Cmd{Args: args, Env: env, Stdout: &out, Log: &log})
	if err != nil {
		return out.String(), fmt.Errorf("sandbox: %w", err)
	}
	return out.String(), nil
}
