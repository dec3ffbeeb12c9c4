package render

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
)

// lastFrame is what the area shows after the last redraw: the text after
// the last clear-to-end-of-screen.
func lastFrame(s string) string {
	if i := strings.LastIndex(s, "\x1b[J"); i >= 0 {
		return s[i+len("\x1b[J"):]
	}
	return s
}

// newTestTTY is a live display whose redraws happen when the test ticks.
func newTestTTY(t *testing.T, out *syncBuf, c *clock) (Renderer, *manualTicker) {
	t.Helper()
	tk := &manualTicker{}
	r, err := New(ModeTTY, Options{Out: out, Now: c.Now, Tasks: testTasks, Width: func() int { return 60 }, Ticker: tk.Ticker,
		RemainingETA: CriticalRemaining(testTasks, map[string][]string{"build": {"flake-update"}, "accept": {"build", "learn-meta"}, "push": {"accept"}})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, tk
}

// shown fails the test unless cond holds now (after a tick, say).
func shown(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !cond() {
		t.Fatalf("not on screen: %s", what)
	}
}

func TestTTYShowsRunningTasksTogether(t *testing.T) {
	c := newClock()
	var out syncBuf
	r, tk := newTestTTY(t, &out, c)
	t0 := c.Now()
	r.Emit(schedule.Event{Time: t0, Task: "flake-update", Kind: schedule.Start, ETA: 20 * time.Second})
	r.Emit(schedule.Event{Time: t0, Task: "learn-meta", Kind: schedule.Start, ETA: 30 * time.Second})
	r.Emit(schedule.Event{Time: t0, Task: "learn-meta", Kind: schedule.Status,
		Status: "reading sessions · a status long enough to be cut at the terminal's width for sure"})
	c.Add(5 * time.Second)
	tk.Tick()
	shown(t, "both tasks in one frame", func() bool {
		f := lastFrame(out.String())
		return strings.Contains(f, "flake-update") && strings.Contains(f, "learn-meta") && strings.Contains(f, "reading")
	})
	f := lastFrame(out.String())
	for _, l := range lines(f) {
		if w := len([]rune(l)); w > 59 {
			t.Errorf("line of %d columns in a 60-column terminal: %q", w, l)
		}
	}
	for _, want := range []string{"5.0s ~20s", "0/5 tasks · 5.0s · ~1m55s left"} {
		if !strings.Contains(f, want) {
			t.Errorf("frame lacks %q:\n%s", want, f)
		}
	}

	// A finished task leaves one permanent line above the area.
	r.Emit(schedule.Event{Time: c.Now(), Task: "flake-update", Kind: schedule.Finish, State: schedule.Succeeded, Duration: 5 * time.Second})
	tk.Tick()
	shown(t, "the finish line", func() bool { return strings.Contains(out.String(), "✔ flake-update") })
	tk.Tick() // the frame that printed the finish line had it above the area
	shown(t, "a frame without flake-update", func() bool {
		f := lastFrame(out.String())
		return !strings.Contains(f, "flake-update") && strings.Contains(f, "1/5 tasks")
	})
	if strings.Count(out.String(), "✔ flake-update") != 1 {
		t.Errorf("the finish line is printed more than once:\n%q", out.String())
	}
	if regexp.MustCompile(`\x1b\[[0-9;]*m`).MatchString(out.String()) {
		t.Errorf("colour without Color:\n%q", out.String())
	}
}

func TestTTYNothingWrittenWhilePaused(t *testing.T) {
	c := newClock()
	var out syncBuf
	r, tk := newTestTTY(t, &out, c)
	r.Emit(schedule.Event{Task: "build", Kind: schedule.Start})
	r.Emit(schedule.Event{Task: "learn-meta", Kind: schedule.Start})
	tk.Tick()
	shown(t, "a first frame", func() bool { return strings.Contains(out.String(), "build") })

	check := func(pause, resume func(), what string) {
		t.Helper()
		pause()
		n := out.Len()
		if !strings.HasSuffix(out.String(), "\x1b[J") {
			t.Errorf("%s: the area was not cleared: %q", what, out.String()[max(0, n-80):])
		}
		for i := 0; i < 5; i++ {
			c.Add(time.Second)
			r.Emit(schedule.Event{Task: "build", Kind: schedule.Status, Status: "building " + what})
			r.Println("[build] " + what)
			tk.Tick()
		}
		r.Emit(schedule.Event{Task: "learn-meta", Kind: schedule.Finish, State: schedule.Failed, Reason: what})
		r.Emit(schedule.Event{Kind: schedule.Notice, Status: "notice " + what})
		tk.Tick()
		if got := out.Len(); got != n {
			t.Fatalf("%s: %d bytes written while paused: %q", what, got-n, out.String()[n:])
		}
		resume()
		shown(t, what+": output after resume", func() bool {
			s := out.String()[n:]
			return strings.Contains(s, "⚠ learn-meta") && strings.Contains(s, "[build] "+what) &&
				strings.Contains(s, "notice "+what) && strings.Contains(lastFrame(s), "building "+what)
		})
		r.Emit(schedule.Event{Task: "learn-meta", Kind: schedule.Start})
	}
	check(r.Pause, r.Resume, "pause")
	check(func() { r.Emit(schedule.Event{Task: "accept", Kind: schedule.Prompt}) },
		func() { r.Emit(schedule.Event{Task: "accept", Kind: schedule.Release}) }, "prompt")
	// Nested: a prompter pauses inside a task's Prompt … Release.
	check(func() {
		r.Emit(schedule.Event{Task: "accept", Kind: schedule.Prompt})
		r.Pause()
		r.Resume()
	}, func() { r.Emit(schedule.Event{Task: "accept", Kind: schedule.Release}) }, "nested")
	// A Release without its Prompt, or a Resume without a Pause, changes nothing.
	r.Emit(schedule.Event{Task: "other", Kind: schedule.Release})
	r.Resume()
	check(r.Pause, r.Resume, "after stray")
}

func TestTTYSummaryRemovesArea(t *testing.T) {
	c := newClock()
	var out syncBuf
	r, tk := newTestTTY(t, &out, c)
	r.Emit(schedule.Event{Task: "build", Kind: schedule.Start})
	tk.Tick()
	shown(t, "a frame", func() bool { return strings.Contains(out.String(), "build") })
	r.Emit(schedule.Event{Task: "build", Kind: schedule.Finish, State: schedule.Succeeded, Duration: time.Minute})
	r.Summary(summaryFixture(), "/logs")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	i := strings.LastIndex(s, "\x1b[J")
	tail := s[i+3:]
	if !strings.HasPrefix(tail, "✔ build") || !strings.Contains(tail, "wall time 1m02s") || strings.Contains(tail, "tasks ·") {
		t.Errorf("after the summary the area should be gone:\n%s", tail)
	}
	if tk.Stopped() != 1 {
		t.Errorf("Close stopped the ticker %d times, want once", tk.Stopped())
	}
	n := out.Len()
	tk.Tick() // a tick that was already under way
	if out.Len() != n {
		t.Errorf("drawing after Close")
	}
}
