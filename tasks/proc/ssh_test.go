package proc

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestParseSSHTarget(t *testing.T) {
	for _, c := range []struct {
		in            string
		user, addr    string
		port          int
		dest, written string
		root          bool
	}{
		{"root@10.0.0.5", "root", "10.0.0.5", 0, "root@10.0.0.5", "root@10.0.0.5", true},
		{"deploy@web1.example.com:2222", "deploy", "web1.example.com", 2222, "deploy@web1.example.com", "deploy@web1.example.com:2222", false},
		{"web1", "", "web1", 0, "web1", "web1", false},
		{"root@[fe80::1]:22", "root", "fe80::1", 22, "root@fe80::1", "root@[fe80::1]:22", true},
		{"root@::1", "root", "::1", 0, "root@::1", "root@::1", true},
		{"a@b@host:1", "a@b", "host", 1, "a@b@host", "a@b@host:1", false},
	} {
		s, err := ParseSSHTarget(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if s.User != c.user || s.Addr != c.addr || s.Port != c.port || s.Destination() != c.dest || s.String() != c.written || s.IsRoot() != c.root {
			t.Errorf("%q: got %+v dest %q string %q", c.in, s, s.Destination(), s.String())
		}
	}
	for in, want := range map[string]string{
		"":                    "empty target",
		"root@":               "no address",
		"@host":               "empty user",
		"root@host:0":         "port \"0\"",
		"root@host:ssh":       "port \"ssh\"",
		"root@host:70000":     "port",
		"root@[::1":           "without ]",
		"root@[::1]x":         "unexpected",
		"-oProxyCommand=x@h":  "may not begin with -",
		"root@-oProxyCommand": "may not begin with -",
		"root@host;reboot":    "character",
		"root@host name":      "character",
		"root@$(reboot)":      "character",
		"root@host'":          "character",
	} {
		if _, err := ParseSSHTarget(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want one saying %q", in, err, want)
		}
	}
}

func TestSSHCommandArgv(t *testing.T) {
	s := SSH{User: "deploy", Addr: "10.0.0.5", Port: 2222, Options: []string{"-i", "/keys/deploy key", "-o", "ConnectTimeout=5"}}
	got := s.Command("nix-env --version")
	want := []string{"ssh", "-o", "BatchMode=yes", "-p", "2222", "-i", "/keys/deploy key", "-o", "ConnectTimeout=5",
		"-o", "ConnectTimeout=15", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "deploy@10.0.0.5", "--", "nix-env --version"}
	if !slices.Equal(got, want) {
		t.Errorf("Command:\n got %q\nwant %q", got, want)
	}
	// No port: no -p.
	if got := (SSH{User: "root", Addr: "h"}).Command("true"); !slices.Equal(got, append(append([]string{"ssh", "-o", "BatchMode=yes"}, sshDefaults...), "root@h", "--", "true")) {
		t.Errorf("Command without port: %q", got)
	}
	// ssh takes the first value of an option: the host's own come
	// before the defaults, BatchMode before them all.
	if i, j := slices.Index(got, "ConnectTimeout=5"), slices.Index(got, "ConnectTimeout=15"); i < 0 || j < i {
		t.Errorf("the host's ConnectTimeout does not come first: %q", got)
	}
	// A fresh connection's options come before the host's: a host that
	// shares connections (its own ControlPath) does not share this one.
	s.Options = append(s.Options, "-o", "ControlPath=~/.ssh/cm-%C", "-o", "ControlMaster=auto")
	fresh := s.Fresh().Command("true")
	if i, j := slices.Index(fresh, "ControlPath=none"), slices.Index(fresh, "ControlPath=~/.ssh/cm-%C"); i < 0 || j < i || slices.Index(fresh, "ControlMaster=no") > slices.Index(fresh, "ControlMaster=auto") {
		t.Errorf("Fresh: %q", fresh)
	}
	if slices.Contains(s.Command("true"), "ControlPath=none") {
		t.Error("Fresh changed the SSH it was made from")
	}
}

func TestNixSSHOptsAndURIs(t *testing.T) {
	s := SSH{User: "root", Addr: "127.0.0.1", Port: 2201, Options: []string{"-i", "/k/key", "-o", "StrictHostKeyChecking=no"}}
	got, err := s.NixSSHOpts()
	if err != nil || got != "-o BatchMode=yes -p 2201 -i /k/key -o StrictHostKeyChecking=no -o ConnectTimeout=15 -o ServerAliveInterval=5 -o ServerAliveCountMax=3" {
		t.Errorf("NixSSHOpts = %q, %v", got, err)
	}
	if u := s.StoreURI(); u != "ssh-ng://root@127.0.0.1" {
		t.Errorf("StoreURI = %q", u)
	}
	if b := s.Builder("x86_64-linux"); b != "ssh-ng://root@127.0.0.1 x86_64-linux - 1 1" {
		t.Errorf("Builder = %q", b)
	}
	s.Options = []string{"-i", "/keys/deploy key"}
	if _, err := s.NixSSHOpts(); err == nil || !strings.Contains(err.Error(), `"/keys/deploy key"`) || !strings.Contains(err.Error(), "~/.ssh/config") {
		t.Errorf("an option with a space: %v", err)
	}
}

func TestRemoteElevation(t *testing.T) {
	user := SSH{User: "deploy", Addr: "h"}
	root := SSH{User: "root", Addr: "h"}
	for _, c := range []struct {
		method string
		s      SSH
		want   []string
	}{
		{ElevateSudo, user, []string{"sudo", "-n", "--"}},
		{"", user, []string{"sudo", "-n", "--"}},
		{ElevateDoas, user, []string{"doas", "-n", "--"}},
		{ElevateRun0, user, []string{"run0", "--no-ask-password", "--"}},
		{ElevateNone, user, nil},
		{ElevateSudo, root, nil},
	} {
		got, err := RemoteElevation(c.method, c.s)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s for %s: %q, %v", c.method, c.s, got, err)
		}
	}
	if _, err := RemoteElevation("su", user); err == nil || !strings.Contains(err.Error(), `"su"`) {
		t.Errorf("unknown method: %v", err)
	}
}

