package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// SSHTarget is a host's target parsed: user@addr[:port]. Port is 0 when
// not given (ssh's own default, or the ssh configuration's).
type SSHTarget struct {
	User string
	// Addr is a host name or an IPv4 address, or an IPv6 address without
	// its brackets.
	Addr string
	Port int
}

// String writes the target back as user@addr[:port], an IPv6 address in
// brackets.
func (t SSHTarget) String() string {
	addr := t.Addr
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	if t.Port != 0 {
		addr += ":" + strconv.Itoa(t.Port)
	}
	return t.User + "@" + addr
}

var (
	// A user and a host name start with a letter, a digit or '_': never
	// with '-', which ssh would read as an option.
	targetUser = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)
	targetAddr = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)
	targetIPv6 = regexp.MustCompile(`^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$`)
)

// ParseTarget reads a target other than "local": user@addr[:port], with
// an IPv6 address in brackets (root@[2001:db8::1]:2222). Nothing in it
// may start with '-' or hold a space, so that no part of it can become
// an option or a second argument of ssh.
func ParseTarget(s string) (SSHTarget, error) {
	user, addr, ok := strings.Cut(s, "@")
	switch {
	case !ok:
		return SSHTarget{}, fmt.Errorf("no user: write user@%s", s)
	case user == "":
		return SSHTarget{}, fmt.Errorf("no user before '@'")
	case !targetUser.MatchString(user):
		return SSHTarget{}, fmt.Errorf("user %q: letters, digits, '.', '_' and '-', not first", user)
	}
	var t SSHTarget
	t.User = user
	port := ""
	if rest, ok := strings.CutPrefix(addr, "["); ok {
		ip, after, ok := strings.Cut(rest, "]")
		if !ok || !targetIPv6.MatchString(ip) {
			return SSHTarget{}, fmt.Errorf("address %q: an IPv6 address in brackets, e.g. [2001:db8::1]", addr)
		}
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok {
				return SSHTarget{}, fmt.Errorf("address %q: after ']' only :PORT may come", addr)
			}
			port = p
		}
		t.Addr = ip
	} else {
		host, p, hasPort := strings.Cut(addr, ":")
		if hasPort && strings.Contains(p, ":") {
			return SSHTarget{}, fmt.Errorf("address %q: an IPv6 address goes in brackets: %s@[%s]", addr, user, addr)
		}
		if !targetAddr.MatchString(host) {
			return SSHTarget{}, fmt.Errorf("address %q: a host name or an IP address (letters, digits, '.', '_' and '-', not first)", host)
		}
		t.Addr = host
		if hasPort {
			port = p
		}
	}
	if port != "" || strings.HasSuffix(addr, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return SSHTarget{}, fmt.Errorf("port %q: a number from 1 to 65535", port)
		}
		t.Port = n
	}
	return t, nil
}
