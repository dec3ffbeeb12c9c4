package nixos

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/internal/ansi"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// twoSystems are two closures in the sandbox's store that differ by an
// upgrade (foo), a downgrade by Nix's version order (bar 2.7790 →
// 2.1232, which a string comparison gets wrong the other way for
// 2.7790 → 2.10), an addition (baz) and a removal (qux).
const twoSystems = `
let
  pkg = name: kib: builtins.derivation {
    inherit name; system = "x86_64-linux"; builder = "/bin/sh";
    args = [ "-c" "/usr/bin/head -c ${toString (kib * 1024)} /dev/zero > $out" ];
  };
  sys = name: deps: builtins.derivation {
    inherit name deps; system = "x86_64-linux"; builder = "/bin/sh";
    args = [ "-c" "echo $deps > $out" ];
  };
in {
  old = sys "nixos-system-old" [ (pkg "foo-1.0" 64) (pkg "bar-2.7790" 96) (pkg "qux-1.0" 32) (pkg "same-1.0" 8) ];
  new = sys "nixos-system-new" [ (pkg "foo-1.2" 128) (pkg "bar-2.1232" 80) (pkg "baz-2.0" 48) (pkg "same-1.0" 8) ];
}
`

// The diff task on real `nix store diff-closures` output: the running
// system is the old closure, the build made the new one. Its table (what
// --ask and accept show) groups the four kinds of change with versions
// and sizes and ends with the closure sizes; the json finish event gets
// the same data (SetDiff).
func TestDiffTableOnRealDiffClosures(t *testing.T) {
	w := newWorld(t)
	s := w.s
	expr := filepath.Join(s.Root, "systems.nix")
	if err := os.WriteFile(expr, []byte(twoSystems), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	paths := map[string]string{}
	for _, attr := range []string{"old", "new"} {
		out, err := s.Run(ctx, "", "nix", "build", "--no-link", "--json", "-f", expr, attr)
		if err != nil {
			t.Fatal(err)
		}
		p, err := parseBuildJSON([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		paths[attr] = p
	}
	raw, err := s.Run(ctx, "", "nix", "store", "diff-closures", paths["old"], paths["new"])
	if err != nil {
		t.Fatal(err)
	}
	// Kept for the parser's own test; regenerate with REBUILD_RECORD=1.
	if os.Getenv("REBUILD_RECORD") != "" {
		if err := os.WriteFile(filepath.Join("testdata", "diff-closures-groups.txt"), []byte(ansi.Strip(raw)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(s.CurrentSystem); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(paths["old"], s.CurrentSystem); err != nil {
		t.Fatal(err)
	}
	env := w.env("diff", nil)
	BuiltKey.Put(w.values, Built{Out: paths["new"], Changed: true})
	w.mustRun(Diff{}, env)

	table, _ := tasks.DiffSummary.Get(env)
	lines := strings.Split(table, "\n")
	want := []string{
		"upgraded (1 package)",
		"  foo 1.0 → 1.2        +64.0 KiB",
		"downgraded (1 package)",
		"  bar 2.7790 → 2.1232  -16.0 KiB",
		"added (1 package)",
		"  baz 2.0              +48.1 KiB",
		"removed (1 package)",
		"  qux 1.0              -32.1 KiB",
	}
	if len(lines) != len(want)+1 || strings.Join(lines[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Fatalf("table:\n%s\nwant:\n%s\n(diff-closures said:\n%s)", table, strings.Join(want, "\n"), ansi.Strip(raw))
	}
	if !strings.HasPrefix(lines[len(want)], "closure ") || !strings.HasSuffix(lines[len(want)], "(+64.0 KiB)") {
		t.Errorf("closure line %q", lines[len(want)])
	}
	d := env.Report().Diff
	if d == nil {
		t.Fatal("no diff for the json finish event")
	}
	b, _ := json.Marshal(d)
	for _, want := range []string{
		`"upgraded":[{"name":"foo","before":["1.0"],"after":["1.2"],"size_delta":65536}]`,
		`"downgraded":[{"name":"bar","before":["2.7790"],"after":["2.1232"],"size_delta":-16384}]`,
		`"added":[{"name":"baz","after":["2.0"],"size_delta":49254}]`,
		`"removed":[{"name":"qux","before":["1.0"],"size_delta":-32870}]`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("json diff lacks %s:\n%s", want, b)
		}
	}
	if d.ClosureAfter <= d.ClosureBefore || d.ClosureBefore == 0 {
		t.Errorf("closure %d → %d", d.ClosureBefore, d.ClosureAfter)
	}
	if st := stats(env); !strings.Contains(st, "bar 2.7790 → 2.1232 (downgrade)") {
		t.Errorf("stats do not mark the downgrade:\n%s", st)
	}
}

// The recorded output of the test above, through the parser alone; and a
// long diff is cut in the question, whole in the log.
func TestDiffTableGroupsAndCuts(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "diff-closures-groups.txt"))
	if err != nil {
		t.Fatal(err)
	}
	d := parseDiffClosures(string(raw))
	if len(d.diff.Upgraded) != 1 || len(d.diff.Downgraded) != 1 || len(d.diff.Added) != 1 || len(d.diff.Removed) != 1 {
		t.Errorf("groups %+v", d.diff)
	}
	var many strings.Builder
	for i := range 50 {
		many.WriteString("pkg" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ": 1.0 → 1.1, +10.0 KiB\n")
	}
	many.WriteString("glibc: +12.5 KiB\nzlib: -9.0 KiB\n")
	big := parseDiffClosures(many.String())
	cut := diffTable(big.diff, "closure 1.0 MiB → 1.1 MiB (+0.1 MiB)", maxDiffRows)
	if !strings.Contains(cut, "… 10 more packages (all in the log)") || strings.Count(cut, "\n  pkg") != maxDiffRows {
		t.Errorf("cut table:\n%s", cut)
	}
	if !strings.Contains(cut, "2 packages changed in size only (+3.5 KiB)") {
		t.Errorf("size-only line missing:\n%s", cut)
	}
	if whole := diffTable(big.diff, "", 0); strings.Count(whole, "\n  pkg") != 50 {
		t.Errorf("whole table has %d rows", strings.Count(whole, "\n  pkg"))
	}
}
