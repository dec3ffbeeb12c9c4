package render

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// A task says "evaluating" and, a moment later, what it builds for the
// next hour: through the scheduler and the live display, the second line
// is the one on screen at the next redraw. (The scheduler once dropped a
// line that came within 50 ms of the one before.)
func TestNewestStatusReachesTheScreen(t *testing.T) {
	var out syncBuf
	c := newClock()
	r, tk := newTestTTY(t, &out, c)
	said, release := make(chan struct{}), make(chan struct{})
	specs := []tasks.Spec{{Name: "build", Task: tasks.Func(func(ctx context.Context, env *tasks.Env) error {
		env.Status("evaluating")
		env.Status("building firefox-133.0")
		close(said)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})}}
	g, byName, err := schedule.Graph(specs)
	if err != nil {
		t.Fatal(err)
	}
	run, err := schedule.New(g, byName, schedule.Options{Jobs: 1, Now: c.Now, Sink: r})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); run.Execute(context.Background()) }()
	defer func() { close(release); <-done }()
	<-said
	tk.Tick()
	if f := lastFrame(out.String()); !strings.Contains(f, "building firefox-133.0") || strings.Contains(f, "evaluating") {
		t.Errorf("the frame after both status lines:\n%s", f)
	}
}

// Plain writes a task's status at most every statusEvery, but the newest
// line held back in the meantime is written by the first tick after the
// interval, not dropped; a line still held when its task finishes is.
func TestPlainWritesTheNewestHeldStatus(t *testing.T) {
	c := newClock()
	var out syncBuf
	tk := &manualTicker{}
	r, _ := New(ModePlain, Options{Out: &out, Now: c.Now, Ticker: tk.Ticker})
	defer r.Close()
	t0 := c.Now()
	status := func(d time.Duration, task, line string) {
		r.Emit(schedule.Event{Time: t0.Add(d), Task: task, Kind: schedule.Status, Status: line})
	}
	status(0, "build", "evaluating")
	status(0, "push", "git push origin")
	status(30*time.Millisecond, "build", "building firefox-133.0")
	status(40*time.Millisecond, "push", "pushing 3 commits")
	c.Add(time.Second)
	tk.Tick() // too soon for both
	if got := out.String(); strings.Contains(got, "firefox") || strings.Contains(got, "3 commits") {
		t.Fatalf("held lines written before their interval:\n%s", got)
	}
	c.Add(time.Second)
	tk.Tick()
	want := "17:02:11 status  build: evaluating\n" +
		"17:02:11 status  push: git push origin\n" +
		"17:02:13 status  build: building firefox-133.0\n" +
		"17:02:13 status  push: pushing 3 commits\n"
	if got := out.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// Held, then superseded, then the task finishes: the newest held line
	// is written just before the finish line (the last thing a task says
	// is never lost), the superseded one never, and nothing after.
	status(2100*time.Millisecond, "build", "linking")
	status(2200*time.Millisecond, "build", "installing")
	r.Emit(schedule.Event{Time: t0.Add(2300 * time.Millisecond), Task: "build", Kind: schedule.Finish, State: schedule.Succeeded})
	c.Add(10 * time.Second)
	tk.Tick()
	if got := out.String(); strings.Contains(got, "linking") {
		t.Errorf("a superseded held line was written:\n%s", got)
	}
	if !strings.HasSuffix(out.String(), "status  build: installing\n17:02:13 ✔ done  build\n") {
		t.Errorf("the newest held line and then the finish line are not the last:\n%s", out.String())
	}
}

// json rate-limits status lines too (a command printing a line per
// millisecond must not flood the reader), never losing the newest.
func TestJSONWritesTheNewestHeldStatus(t *testing.T) {
	c := newClock()
	var out syncBuf
	tk := &manualTicker{}
	r, _ := New(ModeJSON, Options{Out: &out, Now: c.Now, Ticker: tk.Ticker})
	defer r.Close()
	t0 := c.Now()
	for i, line := range []string{"evaluating", "fetching", "building firefox-133.0"} {
		r.Emit(schedule.Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Task: "build", Kind: schedule.Status, Status: line})
	}
	tk.Tick()
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, `"message":"evaluating"`) {
		t.Fatalf("before the interval:\n%s", got)
	}
	c.Add(jsonStatusEvery)
	tk.Tick()
	ls := lines(out.String())
	if len(ls) != 2 || !strings.Contains(ls[1], `"message":"building firefox-133.0"`) || strings.Contains(out.String(), "fetching") {
		t.Errorf("after the interval:\n%s", out.String())
	}
}
