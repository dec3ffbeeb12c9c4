package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// links is every symbolic link under dirs with its target, and the bytes
// of each file in files: what a dry run must leave as it found it.
func links(t *testing.T, files []string, dirs ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m[f] = string(b)
	}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				m[p] = "→ " + target
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// rebuild --dry-run on the sandbox host with a changed input says which
// input would change and what would be built, and that the new system is
// not there to dry-activate; the lock file (byte for byte), the profile,
// the boot default and the current system, and the store's GC roots (link
// for link) are as they were, and switch-to-configuration was not called.
func TestNixOSDryRunSaysWhatWouldBeBuilt(t *testing.T) {
	n := newNixOS(t, "")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	snap := func() map[string]string {
		return links(t, []string{filepath.Join(n.Flake, "flake.lock")},
			filepath.Dir(n.Profile), filepath.Join(n.State, "gcroots"), filepath.Dir(n.CurrentSystem))
	}
	before := snap()

	out, errOut, code := n.run(nil, nixosGraph, "--dry-run", "--output", "plain")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"dry run: input pkgs would be updated (",
		"dry run: would build 2 derivations: foo-1.2, nixos-system-demo",
		"dry run: the new system is not built yet, so it cannot be dry-activated",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	after := snap()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed: %q → %q", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared: %q", k, after[k])
		}
	}
	if calls := n.SwitchCalls(); len(calls) != 0 {
		t.Errorf("switch-to-configuration calls %q", calls)
	}
	if g, c := n.generations(); len(g) != 1 || c != 1 {
		t.Errorf("generations %v, current %d", g, c)
	}
}
