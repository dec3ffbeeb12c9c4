package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Host is the name of the test host: nixosConfigurations.<Host>.
const Host = "demo"

// Variant is what the host configuration does when built.
type Variant int

const (
	// Good builds.
	Good Variant = iota
	// BuildFailure depends on a derivation whose builder exits 1.
	BuildFailure
	// EvalError makes the toplevel a `throw`.
	EvalError
	// Slow depends on a derivation that sleeps ten minutes (for Ctrl-C tests).
	Slow
)

// Messages Nix prints for the failing variants, for tests to look for.
const (
	BuildFailureLine = "broken.c:1: this package never builds"
	EvalErrorText    = "the host configuration is broken on purpose"
)

// Sandbox is one private Nix world, in which rebuild's NixOS tasks run
// against real Nix without root, a daemon or a network: a private store, a
// test host flake whose toplevel is a plain derivation, a git repository
// for the flake with a bare remote, and a system profile with current and
// booted system links, all under one directory.
//
// The host flake has one input, `pkgs`, a second local flake reached by a
// `path:` URL, which provides versioned packages: foo (SetVersion changes
// it, and its size, so `nix store diff-closures` shows a version change and
// a size delta), bar, baz and linux (SetKernel; the toplevel links its
// kernel, initrd and kernel-modules as NixOS's does). The toplevel's bin/switch-to-configuration
// appends its argument to $NIXTEST_SWITCH_LOG, points
// $NIXTEST_CURRENT_SYSTEM at itself on `test` and `switch` (as NixOS does
// with /run/current-system), refuses `test` and `switch` as NixOS's switch
// inhibitor check does when the running system's inhibitor differs
// (SetInhibitor), appends "<action> <system>" to $NIXTEST_SWITCH_LOG.systems,
// rewrites the boot entries in $NIXTEST_BOOT_ENTRIES on `boot` and `switch`
// (one nixos-generation-N.conf per generation of $NIXTEST_PROFILE, as
// systemd-boot's builder does), and exits with $NIXTEST_SWITCH_CODE (default 1)
// when its argument equals $NIXTEST_SWITCH_FAIL. With $NIXTEST_SWITCH_SLOW=N
// it works slowly and says so, as the real one does: "start <action>",
// then N lines a tenth of a second apart, then "end <action>" when it is
// done (for tests that interrupt activation halfway). On a remote host
// of nixtest (which exports NIXTEST_SSHD_PIDFILE), a system marked by
// SetLockOut stops that host's sshd on `test` and `switch`, and any other
// starts it again. The flake may define more hosts (hosts.go); each
// host's toplevel holds its name in the file `host`.
//
// A run against the sandbox (`rebuild demo`, or a test): NewSandbox;
// SetVersion("1.2") so flake-update has something to update (AddGeneration
// first for old generations to clean up); then rebuild with a configuration
// pointing at the sandbox's paths and Environ(nil) as the command
// environment. SetVariant breaks the build or the evaluation (for tests).
//
// Its fields are the paths a rebuild configuration points at.
type Sandbox struct {
	Root          string // everything lives below
	Store         string // NIX_STORE_DIR
	State         string // NIX_STATE_DIR
	Home          string // HOME for every command (holds .gitconfig)
	Flake         string // the host flake, a git repository with remote "origin"
	Pkgs          string // the input flake, reached as path:<Pkgs>
	Remote        string // the bare repository behind origin
	Profile       string // the system profile (a GC root, like the real one)
	CurrentSystem string // like /run/current-system
	BootedSystem  string // like /run/booted-system
	SwitchLog     string // every switch-to-configuration call, one a line
	BootEntries   string // like systemd-boot's /boot/loader/entries
	Host          string

	version string
	variant Variant
	hosts   []hostDef // the flake's hosts, Host first (hosts.go)
	slow    int       // seconds foo's builder takes (SetBuildSeconds)
	kernel  string    // the kernel's version (SetKernel)
	inhibit string    // the systemd switch inhibitor's value (SetInhibitor)
}

