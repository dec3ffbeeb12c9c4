// Package nixtest is the test helper for code that runs Nix: the demo's
// private Nix sandbox (internal/demo: a store, a test host flake with a
// bare git remote, a system profile with current and booted system links,
// all under one directory) with what only tests need: the profile's
// generations, the switch-to-configuration calls, the store's size, and a
// configuration and task environment pointing at the sandbox (harness.go).
//
// Only tests import it: `go list -deps ./cmd/rebuild` does not list it.
// What `rebuild demo` needs of the sandbox lives in internal/demo.
//
// A test against the sandbox: New; SetVersion("1.2") so flake-update has
// something to update (AddGeneration first for old generations to clean
// up); then the tasks with Config() as the configuration and Environ(nil)
// as the command environment (TaskEnv does both). SetVariant breaks the
// build or the evaluation.
//
// # Many machines: more hosts, and remote ones
//
// AddHosts adds nixosConfigurations to the flake (each toplevel, named
// nixos-system-<host>, holds a file `host` with its name);
// SetHostVariant breaks one host's build or evaluation; SetLockOut makes
// a host's configuration one that stops its sshd when switched to.
//
// A remote host (remote.go, hostshell.go, sshd.go) is a real sshd on
// 127.0.0.1 with its own port, host key and client key, whose every
// command (ForceCommand) runs in a private mount namespace where the
// host's own store, Nix state (database, system profile, GC roots), run
// directory (current-system, booted-system), boot entries and rebuild
// state directory stand at the sandbox's paths, with the sandbox's
// environment and its own switch log. Its store paths are the sandbox's
// logical paths in another store, so `nix copy`, remote builds and builds
// on the host really move paths between stores. It needs root, sshd,
// unshare and nix; RemoteAvailable (called by StartRemote) skips the
// test otherwise. A test with a remote host:
//
//	s := nixtest.NewT(t)                // New, Cleanup registered
//	web := s.StartRemote(t, "web1")     // host web1 in the flake, sshd up, generation 1 installed there
//	cfg := s.Config()
//	cfg.Hosts = map[string]config.Host{"web1": web.Host()} // target root@127.0.0.1:PORT, ssh options
//	// … run rebuild with s.Environ(nil) (+ web.Env() for a nix command of its own) …
//	web.SwitchCalls()                   // ["test", "switch"]: only what ran on web1
//	web.Generations()                   // web1's own profile
//	web.CurrentSystem()                 // its current-system link (a logical store path)
//	web.Has(path)                       // in web1's own store?
//	web.Run(ctx, "nix path-info …")     // a command on web1, over ssh
//
// What reaching such a host with Nix 2.8 takes (as for a real one):
// ssh-ng:// URIs take no port, so the port (and key) goes in NIX_SSHOPTS
// (Remote.Env: "-p PORT -i KEY -o …"), which makes one nix command reach
// one remote host only; `nix copy --to ssh-ng://…` of paths built here
// needs --no-check-sigs (the host requires signatures, as NixOS does by
// default; `nix-daemon --stdio`, which ssh-ng runs there, trusts its
// client, so the flag is honoured); a
// remote builder is `--max-jobs 0 --builders "ssh-ng://root@127.0.0.1
// x86_64-linux KEY 1 1"` (Remote.Builder) and builds with an empty PATH;
// building on the host is `--eval-store auto --store ssh-ng://…`.
// Remote.SetEnv sets variables for the host's commands (e.g.
// NIXTEST_SWITCH_FAIL=test for its switch-to-configuration). Stop and
// Start stop and restart its sshd (open connections live on); Close (run
// by StartRemote's cleanup, also when the test fails) stops it and every
// process its commands left running.
package nixtest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/internal/demo"
)

// Host is the name of the test host: nixosConfigurations.<Host>.
const Host = demo.Host

// Variant is what the host configuration does when built.
type Variant = demo.Variant

// The variants (see demo.Variant).
const (
	Good         = demo.Good
	BuildFailure = demo.BuildFailure
	EvalError    = demo.EvalError
	Slow         = demo.Slow
)

// Messages Nix prints for the failing variants, for tests to look for.
const (
	BuildFailureLine = demo.BuildFailureLine
	EvalErrorText    = demo.EvalErrorText
)

// Sandbox is the demo's sandbox with the readings tests make of it.
type Sandbox struct{ *demo.Sandbox }

// Available reports whether a nix binary is on PATH.
func Available() bool {
	_, err := exec.LookPath("nix")
	return err == nil
}

// New creates a sandbox under dir (see demo.NewSandbox): generation 1,
// current and booted, the flake committed and pushed. Call Cleanup (or
// Remove) when done, also when New fails with a non-nil Sandbox: the
// store is read-only.
func New(ctx context.Context, dir string) (*Sandbox, error) {
	s, err := demo.NewSandbox(ctx, dir)
	if s == nil {
		return nil, err
	}
	return &Sandbox{s}, err
}

// NewT is New for a test: a sandbox under t.TempDir(), made removable
// again when the test ends; it skips the test without nix and fails it
// when the sandbox cannot be made.
func NewT(t testing.TB) *Sandbox {
	t.Helper()
	if !Available() {
		t.Skip("nix not on PATH")
	}
	s, err := New(t.Context(), t.TempDir())
	if s != nil {
		t.Cleanup(func() { _ = s.Cleanup() })
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// SwitchCalls returns the arguments switch-to-configuration was called
// with, in order.
func (s *Sandbox) SwitchCalls() []string { return switchCalls(s.SwitchLog) }

// SwitchSystems returns the switch-to-configuration calls in order, each
// as "<action> <system>": which system's switch-to-configuration ran.
func (s *Sandbox) SwitchSystems() []string { return switchSystems(s.SwitchLog + ".systems") }

// Generations returns the profile's generation numbers, ascending, and
// the current one, read from the profile's links.
func (s *Sandbox) Generations() (gens []int, current int, err error) {
	return generations(s.Profile)
}

// switchCalls reads a switch log: one action a line.
func switchCalls(log string) []string {
	b, err := os.ReadFile(log)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// switchSystems reads a switch log's ".systems": "<action> <system>" a
// line.
func switchSystems(log string) []string {
	b, err := os.ReadFile(log)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// generations reads a profile's generations from its links.
func generations(profile string) (gens []int, current int, err error) {
	dir, base := filepath.Split(profile)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	for _, e := range entries {
		n, ok := strings.CutPrefix(e.Name(), base+"-")
		if !ok {
			continue
		}
		if n, ok = strings.CutSuffix(n, "-link"); !ok {
			continue
		}
		if g, err := strconv.Atoi(n); err == nil {
			gens = append(gens, g)
		}
	}
	sort.Ints(gens)
	link, err := os.Readlink(profile)
	if err != nil {
		return gens, 0, err
	}
	fmt.Sscanf(link, base+"-%d-link", &current)
	return gens, current, nil
}

// Resolve returns the store path a link (profile, current or booted
// system) points at.
func Resolve(link string) (string, error) { return filepath.EvalSymlinks(link) }

// StoreSize is the total size in bytes of the files in the store.
func (s *Sandbox) StoreSize() (int64, error) {
	var n int64
	err := filepath.WalkDir(s.Store, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}
