package render

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// summaryFixture is a run where the build (critical) failed:
//
//	flake-update ─▶ build ─▶ activate ─▶ accept ─▶ push
//	learn-meta (failed, non-critical), disk (stats), caches (skipped),
//	learn-review and sessions (canceled by the abort), ask (declined)
func summaryFixture() *schedule.Summary {
	start := time.Date(2026, 11, 25, 17, 2, 11, 0, time.UTC)
	tail := make([]string, 20)
	for i := range tail {
		tail[i] = fmt.Sprintf("building '/nix/store/%02d-foo.drv'...", i+1)
	}
	tail[19] = "error: \x1b[31mbuilder for '/nix/store/20-foo.drv' failed with exit code 1\x1b[0m"
	res := func(name string, s schedule.State, reason string, d time.Duration, rep tasks.Report) *schedule.Result {
		return &schedule.Result{Name: name, State: s, Reason: reason, Start: start, Duration: d, Report: rep}
	}
	r := map[string]*schedule.Result{
		"flake-update": res("flake-update", schedule.Succeeded, "", 19*time.Second, tasks.Report{
			Actions: []string{"updated nixpkgs 2026-11-20 → 2026-11-24", "updated home-manager"}}),
		"build":    res("build", schedule.Failed, "nix build: exit status 1", 41*time.Second, tasks.Report{}),
		"activate": res("activate", schedule.UpstreamFailed, "needs build, which failed", 0, tasks.Report{}),
		"accept":   res("accept", schedule.UpstreamFailed, "needs activate, which could not run", 0, tasks.Report{}),
		"push":     res("push", schedule.UpstreamFailed, "needs accept, which could not run", 0, tasks.Report{}),
		"learn-meta": res("learn-meta", schedule.Failed, "claude exited 1", 20*time.Second, tasks.Report{
			Warnings: []string{"no sessions found in the last 7 days"}}),
		"disk": res("disk", schedule.Succeeded, "", 3*time.Second, tasks.Report{
			Stats: []string{"/nix/store 123.4 GiB", "/home 40.1 GiB free"}}),
		"caches":       res("caches", schedule.Skipped, "nothing to clean", 0, tasks.Report{}),
		"learn-review": res("learn-review", schedule.Canceled, "run aborted: build failed", 0, tasks.Report{}),
		"sessions":     res("sessions", schedule.Canceled, "run aborted: build failed", 0, tasks.Report{}),
		"ask":          res("ask", schedule.Declined, "you said no", time.Second, tasks.Report{}),
	}
	b := r["build"]
	b.Critical, b.Err, b.Tail, b.LogPath = true, errors.New("nix build: exit status 1"), tail, "/state/logs/20261125-170211.000/build.log"
	r["learn-meta"].Tail = []string{"boom"}
	r["learn-meta"].LogPath = "/state/logs/20261125-170211.000/learn-meta.log"
	return &schedule.Summary{
		Order: []string{"flake-update", "learn-meta", "disk", "caches", "ask", "build", "activate",
			"learn-review", "sessions", "accept", "push"},
		Results:        r,
		Start:          start,
		Wall:           62 * time.Second,
		CriticalPath:   []string{"flake-update", "build", "activate"},
		FailedCritical: "build",
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./render -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./render -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestSummaryGolden(t *testing.T) {
	got := summaryText(palette{}, summaryFixture(), "/state/logs/20261125-170211.000")
	if strings.ContainsRune(got, '\x1b') {
		t.Errorf("summary without colour has an escape byte")
	}
	golden(t, "summary.golden", got)
}

func TestSummaryColourOnlyWhenAsked(t *testing.T) {
	got := summaryText(palette{on: true}, summaryFixture(), "/logs")
	if !strings.Contains(got, "\x1b[") {
		t.Fatal("colour summary has no colour")
	}
	plain := summaryText(palette{}, summaryFixture(), "/logs")
	if stripped := strings.NewReplacer("\x1b[0m", "", "\x1b[1m", "", "\x1b[2m", "", "\x1b[31m", "",
		"\x1b[32m", "", "\x1b[33m", "", "\x1b[36m", "").Replace(got); stripped != plain {
		t.Errorf("colour changes the text:\n%s\nvs\n%s", stripped, plain)
	}
}

func TestQuietGolden(t *testing.T) {
	var out syncBuf
	r, _ := New(ModeQuiet, Options{Out: &out})
	for _, e := range runEvents(newClock()) {
		r.Emit(e)
	}
	r.Println("dropped")
	if out.Len() != 0 {
		t.Fatalf("quiet printed while running: %q", out.String())
	}
	r.Summary(summaryFixture(), "/logs")
	golden(t, "quiet.golden", out.String())

	out = syncBuf{}
	r, _ = New(ModeQuiet, Options{Out: &out})
	ok := &schedule.Summary{Order: []string{"a"}, Results: map[string]*schedule.Result{
		"a": {Name: "a", State: schedule.Succeeded, Report: tasks.Report{Actions: []string{"did it"}}}}}
	r.Summary(ok, "/logs")
	if out.Len() != 0 {
		t.Errorf("quiet printed after a clean run: %q", out.String())
	}
}

func TestSummaryCleanRun(t *testing.T) {
	s := &schedule.Summary{Order: []string{"a", "b"}, Results: map[string]*schedule.Result{
		"a": {Name: "a", State: schedule.Succeeded, Report: tasks.Report{Actions: []string{"did it"}}},
		"b": {Name: "b", State: schedule.Skipped, Reason: "nothing to do"},
	}, Wall: 1500 * time.Millisecond, CriticalPath: []string{"a"}}
	got := summaryText(palette{}, s, "")
	// DESIGN.md: every state but succeeded has a reason the summary shows.
	want := "Actions\n  a  did it\n\nSkipped\n  b  skipped: nothing to do\n\nwall time 1.5s · measured critical path a\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// A statistic that says again what an action said is left out; the same
// words from another task are not a repeat.
func TestSummaryStatsDoNotRepeatActions(t *testing.T) {
	s := &schedule.Summary{Order: []string{"caches", "disk"}, Results: map[string]*schedule.Result{
		"caches": {Name: "caches", State: schedule.Succeeded, Report: tasks.Report{
			Actions: []string{"freed 10.0 MiB from 4 caches"},
			Stats:   []string{"freed 10.0 MiB from 4 caches", "4 caches looked at"}}},
		"disk": {Name: "disk", State: schedule.Succeeded, Report: tasks.Report{
			Stats: []string{"freed 10.0 MiB from 4 caches"}}},
	}}
	got := summaryText(palette{}, s, "")
	want := "Actions\n  caches  freed 10.0 MiB from 4 caches\n\nStatistics\n  caches  4 caches looked at\n  disk    freed 10.0 MiB from 4 caches\n\nwall time 0.0s\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