// The kernel version and switch inhibitor a new sandbox's system has.
const (
	DefaultKernel    = "6.6.1"
	DefaultInhibitor = "255.1"
)

// NewSandbox creates a sandbox under dir (which should be empty), builds the
// host configuration with foo-1.0 and installs it as generation 1, current
// and booted, and commits and pushes the flake. Call Cleanup (or Remove)
// when done, also when New fails with a non-nil Sandbox: the store is
// read-only.
func NewSandbox(ctx context.Context, dir string) (*Sandbox, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{
		Root:          dir,
		Store:         filepath.Join(dir, "store"),
		State:         filepath.Join(dir, "var"),
		Home:          filepath.Join(dir, "home"),
		Flake:         filepath.Join(dir, "flake"),
		Pkgs:          filepath.Join(dir, "pkgs"),
		Remote:        filepath.Join(dir, "remote.git"),
		Profile:       filepath.Join(dir, "var", "profiles", "system"),
		CurrentSystem: filepath.Join(dir, "run", "current-system"),
		BootedSystem:  filepath.Join(dir, "run", "booted-system"),
		SwitchLog:     filepath.Join(dir, "switch.log"),
		BootEntries:   filepath.Join(dir, "boot", "loader", "entries"),
		Host:          Host,
		hosts:         []hostDef{{name: Host}},
		version:       "1.0",
		kernel:        DefaultKernel,
		inhibit:       DefaultInhibitor,
	}
	for _, d := range []string{"conf", "cache", "home", "flake", "pkgs", "run", "var/profiles", "var/gcroots", "boot/loader/entries"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"conf/nix.conf": nixConf,
		"home/.gitconfig": "[user]\n\tname = rebuild test\n\temail = rebuild@example.invalid\n" +
			"[init]\n\tdefaultBranch = main\n[safe]\n\tdirectory = *\n",
		"flake/toplevel.sh":             toplevelSh,
		"flake/switch-to-configuration": switchSh,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	// /run/current-system and /run/booted-system are GC roots on NixOS.
	for _, l := range []string{s.CurrentSystem, s.BootedSystem} {
		if err := os.Symlink(l, filepath.Join(s.State, "gcroots", filepath.Base(l))); err != nil {
			return nil, err
		}
	}
	if err := s.SetVersion("1.0"); err != nil {
		return nil, err
	}
	if err := s.SetVariant(Good); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"git", "init", "-q", s.Flake},
		{"git", "-C", s.Flake, "add", "-A"}, // Nix sees only tracked files
		{"nix", "flake", "lock", s.Flake},
		{"git", "-C", s.Flake, "add", "-A"},
		{"git", "-C", s.Flake, "commit", "-q", "-m", "initial configuration"},
		{"git", "init", "-q", "--bare", s.Remote},
		{"git", "-C", s.Flake, "remote", "add", "origin", s.Remote},
		{"git", "-C", s.Flake, "push", "-q", "-u", "origin", "main"},
	}
	for _, args := range steps {
		if _, err := s.Run(ctx, "", args...); err != nil {
			return s, err
		}
	}
	out, err := s.Build(ctx)
	if err != nil {
		return s, err
	}
	if _, err := s.Run(ctx, "", "nix-env", "-p", s.Profile, "--set", out); err != nil {
		return s, err
	}
	for _, l := range []string{s.CurrentSystem, s.BootedSystem} {
		if err := os.Symlink(out, l); err != nil {
			return s, err
		}
	}
	return s, s.writeBootEntry()
}

