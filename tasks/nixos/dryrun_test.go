package nixos

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// snapshot is what a dry run must leave as it found it (Sandbox.Snapshot).
func snapshot(t *testing.T, w *world) map[string]string {
	t.Helper()
	m, err := w.s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed: %q → %q", k, v, after[k])
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared (%q)", k, v)
		}
	}
}

// dryRun runs flake-update, build and activate as --dry-run does, with
// build's options buildOpts, and returns their Envs and activate's error.
func (w *world) dryRun(buildOpts map[string]any) (up, b, a *tasks.Env, activateErr error) {
	w.t.Helper()
	w.values = tasks.NewValues()
	up, b, a = w.env("flake-update", nil), w.env("build", buildOpts), w.env("activate", nil)
	for _, e := range []*tasks.Env{up, b, a} {
		e.DryRun = true
	}
	w.mustRun(FlakeUpdate{}, up)
	w.mustRun(Build{}, b)
	return up, b, a, w.run(Activate{}, a)
}

// A dry run with a changed input: flake-update says which input would
// change, build what would be built; the new system is not in the store,
// so activate has nothing to dry-activate. Then, with the system built
// (outside rebuild), activate runs dry-activate and says which units
// would restart; then, with the system only in a binary cache, build says
// what would be downloaded and how much. The lock file, profile, boot
// default, current system and GC roots stay as they were throughout, and
// switch-to-configuration is only ever asked dry-activate.
func TestDryRunSaysWhatWouldHappenAndChangesNothing(t *testing.T) {
	w := newWorld(t)
	s := w.s
	if err := s.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, w)

	up, b, a, err := w.dryRun(nil)
	if st := stats(up); !strings.Contains(st, "dry run: input pkgs would be updated (") {
		t.Errorf("flake-update stats %q", st)
	}
	if st := stats(b); st != "dry run: would build 2 derivations: foo-1.2, nixos-system-demo" {
		t.Errorf("build stats %q", st)
	}
	built, _ := BuiltKey.Get(b)
	if !built.NotBuilt || !built.Changed || !strings.HasPrefix(built.Out, s.Store+"/") {
		t.Errorf("build handed on %+v", built)
	}
	if _, err := os.Lstat(built.Out); err == nil {
		t.Errorf("%s was built in a dry run", built.Out)
	}
	if kind, reason := outcome(err); kind != tasks.Skipped || !strings.Contains(reason, "not built yet, so it cannot be dry-activated") {
		t.Errorf("activate: %v %q (err %v)", kind, reason, err)
	}
	sameSnapshot(t, before, snapshot(t, w))
	if calls := s.SwitchCalls(); len(calls) != 0 {
		t.Errorf("switch-to-configuration called: %q", calls)
	}

	// The new system built by hand, not activated.
	ctx := context.Background()
	if _, err := s.Run(ctx, "", "nix", "build", "--no-link", "--recreate-lock-file", "--no-write-lock-file", s.Attr()); err != nil {
		t.Fatal(err)
	}
	_, b, a, err = w.dryRun(nil)
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	if st := stats(b); st != "dry run: nothing to build or download: "+built.Out+" is in the store" {
		t.Errorf("build stats %q", st)
	}
	if st := stats(a); st != "dry run: would restart the following units: foo.service\ndry run: would activate the configuration..." {
		t.Errorf("activate stats %q", st)
	}
	if calls := s.SwitchCalls(); !slices.Equal(calls, []string{"dry-activate"}) {
		t.Errorf("switch-to-configuration calls %q", calls)
	}
	sameSnapshot(t, before, snapshot(t, w))

	// The new system only in a binary cache (a second store): downloads.
	cache := filepath.Join(t.TempDir(), "cache")
	if _, err := s.Run(ctx, "", "nix", "copy", "--to", "file://"+cache+"?compression=none", built.Out); err != nil {
		t.Fatal(err)
	}
	closure, err := s.Run(ctx, "", "nix-store", "-qR", built.Out)
	if err != nil {
		t.Fatal(err)
	}
	var foo string
	for _, p := range strings.Fields(closure) {
		if strings.HasSuffix(p, "-foo-1.2") {
			foo = p
		}
	}
	if _, err := s.Run(ctx, "", "nix-store", "--delete", built.Out, foo); err != nil {
		t.Fatal(err)
	}
	_, b, a, err = w.dryRun(map[string]any{"env": []any{"NIX_CONFIG=substituters = file://" + cache + "\nrequire-sigs = false"}})
	if st := stats(b); !strings.HasPrefix(st, "dry run: would download 2 paths (0.16 MiB download, 0.16 MiB unpacked): ") ||
		!strings.Contains(st, "foo-1.2") || !strings.Contains(st, "nixos-system-demo") {
		t.Errorf("build stats %q", st)
	}
	if kind, _ := outcome(err); kind != tasks.Skipped {
		t.Errorf("activate with the system in a cache only: %v", err)
	}
	if _, err := os.Lstat(built.Out); err == nil {
		t.Errorf("%s was fetched in a dry run", built.Out)
	}
	if calls := s.SwitchCalls(); len(calls) != 1 {
		t.Errorf("switch-to-configuration calls %q", calls)
	}
	sameSnapshot(t, before, snapshot(t, w))
}

