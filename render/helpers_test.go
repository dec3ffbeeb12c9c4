package render

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
)

// syncBuf is a bytes.Buffer safe for the ticker goroutine and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuf) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 17, 2, 11, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// manualTicker is a Ticker the test drives: Tick runs every renderer's
// tick function at once, in the test's goroutine, so what a tick drew can
// be asserted right after it. It goes on calling a tick function after its
// stop, which a real Ticker never does: a renderer must not mind.
type manualTicker struct {
	mu      sync.Mutex
	ticks   []func()
	every   []time.Duration
	stopped int
}

func (m *manualTicker) Ticker(every time.Duration, tick func()) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ticks = append(m.ticks, tick)
	m.every = append(m.every, every)
	return func() {
		m.mu.Lock()
		m.stopped++
		m.mu.Unlock()
	}
}

// Tick runs one tick of every renderer using m.
func (m *manualTicker) Tick() {
	m.mu.Lock()
	ticks := append([]func(){}, m.ticks...)
	m.mu.Unlock()
	for _, tick := range ticks {
		tick()
	}
}

// Stopped reports how many times a stop function was called.
func (m *manualTicker) Stopped() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped
}

// eventually polls cond for up to 3 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var testTasks = []TaskInfo{
	{Name: "flake-update", Phase: 1, Critical: true, ETA: 20 * time.Second},
	{Name: "build", Phase: 2, Critical: true, ETA: 100 * time.Second},
	{Name: "learn-meta", Phase: 7, ETA: 30 * time.Second},
	{Name: "accept", Phase: 8, Interactive: true},
	{Name: "push", Phase: 14},
}

// runEvents is a run with a failed critical task, a non-critical
// failure, a notice, a prompt and its release, and upstream failures.
func runEvents(c *clock) []schedule.Event {
	t0 := c.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	return []schedule.Event{
		{Time: at(0), Task: "flake-update", Kind: schedule.Start, State: schedule.Running, ETA: 20 * time.Second, Critical: true},
		{Time: at(0), Task: "learn-meta", Kind: schedule.Start, State: schedule.Running, ETA: 30 * time.Second},
		{Time: at(time.Second), Task: "flake-update", Kind: schedule.Status, State: schedule.Running, Status: "\x1b[1mfetching\x1b[0m nixpkgs"},
		{Time: at(1500 * time.Millisecond), Task: "flake-update", Kind: schedule.Status, State: schedule.Running, Status: "dropped by the rate limit"},
		{Time: at(19 * time.Second), Task: "flake-update", Kind: schedule.Finish, State: schedule.Succeeded, Duration: 19 * time.Second,
			Actions: []string{"updated nixpkgs"}, Critical: true},
		{Time: at(19 * time.Second), Task: "build", Kind: schedule.Start, State: schedule.Running, ETA: 100 * time.Second, Critical: true},
		{Time: at(20 * time.Second), Task: "learn-meta", Kind: schedule.Finish, State: schedule.Failed, Duration: 20 * time.Second,
			Reason: "claude exited 1", Err: errors.New("claude exited 1\n  last output:\n    boom"), LogPath: "/logs/learn-meta.log",
			Tail: []string{"boom"}, Warnings: []string{"no sessions found"}},
		{Time: at(21 * time.Second), Task: "accept", Kind: schedule.Prompt, State: schedule.Running},
		{Time: at(22 * time.Second), Task: "accept", Kind: schedule.Release, State: schedule.Running},
		{Time: at(30 * time.Second), Kind: schedule.Notice, Task: "build", Status: "press Ctrl-C again to interrupt anyway"},
		{Time: at(60 * time.Second), Task: "build", Kind: schedule.Finish, State: schedule.Failed, Duration: 41 * time.Second,
			Reason: "nix build: exit status 1", Err: errors.New("nix build: exit status 1"), Critical: true,
			LogPath: "/logs/build.log", Tail: []string{"error: builder failed"}},
		{Time: at(60 * time.Second), Task: "accept", Kind: schedule.Finish, State: schedule.UpstreamFailed,
			Reason: "needs build, which failed"},
		{Time: at(60 * time.Second), Task: "push", Kind: schedule.Finish, State: schedule.UpstreamFailed,
			Reason: "needs accept, which could not run"},
	}
}

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }
