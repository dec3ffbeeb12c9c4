package demo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A new sandbox's flake has its one host; AddHosts adds more, committed;
// each host's system is its own (named after it, holding its name), and
// SetHostVariant and SetLockOut change one host's only.
func TestHosts(t *testing.T) {
	if _, err := exec.LookPath("nix"); err != nil {
		t.Skip("nix not on PATH")
	}
	ctx := context.Background()
	s, err := NewSandbox(ctx, t.TempDir())
	if s != nil {
		t.Cleanup(func() { _ = s.Cleanup() })
	}
	if err != nil {
		t.Fatal(err)
	}
	names := func() string {
		t.Helper()
		out, err := s.Run(ctx, "", "nix", "eval", "--raw", s.Flake+"#nixosConfigurations", "--apply", `c: toString (builtins.attrNames c)`)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := names(); got != Host {
		t.Fatalf("a new sandbox's hosts: %q", got)
	}
	demo, err := s.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddHosts(ctx, "web1", "web2", "web1"); err != nil {
		t.Fatal(err)
	}
	if got := names(); got != "demo web1 web2" {
		t.Errorf("hosts after AddHosts: %q", got)
	}
	if out, err := s.Run(ctx, s.Flake, "git", "status", "--porcelain"); err != nil || out != "" {
		t.Errorf("git status after AddHosts: %q %v", out, err)
	}
	if again, err := s.Build(ctx); err != nil || again != demo {
		t.Errorf("the demo host's system changed with more hosts: %s, was %s (%v)", again, demo, err)
	}
	systems := map[string]string{}
	for _, h := range s.Hosts() {
		p, err := s.BuildHost(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		systems[h] = p
		b, err := os.ReadFile(filepath.Join(p, "host"))
		if !strings.HasSuffix(p, "-nixos-system-"+h) || string(b) != h+"\n" || err != nil {
			t.Errorf("%s's system %s holds host %q (%v)", h, p, b, err)
		}
		if _, err := os.Lstat(filepath.Join(p, "nixtest-lockout")); err == nil {
			t.Errorf("%s's system locks out", h)
		}
	}
	if err := s.SetHostVariant("web2", BuildFailure); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLockOut("web1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BuildHost(ctx, "web2"); err == nil || !strings.Contains(err.Error(), BuildFailureLine) {
		t.Errorf("web2 with a build failure: %v", err)
	}
	if p, err := s.BuildHost(ctx, "demo"); err != nil || p != systems["demo"] {
		t.Errorf("demo after breaking web2: %s (%v)", p, err)
	}
	p, err := s.BuildHost(ctx, "web1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(p, "nixtest-lockout")); err != nil || p == systems["web1"] {
		t.Errorf("web1 marked lock-out: %s (was %s): %v", p, systems["web1"], err)
	}
	if err := s.SetHostVariant("nope", Good); err == nil || !strings.Contains(err.Error(), `no host "nope"`) {
		t.Errorf("SetHostVariant of an unknown host: %v", err)
	}
	if err := s.AddHosts(ctx, "bad name"); err == nil {
		t.Error("AddHosts accepted a name with a space")
	}
}
