package render

import (
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

func TestPlainHasNoEscapeCodes(t *testing.T) {
	c := newClock()
	var out syncBuf
	// Color on must not matter: plain never colours.
	r, err := New(ModePlain, Options{Out: &out, Now: c.Now, Color: true, Verbose: true, Tasks: testTasks})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range runEvents(c) {
		r.Emit(e)
	}
	r.Println("[build] \x1b[31mred\x1b[0m line\r")
	r.VerboseWriter().Write([]byte("[build] from the logs\n"))
	r.Summary(summaryFixture(), "/logs")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.ContainsRune(got, '\x1b') {
		t.Fatalf("plain output has an escape byte:\n%q", got)
	}
	for _, want := range []string{
		"17:02:11 start   flake-update (~20s)\n",
		"17:02:12 status  flake-update: fetching nixpkgs\n",
		"17:02:30 ✔ done  flake-update 19s\n",
		"17:02:31 ⚠ failed learn-meta 20s: claude exited 1 (log: /logs/learn-meta.log)\n",
		"17:02:32 prompt  accept has the terminal\n",
		"17:02:41 notice  build: press Ctrl-C again to interrupt anyway\n",
		"17:03:11 ✖ failed build 41s: nix build: exit status 1 (log: /logs/build.log)\n",
		"17:03:11 ✖ upstream-failed accept: needs build, which failed\n",
		"[build] red line\n",
		"[build] from the logs\n",
		"logs: /logs\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	// A status 0.5 s after the last one is held back, not printed at its
	// time; as its task's newest line it comes just before the finish line.
	if !strings.Contains(got, "17:02:30 status  flake-update: dropped by the rate limit\n17:02:30 ✔ done  flake-update 19s\n") {
		t.Errorf("a status 0.5 s after the last one was not held back until its task finished:\n%s", got)
	}
	if strings.Contains(got, "release") {
		t.Errorf("release events are not printed:\n%s", got)
	}
	for _, l := range lines(got) {
		if l == "" || strings.HasPrefix(l, "  ") || !strings.HasPrefix(l, "17:") {
			continue // the summary
		}
		if _, err := time.Parse("15:04:05", l[:8]); err != nil {
			t.Errorf("line without a timestamp: %q", l)
		}
	}
}

func TestPlainStatusRateLimitIsPerTask(t *testing.T) {
	c := newClock()
	var out syncBuf
	r, _ := New(ModePlain, Options{Out: &out, Now: c.Now})
	t0 := c.Now()
	for i, d := range []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4500 * time.Millisecond} {
		r.Emit(schedule.Event{Time: t0.Add(d), Task: "a", Kind: schedule.Status, Status: "a" + string(rune('0'+i))})
		r.Emit(schedule.Event{Time: t0.Add(d), Task: "b", Kind: schedule.Status, Status: "b" + string(rune('0'+i))})
	}
	got := out.String()
	for _, s := range []string{"a0", "a2", "a4", "b0", "b2", "b4"} {
		if !strings.Contains(got, ": "+s+"\n") {
			t.Errorf("missing status %s in\n%s", s, got)
		}
	}
	for _, s := range []string{"a1", "a3", "b1", "b3"} {
		if strings.Contains(got, ": "+s+"\n") {
			t.Errorf("status %s should have been dropped:\n%s", s, got)
		}
	}
}

// The evaluation's estimate reaches plain mode too.
func TestPlainEvaluationEstimate(t *testing.T) {
	e := schedule.Event{Task: "build", Kind: schedule.Status, Status: "evaluating demo",
		Progress: &tasks.BuildProgress{Evaluating: true, EvalETA: 42 * time.Second}}
	if got := statusLine(e); got != "status  build: evaluating demo (~42s)" {
		t.Errorf("%q", got)
	}
}