// writeBootEntry writes the boot entry of the profile's current
// generation, as installing a generation with boot does.
func (s *Sandbox) writeBootEntry() error {
	target, err := os.Readlink(s.Profile)
	if err != nil {
		return err
	}
	n := strings.TrimSuffix(strings.TrimPrefix(target, filepath.Base(s.Profile)+"-"), "-link")
	return os.WriteFile(filepath.Join(s.BootEntries, "nixos-generation-"+n+".conf"), []byte("title NixOS generation "+n+"\n"), 0o644)
}

// Env returns the variables every command in the sandbox needs, as
// KEY=VALUE: the private store, HOME, and the switch-to-configuration
// stand-in's log and current-system link.
func (s *Sandbox) Env() []string {
	return []string{
		"NIX_STORE_DIR=" + s.Store,
		"NIX_STATE_DIR=" + s.State,
		"NIX_LOG_DIR=" + filepath.Join(s.State, "log"),
		"NIX_CONF_DIR=" + filepath.Join(s.Root, "conf"),
		"NIX_REMOTE=",
		"XDG_CACHE_HOME=" + filepath.Join(s.Root, "cache"),
		"HOME=" + s.Home,
		"NIXTEST_SWITCH_LOG=" + s.SwitchLog,
		"NIXTEST_CURRENT_SYSTEM=" + s.CurrentSystem,
		"NIXTEST_PROFILE=" + s.Profile,
		"NIXTEST_BOOT_ENTRIES=" + s.BootEntries,
	}
}

// Environ is base (os.Environ() when nil) without inherited NIX_* and
// git variables and with Env added: the environment for a proc.Runner.
func (s *Sandbox) Environ(base []string) []string {
	if base == nil {
		base = os.Environ()
	}
	drop := map[string]bool{"HOME": true, "XDG_CACHE_HOME": true, "NIXTEST_SWITCH_LOG": true,
		"NIXTEST_CURRENT_SYSTEM": true, "NIXTEST_SWITCH_FAIL": true, "NIXTEST_SWITCH_CODE": true,
		"NIXTEST_SWITCH_SLOW": true, "NIXTEST_PROFILE": true, "NIXTEST_BOOT_ENTRIES": true}
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if drop[k] || strings.HasPrefix(k, "NIX_") || strings.HasPrefix(k, "GIT_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, s.Env()...)
}

// Runner returns a command runner for the sandbox, with no elevation.
func (s *Sandbox) Runner() *proc.Runner { return &proc.Runner{Environ: s.Environ(nil)} }

// Run runs a command in dir with the sandbox's environment and returns
// its standard output; the error carries the command's last lines.
func (s *Sandbox) Run(ctx context.Context, dir string, args ...string) (string, error) {
	var out, log bytes.Buffer
	err := s.Runner().Run(ctx, proc.Cmd{Args: args, Dir: dir, Stdout: &out, Log: &log})
	if err != nil {
		return out.String(), fmt.Errorf("sandbox: %w", err)
	}
	return out.String(), nil
}

// Attr is the installable of the host's toplevel.
func (s *Sandbox) Attr() string {
	return s.Flake + "#nixosConfigurations." + s.Host + ".config.system.build.toplevel"
}

// Build builds the host configuration as it is now and returns its path.
func (s *Sandbox) Build(ctx context.Context) (string, error) { return s.build(ctx, s.Attr()) }

func (s *Sandbox) build(ctx context.Context, attr string) (string, error) {
	out, err := s.Run(ctx, "", "nix", "build", "--no-link", "--print-build-logs", "--json", attr)
	if err != nil {
		return "", err
	}
	i := strings.Index(out, `"out":"`)
	if i < 0 {
		return "", fmt.Errorf("sandbox: no output path in %q", out)
	}
	rest := out[i+len(`"out":"`):]
	return rest[:strings.IndexByte(rest, '"')], nil
}

// AddGeneration sets foo's version, updates the lock file, commits, builds
// and makes the result a new generation of the profile and the current
// system (not the booted one), the way a rebuild would. It returns the
// new system's path.
func (s *Sandbox) AddGeneration(ctx context.Context, version string) (string, error) {
	if err := s.SetVersion(version); err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"nix", "flake", "update", s.Flake},
		{"git", "-C", s.Flake, "commit", "-q", "-a", "-m", "foo " + version},
	} {
		if _, err := s.Run(ctx, "", args...); err != nil {
			return "", err
		}
	}
	out, err := s.Build(ctx)
	if err != nil {
		return "", err
	}
	if _, err := s.Run(ctx, "", "nix-env", "-p", s.Profile, "--set", out); err != nil {
		return "", err
	}
	if err := s.writeBootEntry(); err != nil {
		return "", err
	}
	return out, relink(out, s.CurrentSystem)
}

