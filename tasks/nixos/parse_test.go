package nixos

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/ansi"
	"github.com/rebuild-nixos/rebuild/tasks"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// flake-update.txt is `nix flake update`'s standard error (Nix 2.8).
func TestLockChangesRecorded(t *testing.T) {
	var c lockChanges
	for _, l := range strings.Split(readTestdata(t, "flake-update.txt"), "\n") {
		c.line(l)
	}
	if got := c.list(); !slices.Equal(got, []string{"pkgs updated (2026-11-25)"}) {
		t.Errorf("got %q", got)
	}
	var d lockChanges
	for _, l := range strings.Split(`warning: updating lock file '/x/flake.lock':
• Updated input 'nixpkgs':
    'github:NixOS/nixpkgs/1f9d8b1b1f5e8b2b2f2c6b1e0f0d3e0a1b2c3d4e' (2024-05-01)
  → 'github:NixOS/nixpkgs/2a0e8b1b1f5e8b2b2f2c6b1e0f0d3e0a1b2c3d4e' (2024-05-20)
• Added input 'home-manager':
    'github:nix-community/home-manager/abc' (2024-05-19)
• Removed input 'old'`, "\n") {
		d.line(l)
	}
	want := []string{"nixpkgs updated (2024-05-01 → 2024-05-20)", "home-manager added (2024-05-19)", "old removed"}
	if got := d.list(); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// diff-closures-tty.txt is `nix store diff-closures` on a terminal, with
// its escape codes and carriage returns.
func TestParseDiffClosures(t *testing.T) {
	for _, file := range []string{"diff-closures.txt", "diff-closures-tty.txt"} {
		d := parseDiffClosures(ansi.Strip(readTestdata(t, file)))
		if want := []string{"bar 2.0 → 2.1", "baz 0.3 → 0.4", "foo 1.0 → 1.2"}; !slices.Equal(d.versions, want) {
			t.Errorf("%s: versions %q", file, d.versions)
		}
	}
	d := parseDiffClosures("firefox: 132.0 → 133.0, +1234.5 KiB\nlibfoo: ∅ → 1.0, +10.0 KiB\nold: 2.0 → ∅, -20.0 KiB\nglibc: -8.5 KiB\nqux: 1.0, 1.1 → 1.2\n")
	want := []string{"firefox 132.0 → 133.0", "libfoo ∅ → 1.0", "old 2.0 → ∅", "qux 1.0, 1.1 → 1.2"}
	if !slices.Equal(d.versions, want) {
		t.Errorf("versions %q", d.versions)
	}
	if wantDelta := int64((1234.5 + 10 - 20 - 8.5) * 1024); d.delta != wantDelta {
		t.Errorf("delta %d, want %d", d.delta, wantDelta)
	}
}

func TestParseGenerationsRecorded(t *testing.T) {
	gens, err := parseGenerations(readTestdata(t, "list-generations.txt"), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(gens) != 2 || gens[0].Number != 1 || gens[0].Current || gens[1].Number != 2 || !gens[1].Current ||
		gens[1].Date != time.Date(2026, 11, 25, 17, 29, 45, 0, time.UTC) {
		t.Errorf("got %+v", gens)
	}
	if _, err := parseGenerations("   x   2026-11-25 17:29:26\n", time.UTC); err == nil {
		t.Error("garbage accepted")
	}
	if gens, err := parseGenerations("", time.UTC); err != nil || len(gens) != 0 {
		t.Errorf("empty: %v %v", gens, err)
	}
}

func TestGCResultRecorded(t *testing.T) {
	var r gcResult
	for _, l := range strings.Split(readTestdata(t, "gc.txt"), "\n") {
		r.line(l)
	}
	if freed, paths, ok := r.result(); !ok || freed != "0.01 MiB" || paths != 11 {
		t.Errorf("got %q %d %v", freed, paths, ok)
	}
}

func TestByPolicy(t *testing.T) {
	now := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	var gens []generation
	for n := 1; n <= 8; n++ {
		gens = append(gens, generation{Number: n, Date: now.AddDate(0, 0, n-9)}) // 1: 8 days ago … 8: yesterday
	}
	gens[1].Booted = true  // 2
	gens[7].Current = true // 8
	gens[6].Running = true // 7 (a `test` activation)
	numbers := func(p policy) []int {
		var out []int
		for _, g := range byPolicy(gens, p, now) {
			out = append(out, g.Number)
		}
		return out
	}
	for _, tc := range []struct {
		p    policy
		want []int
	}{
		{policy{keep: 3}, []int{5, 4, 3, 1}},
		{policy{keep: 0}, []int{6, 5, 4, 3, 1}},
		{policy{keep: 100}, nil},
		{policy{keep: 0, since: 5 * 24 * time.Hour}, []int{4, 3, 1}}, // 4 is exactly 5 days old: not younger
		{policy{keep: 6, since: 24 * time.Hour}, []int{1}},
	} {
		if got := numbers(tc.p); !slices.Equal(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "2w": 14 * 24 * time.Hour,
		"1d12h": 36 * time.Hour, " 30s ": 30 * time.Second,
	} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "7", "d", "7 days", "1.5h", "-1d", "99999999999999999999d", "7d!"} {
		if _, err := ParseAge(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if got := formatAge(36 * time.Hour); got != "1d12h" {
		t.Errorf("formatAge %q", got)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0.0 KiB", 1536: "1.5 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB", -2048: "-2.0 KiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("%d: %q", n, got)
		}
	}
}

func TestToplevelAndFlake(t *testing.T) {
	dir := t.TempDir()
	env := tasks.NewEnv("build", nil, nil)
	env.Home = dir
	env.Config = &config.Config{Flake: "~", Host: "my.host"}
	got, err := toplevel(env)
	if want := dir + `#nixosConfigurations."my.host".config.system.build.toplevel`; err != nil || got != want {
		t.Errorf("got %q %v, want %q", got, err, want)
	}
	env.Config = &config.Config{Flake: "github:owner/repo", Host: "laptop"}
	if got, _ := toplevel(env); got != "github:owner/repo#nixosConfigurations.laptop.config.system.build.toplevel" {
		t.Errorf("remote: %q", got)
	}
	if d, err := env.FlakeDir(); d != "" || err != nil {
		t.Errorf("remote flake dir %q %v", d, err)
	}
	env.Config = &config.Config{Flake: filepath.Join(dir, "missing"), Host: "x"}
	if _, err := toplevel(env); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing: %v", err)
	}
}

func TestSpecs(t *testing.T) {
	specs := Specs()
	byName := map[string]tasks.Spec{}
	for _, s := range specs {
		byName[s.Name] = s
		if s.Task == nil || s.Description == "" || s.Estimate == 0 {
			t.Errorf("%s incomplete", s.Name)
		}
	}
	// copy (issue 14) exists only with hosts: without them the graph
	// drops it and the edges to it, and activate needs build alone.
	if s := byName["activate"]; !s.Critical || !s.Root || !s.HoldInterrupt || s.Phase != 3 ||
		!slices.Equal(s.Needs, []string{"build", "copy"}) || !slices.Equal(s.After, []string{"diff"}) {
		t.Errorf("activate %+v", s)
	}
	if s := byName["copy"]; !s.PerHost || !s.HostsOnly || !s.Critical || s.DryRun || !slices.Equal(s.Needs, []string{"build"}) {
		t.Errorf("copy %+v", s)
	}
	if s := byName["diff"]; !slices.Equal(s.Needs, []string{"build", "copy"}) {
		t.Errorf("diff %+v", s)
	}
	if s := byName["generations"]; s.Interactive || !s.Cleanup || !s.Root || !s.DryRun || s.Phase != 9 || !slices.Equal(s.Needs, []string{"accept"}) {
		t.Errorf("generations %+v", s)
	}
	// The system chain says what it would do in a dry run (issue 11):
	// which inputs, what would be built and fetched, which units.
	for _, n := range []string{"flake-update", "activate"} {
		if !byName[n].DryRun {
			t.Errorf("%s has no dry run", n)
		}
	}
	if s := byName["build"]; !s.DryRun || !s.Critical || !slices.Equal(s.Needs, []string{"flake-update"}) {
		t.Errorf("build %+v", s)
	}
}

// A local flake written as a URL is still a local directory: flake-update
// updates its lock, accept commits in it, push pushes it. Only a URL that
// pins another ref or revision is left alone.
func TestFlakeDirOfLocalURLs(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := tasks.NewEnv("flake-update", nil, nil)
	for ref, want := range map[string]string{
		"path:" + dir:                     dir,
		"git+file://" + dir:               dir,
		"git+file://" + dir + "?dir=sub":  filepath.Join(dir, "sub"),
		"git+file://" + dir + "?ref=main": "",
		"git+file://" + dir + "/missing":  "",
		"github:owner/repo":               "",
	} {
		env.Config = &config.Config{Flake: ref, Host: "x"}
		if d, err := env.FlakeDir(); d != want || err != nil {
			t.Errorf("%s: dir %q %v, want %q", ref, d, err, want)
		}
		if got, _ := toplevel(env); got != ref+"#nixosConfigurations.x.config.system.build.toplevel" {
			t.Errorf("%s: toplevel %q", ref, got)
		}
	}
}
