package nixtest

import (
	"context"
	"testing"
)

// newT is a sandbox for one test, removed after it.
func newT(t *testing.T) *Sandbox {
	t.Helper()
	if !Available() {
		t.Skip("nix not on PATH")
	}
	s, err := New(context.Background(), t.TempDir())
	if s != nil {
		t.Cleanup(func() { _ = s.Cleanup() })
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRemoteSmoke(t *testing.T) {
	s := newT(t)
	a := s.StartRemote(t, "alpha")
	t.Log(a.Target(), a.System)
	out, err := a.Run(t.Context(), "cat /proc/self/mountinfo | grep hosts; ls -l $NIX_STATE_DIR/profiles; echo $NIXTEST_HOST")
	t.Log(out, err)
	t.Log(a.Generations())
	t.Log(a.CurrentSystem())
	t.Log(a.Has(a.System), s.Hosts())
}
