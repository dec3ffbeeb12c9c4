package proc

import (
	"fmt"
	"strconv"
	"strings"
)

// SSH is how commands reach one host over ssh: the destination of a
// host's target (user@addr[:port]) and its ssh_options. Every command it
// makes runs with BatchMode=yes, so ssh never asks for a password or a
// passphrase in the middle of a run: what cannot log in without one
// fails, saying so.
type SSH struct {
	User string // "" = ssh's default (the local user, or the ssh config's)
	Addr string // host name or address; an IPv6 address without brackets
	Port int    // 0 = ssh's default
	// Options are extra ssh arguments, e.g. ["-i", "~/.ssh/deploy",
	// "-o", "ConnectTimeout=5"]: given to ssh before the destination, and
	// to Nix through NIX_SSHOPTS.
	Options []string
	// ControlPath, when set, is the socket of the run's own connection to
	// the host (MasterCommand): a command rides on it instead of paying
	// for a handshake and a login, and connects on its own when it is not
	// (yet, or any longer) there. A Fresh connection never uses it; Nix's
	// (NIX_SSHOPTS) open their own.
	ControlPath string

	fresh bool // see Fresh
}

// ParseSSHTarget reads a target written user@addr[:port] (user@[v6addr]:port
// for an IPv6 address with a port; a bare IPv6 address has none). The
// error says what is wrong with it; the caller names the host.
func ParseSSHTarget(target string) (SSH, error) {
	var s SSH
	if target == "" {
		return s, fmt.Errorf("empty target")
	}
	if strings.ContainsAny(target, " \t\n\r'\"\\`$;&|<>()*?!#~{}") {
		return s, fmt.Errorf("target %q has a character that is not part of user@addr[:port]", target)
	}
	rest := target
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		s.User, rest = rest[:i], rest[i+1:]
		if s.User == "" {
			return s, fmt.Errorf("target %q: empty user before @", target)
		}
	}
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return s, fmt.Errorf("target %q: [ without ]", target)
		}
		s.Addr, rest = rest[1:end], rest[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return s, fmt.Errorf("target %q: unexpected %q after ]", target, rest)
			}
			if err := s.setPort(target, p); err != nil {
				return s, err
			}
		}
	case strings.Count(rest, ":") > 1: // a bare IPv6 address: no port
		s.Addr = rest
	default:
		addr, port, hasPort := strings.Cut(rest, ":")
		s.Addr = addr
		if hasPort {
			if err := s.setPort(target, port); err != nil {
				return s, err
			}
		}
	}
	if s.Addr == "" {
		return s, fmt.Errorf("target %q has no address (user@addr[:port])", target)
	}
	// ssh would read a destination beginning with "-" as an option.
	if strings.HasPrefix(s.Addr, "-") || strings.HasPrefix(s.User, "-") {
		return s, fmt.Errorf("target %q: user and address may not begin with -", target)
	}
	return s, nil
}

func (s *SSH) setPort(target, p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("target %q: port %q is not a number from 1 to 65535", target, p)
	}
	s.Port = n
	return nil
}

// Destination is user@addr, as ssh and Nix's store URIs take it (the
// port goes apart: Nix's ssh-ng:// URIs take none).
func (s SSH) Destination() string {
	if s.User == "" {
		return s.Addr
	}
	return s.User + "@" + s.Addr
}

// String is the target as written: user@addr[:port].
func (s SSH) String() string {
	if s.Port == 0 {
		return s.Destination()
	}
	addr := s.Addr
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	if s.User == "" {
		return addr + ":" + strconv.Itoa(s.Port)
	}
	return s.User + "@" + addr + ":" + strconv.Itoa(s.Port)
}

// IsRoot reports whether the target logs in as root: its commands need
// no elevation there.
func (s SSH) IsRoot() bool { return s.User == "root" }