// The remote shell must split a joined command back into exactly its
// words: a path with a space and a single quote, an empty word, $ and `.
func TestShellJoinRoundTrip(t *testing.T) {
	args := []string{"/nix/store/abc-my system's/bin/switch-to-configuration", "test", "", "$HOME", "`id`", "a\"b", "x\ny", "plain-word_1.2@host:/p,q=r+%"}
	line := ShellJoin(args)
	if !strings.HasSuffix(line, " plain-word_1.2@host:/p,q=r+%") {
		t.Errorf("a word that needs no quotes was quoted: %s", line)
	}
	out, err := exec.Command("sh", "-c", `eval "set -- $1"; printf '%s\0' "$@"`, "sh", line).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, args) {
		t.Errorf("round trip:\n got %q\nwant %q\n(line %s)", got, args, line)
	}
}

// A command's Display replaces its argv in the log and in its error.
func TestDisplayInLogAndError(t *testing.T) {
	var log bytes.Buffer
	err := (&Runner{}).Run(context.Background(), Cmd{Args: []string{"sh", "-c", "echo nope; exit 3"}, Display: "ssh web1 -- switch", Log: &log})
	var pe *Error
	if !errors.As(err, &pe) || pe.Cmd != "ssh web1 -- switch" || pe.Code != 3 {
		t.Fatalf("err %#v", err)
	}
	if !strings.HasPrefix(log.String(), "$ ssh web1 -- switch\n") || strings.Contains(log.String(), "sh -c") {
		t.Errorf("log %q", log.String())
	}
}

// With a ControlPath, commands share the run's connection to the host;
// a Fresh one and Nix's never do (a lock-out must be noticed; Nix's ssh
// speaks its own protocol on its connection).
func TestSSHSharesTheRunsConnection(t *testing.T) {
	s := SSH{User: "root", Addr: "web1", Port: 2222, ControlPath: "/tmp/rb/web1.sock", Options: []string{"-i", "key"}}
	got := strings.Join(s.Command("true"), " ")
	if want := "-i key -o ControlMaster=no -o ControlPath=/tmp/rb/web1.sock -o ConnectTimeout=15"; !strings.Contains(got, want) {
		t.Errorf("shared: %s\nwant it to contain %s", got, want)
	}
	fresh := strings.Join(s.Fresh().Command("true"), " ")
	if !strings.HasPrefix(fresh, "ssh -o BatchMode=yes -o ControlMaster=no -o ControlPath=none") || strings.Contains(fresh, "web1.sock") {
		t.Errorf("fresh: %s", fresh)
	}
	nix, err := s.NixSSHOpts()
	if err != nil || strings.Contains(nix, "Control") {
		t.Errorf("NIX_SSHOPTS %q (%v) shares the connection", nix, err)
	}
	master := strings.Join(s.MasterCommand(), " ")
	if want := "ssh -M -N -o ControlPersist=no -o ControlPath=/tmp/rb/web1.sock -o BatchMode=yes -p 2222 -i key"; !strings.HasPrefix(master, want) ||
		!strings.HasSuffix(master, " root@web1") || strings.Contains(master, "ControlMaster=no") {
		t.Errorf("master: %s", master)
	}
}