// SetVersion rewrites the input flake so foo has version v (and a size
// that grows with it). The host's lock file still pins the old input until
// it is updated.
func (s *Sandbox) SetVersion(v string) error {
	s.version = v
	kib := 64
	for _, r := range v {
		if r >= '0' && r <= '9' {
			kib += 32 * int(r-'0')
		}
	}
	text := strings.NewReplacer("@FOO@", v, "@FOOKIB@", strconv.Itoa(kib), "@FOOSLOW@", strconv.Itoa(s.slow),
		"@KERNEL@", s.kernel).Replace(pkgsFlake)
	return os.WriteFile(filepath.Join(s.Pkgs, "flake.nix"), []byte(text), 0o644)
}

// SetBuildSeconds makes foo's builder take n seconds from now on (a line
// of output each second), for a build slow enough to watch; 0 makes it
// quick again. It rewrites the input flake as SetVersion does.
func (s *Sandbox) SetBuildSeconds(n int) error {
	s.slow = max(n, 0)
	return s.SetVersion(s.version)
}

// SetKernel gives the system kernel version v from now on (its kernel,
// initrd and kernel-modules links change), rewriting the input flake as
// SetVersion does: the booted system keeps the old one.
func (s *Sandbox) SetKernel(v string) error {
	s.kernel = v
	return s.SetVersion(s.version)
}

// SetInhibitor sets the value of the system's one switch inhibitor
// ("systemd", in its switch-inhibitors file, as NixOS writes
// system.switch.inhibitors): a system whose value differs from the
// running one's is refused by switch-to-configuration test and switch, as
// NixOS's pre-switch check does. It rewrites the host flake.
func (s *Sandbox) SetInhibitor(v string) error {
	s.inhibit = v
	return s.writeFlake()
}

// Version is foo's version in the input flake.
func (s *Sandbox) Version() string { return s.version }

// SetVariant makes every host's configuration v (undoing SetHostVariant)
// and rewrites the host flake (uncommitted; Nix reads a git flake's
// tracked files with their changes).
func (s *Sandbox) SetVariant(v Variant) error {
	s.variant = v
	for i := range s.hosts {
		s.hosts[i].variant = v
	}
	return s.writeFlake()
}

// writeFlake writes the host flake: one toplevel per host, each as its
// variant and lock-out mark say.
func (s *Sandbox) writeFlake() error {
	text := strings.Replace(hostFlake, "@TOPLEVEL@", toplevelNix, 1)
	text = strings.NewReplacer("@PKGS@", s.Pkgs, "@HOSTS@", s.hostsNix(),
		"@BROKENLINE@", BuildFailureLine, "@INHIBIT@", s.inhibit).Replace(text)
	return os.WriteFile(filepath.Join(s.Flake, "flake.nix"), []byte(text), 0o644)
}

// Cleanup makes the sandbox writable again, so it can be removed (the
// store's directories are read-only).
func (s *Sandbox) Cleanup() error {
	return filepath.WalkDir(s.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return nil
	})
}

// Remove cleans up and deletes the sandbox.
func (s *Sandbox) Remove() error {
	if err := s.Cleanup(); err != nil {
		return err
	}
	return os.RemoveAll(s.Root)
}

func relink(target, link string) error {
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}