// Nix's report of what is missing, as Nix 2.8 prints it (recorded from the
// sandbox), with the singular forms and more names than are listed.
func TestMissingParsesNixReport(t *testing.T) {
	var m missing
	for _, l := range []string{
		"warning: not writing modified lock file of flake 'git+file:///tmp/sb/flake':",
		"• Updated input 'pkgs':",
		"these 10 derivations will be built:",
		"  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a-1.drv",
		"  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-b-1.drv",
		"  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-c-1.drv",
		"  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-d-1.drv",
		"  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-e-1.drv",
		"  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-f-1.drv",
		"  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-g-1.drv",
		"  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-h-1.drv",
		"  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-i-1.drv",
		"  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-j-1.drv",
		"this path will be fetched (0.16 MiB download, 0.50 MiB unpacked):",
		"  /nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.40",
		"some other line",
		"  /nix/store/cccccccccccccccccccccccccccccccc-not-listed",
	} {
		m.line(l)
	}
	if len(m.build) != 10 || len(m.fetch) != 1 || m.fetchSize != "0.16 MiB download, 0.50 MiB unpacked" {
		t.Fatalf("build %q fetch %q size %q", m.build, m.fetch, m.fetchSize)
	}
	if got := listNames(m.build); got != "a-1, b-1, c-1, d-1, e-1, f-1, g-1, h-1, … 2 more (all in the log)" {
		t.Errorf("listNames: %q", got)
	}
	var one missing
	one.line("this derivation will be built:")
	one.line("  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x-1.drv")
	if len(one.build) != 1 {
		t.Errorf("singular: %q", one.build)
	}
}

// A dry run leaves an earlier run's records as they are (a real run
// reports and clears them): it says what it found and what a real run
// would do.
func TestDryRunLeavesEarlierRecords(t *testing.T) {
	w := newWorld(t)
	a := w.env("activate", nil)
	a.DryRun = true
	act := filepath.Join(a.Config.StateDir, "activation")
	conf := filepath.Join(a.Config.StateDir, "confirm")
	files := map[string]string{
		filepath.Join(act, "what"): "switch-to-configuration boot of /nix/store/x", filepath.Join(act, "started"): "2026-01-02 03:04:05",
		filepath.Join(act, "status"): "1", filepath.Join(act, "output.log"): "end boot\n",
		filepath.Join(conf, "what"): "confirm watchdog of generation 4", filepath.Join(conf, "fired"): "3 0",
	}
	for p, v := range files {
		taskstest.WriteFile(t, p, v+"\n")
	}
	BuiltKey.Put(w.values, Built{Out: "/nix/store/x"})
	if kind, reason := outcome(w.run(Activate{}, a)); kind != tasks.Skipped || reason != "no changes" {
		t.Errorf("%v %q", kind, reason)
	}
	for p, v := range files {
		if b, err := os.ReadFile(p); err != nil || string(b) != v+"\n" {
			t.Errorf("%s: %q, %v (a dry run changed it)", p, b, err)
		}
	}
	want := "dry run: an earlier activation (switch-to-configuration boot of /nix/store/x, started 2026-01-02 03:04:05), whose run was interrupted, ended with exit status 1; a real run reports it and clears its record\n" +
		"dry run: an earlier run was not confirmed in time and its confirm watchdog rolled back to generation 3; a real run reports it and clears its record"
	if got := strings.Join(a.Report().Warnings, "\n"); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
}
