package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
)

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
		m, err := n.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		return m
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

// rebuild rollback says each thing once: the result on stdout, progress
// on stderr, and no line on both (or twice on one).
func TestNixOSRollbackSaysEachThingOnce(t *testing.T) {
	n := newNixOS(t, "", "1.1")
	for _, args := range [][]string{{"rollback", "--dry-run"}, {"rollback"}} {
		out, errOut, code := n.run(nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		seen := map[string]int{}
		for _, l := range strings.Split(out+errOut, "\n") {
			if l = strings.TrimSpace(strings.TrimPrefix(l, "… ")); l != "" {
				seen[l]++
			}
		}
		for l, k := range seen {
			if k > 1 {
				t.Errorf("%v: %q printed %d times\nstdout:\n%s\nstderr:\n%s", args, l, k, out, errOut)
			}
		}
		if !strings.Contains(out, "roll") || strings.Contains(errOut, "rolled back from") || strings.Contains(errOut, "would roll back") {
			t.Errorf("%v: the result belongs on stdout only\nstdout:\n%s\nstderr:\n%s", args, out, errOut)
		}
	}
}

// rebuild demo --keep-sandbox ends with the sandbox's path, and the
// summary's log folder is in it and there.
func TestDemoKeepSandboxSaysWhere(t *testing.T) {
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	tmp := sandboxTmp(t, t.TempDir())
	cmd := rebuildCmd(t, tmp, "demo", "--keep-sandbox", "--only=disk", "--output", "plain")
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, func() string { return out.String() + errOut.String() }); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	kept := regexp.MustCompile(`rebuild demo: the sandbox is kept in (\S+)`).FindStringSubmatch(out.String())
	logs := regexp.MustCompile(`(?m)^logs: (\S+)`).FindStringSubmatch(out.String())
	if kept == nil || logs == nil || !strings.HasPrefix(logs[1], kept[1]+"/") || !exists(logs[1]) {
		t.Errorf("kept %v, logs %v:\n%s", kept, logs, out.String())
	}
}