// sshDefaults follow a host's options, so that its own settings of them
// win (for each option ssh takes the first value it is given): a host
// that does not answer fails in seconds, not minutes, and a connection
// that died without a word (a network that changed under it) is noticed
// within fifteen seconds, so that a step being followed is followed again
// over a new one.
var sshDefaults = []string{"-o", "ConnectTimeout=15", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"}

// baseArgs are ssh's arguments before the destination: BatchMode first,
// so that no option turns password prompts back on.
func (s SSH) baseArgs() []string {
	args := []string{"-o", "BatchMode=yes"}
	if s.fresh {
		args = append(args, freshArgs...)
	}
	if s.Port != 0 {
		args = append(args, "-p", strconv.Itoa(s.Port))
	}
	args = append(args, s.Options...)
	if s.ControlPath != "" && !s.fresh {
		// After the host's options: a ControlPath of its own wins.
		args = append(args, "-o", "ControlMaster=no", "-o", "ControlPath="+s.ControlPath)
	}
	return append(args, sshDefaults...)
}

// MasterCommand is the argv of the run's connection to the host, which
// the commands with this ControlPath share: it stays in the foreground
// (-N, no ControlPersist), so the run owns it and ends it.
func (s SSH) MasterCommand() []string {
	m := s
	m.ControlPath, m.fresh = "", false
	args := append([]string{"ssh", "-M", "-N", "-o", "ControlPersist=no", "-o", "ControlPath=" + s.ControlPath}, m.baseArgs()...)
	return append(args, s.Destination())
}

// Command is the argv that runs remote, a command line for the target's
// shell (see ShellJoin), on the target:
//
//	ssh -o BatchMode=yes [-p PORT] <options…> <defaults…> user@addr -- <remote>
func (s SSH) Command(remote string) []string {
	args := append([]string{"ssh"}, s.baseArgs()...)
	return append(args, s.Destination(), "--", remote)
}

// freshArgs keep ssh from using or offering a shared connection.
var freshArgs = []string{"-o", "ControlMaster=no", "-o", "ControlPath=none"}

// Fresh returns s for a connection of its own: no connection an ssh
// ControlMaster keeps open is reused (these options come before the
// host's, whose ControlPath would otherwise win), so a command through it
// proves the host can be reached now (a new firewall or a broken sshd
// fails it).
func (s SSH) Fresh() SSH {
	s.fresh = true
	return s
}

// NixSSHOpts is the value of NIX_SSHOPTS for Nix's ssh connections to the
// host (nix copy, ssh-ng:// stores and builders): BatchMode, the port and
// the options. Nix splits it at whitespace without reading quotes, so an
// option with whitespace in it cannot be given this way: an error names it.
func (s SSH) NixSSHOpts() (string, error) {
	for _, o := range s.Options {
		if o == "" || strings.ContainsAny(o, " \t\n") {
			return "", fmt.Errorf("ssh option %q cannot reach Nix (NIX_SSHOPTS is split at whitespace): put it in ~/.ssh/config for %s instead", o, s.Addr)
		}
	}
	s.ControlPath = "" // Nix's ssh speaks its own protocol on a connection of its own
	return strings.Join(s.baseArgs(), " "), nil
}

// StoreURI is the host's store as Nix reaches it: ssh-ng://user@addr.
func (s SSH) StoreURI() string { return "ssh-ng://" + s.Destination() }

// Builder is the host as a Nix remote builder for system (--builders):
// "ssh-ng://user@addr <system> - 1 1" — no key of its own (NIX_SSHOPTS
// carries it), one job, speed factor one.
func (s SSH) Builder(system string) string {
	return s.StoreURI() + " " + system + " - 1 1"
}

// RemoteElevation is the prefix that gives a command root on a target:
// sudo -n, doas -n, run0 --no-ask-password — never a password prompt,
// since nobody could answer it there. None for elevate = "none" and for
// a target that logs in as root.
func RemoteElevation(method string, s SSH) ([]string, error) {
	if s.IsRoot() {
		return nil, nil
	}
	switch method {
	case ElevateNone:
		return nil, nil
	case ElevateSudo, "":
		return []string{"sudo", "-n", "--"}, nil
	case ElevateDoas:
		return []string{"doas", "-n", "--"}, nil
	case ElevateRun0:
		return []string{"run0", "--no-ask-password", "--"}, nil
	}
	return nil, fmt.Errorf("elevate = %q: unknown method; allowed: sudo, doas, run0, none", method)
}

// ShellQuote quotes s as one word for a POSIX shell: as it is when it
// needs no quoting, else in single quotes, each single quote inside
// closing them, escaped, and opening them again.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellJoin quotes each of args (ShellQuote) and joins them with spaces:
// the remote shell splits it back into exactly args.
func ShellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}
