package demo

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The host flake's hosts. A new sandbox's flake has one,
// nixosConfigurations.<Host>; tests of many machines add more (AddHosts).
// Every host's toplevel is the same derivation but for its name
// (nixos-system-<name>) and the file `host` in it, which holds the name:
// a switch-to-configuration that ran says which host's system it was.

// hostDef is one host of the flake and what its configuration does.
type hostDef struct {
	name    string
	variant Variant
	lockout bool // its switch-to-configuration stops the host's sshd (SetLockOut)
}

// hostName is what a host added to the flake may be called: a plain Nix
// attribute name, usable unquoted in an installable.
var hostName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// AddHosts adds hosts to the flake (nixosConfigurations.<name>, built as
// the sandbox's variant), ignoring names it has already, and commits
// flake.nix so the tree is clean as after NewSandbox (call it before
// making changes that should stay uncommitted).
func (s *Sandbox) AddHosts(ctx context.Context, names ...string) error {
	added := false
	for _, n := range names {
		if !hostName.MatchString(n) {
			return fmt.Errorf("sandbox: host name %q: want letters, digits, - and _", n)
		}
		if s.hostDef(n) == nil {
			s.hosts = append(s.hosts, hostDef{name: n, variant: s.variant})
			added = true
		}
	}
	if !added {
		return nil
	}
	if err := s.writeFlake(); err != nil {
		return err
	}
	_, err := s.Run(ctx, "", "git", "-C", s.Flake, "commit", "-q", "-m", "hosts: "+strings.Join(s.Hosts(), ", "), "--", "flake.nix")
	return err
}

// Hosts returns the flake's host names, Host first, then in the order
// they were added.
func (s *Sandbox) Hosts() []string {
	var out []string
	for _, h := range s.hosts {
		out = append(out, h.name)
	}
	return out
}

// SetHostVariant makes one host's configuration v (SetVariant sets every
// host's), rewriting the flake uncommitted.
func (s *Sandbox) SetHostVariant(host string, v Variant) error {
	h := s.hostDef(host)
	if h == nil {
		return fmt.Errorf("sandbox: no host %q in the flake (have %s)", host, strings.Join(s.Hosts(), ", "))
	}
	h.variant = v
	return s.writeFlake()
}

// SetLockOut makes host's configuration, from now on, one that locks you
// out: its switch-to-configuration, on test and switch, stops the sshd of
// the host it runs on (a nixtest remote host; nothing elsewhere), as a
// broken firewall or sshd configuration would. A configuration without
// the mark starts that sshd again when it finds it stopped, so rolling
// back lets you in again. It rewrites the flake uncommitted.
func (s *Sandbox) SetLockOut(host string, on bool) error {
	h := s.hostDef(host)
	if h == nil {
		return fmt.Errorf("sandbox: no host %q in the flake (have %s)", host, strings.Join(s.Hosts(), ", "))
	}
	h.lockout = on
	return s.writeFlake()
}

// HostAttr is the installable of a host's toplevel.
func (s *Sandbox) HostAttr(host string) string {
	return s.Flake + "#nixosConfigurations." + host + ".config.system.build.toplevel"
}

// BuildHost builds a host's configuration as it is now and returns its
// path.
func (s *Sandbox) BuildHost(ctx context.Context, host string) (string, error) {
	return s.build(ctx, s.HostAttr(host))
}

func (s *Sandbox) hostDef(name string) *hostDef {
	i := slices.IndexFunc(s.hosts, func(h hostDef) bool { return h.name == name })
	if i < 0 {
		return nil
	}
	return &s.hosts[i]
}

// hostsNix is the body of the flake's nixosConfigurations: one toplevel
// per host.
func (s *Sandbox) hostsNix() string {
	var b strings.Builder
	for _, h := range s.hosts {
		fmt.Fprintf(&b, "      %q.config.system.build.toplevel = ", h.name)
		extra, lockout := "[ ]", ""
		switch h.variant {
		case BuildFailure:
			extra = "[ broken ]"
		case Slow:
			extra = "[ slow ]"
		case EvalError:
			fmt.Fprintf(&b, "throw %q;\n", EvalErrorText)
			continue
		}
		if h.lockout {
			lockout = "1"
		}
		fmt.Fprintf(&b, "toplevel %q %s %q;\n", h.name, extra, lockout)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
