package nixtest

import (
	"context"
	"strings"
	"testing"
)

// New sandbox: generation 1 is current and booted, the flake is committed
// and pushed, and the variants build or fail as documented.
func TestSandbox(t *testing.T) {
	if !Available() {
		t.Skip("nix not on PATH")
	}
	ctx := context.Background()
	s, err := New(ctx, t.TempDir())
	if s != nil {
		t.Cleanup(func() { _ = s.Cleanup() })
	}
	if err != nil {
		t.Fatal(err)
	}
	gens, cur, err := s.Generations()
	if err != nil || len(gens) != 1 || cur != 1 {
		t.Fatalf("generations %v current %d err %v", gens, cur, err)
	}
	p, _ := Resolve(s.Profile)
	c, _ := Resolve(s.CurrentSystem)
	b, _ := Resolve(s.BootedSystem)
	if p == "" || p != c || p != b || !strings.HasPrefix(p, s.Store+"/") || !strings.HasSuffix(p, "-nixos-system-demo") {
		t.Fatalf("profile %q current %q booted %q", p, c, b)
	}
	if out, err := s.Run(ctx, s.Flake, "git", "status", "--porcelain"); err != nil || out != "" {
		t.Fatalf("git status %q %v", out, err)
	}
	out, err := s.AddGeneration(ctx, "1.2")
	if err != nil {
		t.Fatal(err)
	}
	if out == p || !strings.Contains(s.mustRun(t, "nix", "store", "diff-closures", p, out), "1.0 → 1.2") {
		t.Errorf("no version change between %s and %s", p, out)
	}
	if err := s.SetVariant(BuildFailure); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Build(ctx); err == nil || !strings.Contains(err.Error(), BuildFailureLine) {
		t.Errorf("build failure: %v", err)
	}
	if err := s.SetVariant(EvalError); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Build(ctx); err == nil || !strings.Contains(err.Error(), EvalErrorText) {
		t.Errorf("eval error: %v", err)
	}
}

func (s *Sandbox) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.Run(context.Background(), s.Flake, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
