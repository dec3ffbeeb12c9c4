package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The build view replayed: the recordings of tasks/nixos/testdata/
// record-buildview (real Nix 2.8 in a private store, four derivations
// built at once with max-jobs = 4, one failing, and three paths
// substituted from a second store serving as a file:// binary cache),
// each line with the milliseconds since the start, go through the
// BuildLog and the tty renderer on the recording's clock; the frames at
// chosen moments are the golden files, at 80 and 130 columns.

// timedLine is one line of a .timed recording.
type timedLine struct {
	at   time.Duration
	line string
}

func readTimed(t *testing.T, name string) []timedLine {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "tasks", "nixos", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []timedLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		ms, line, ok := strings.Cut(sc.Text(), "\t")
		n, err := strconv.Atoi(ms)
		if !ok || err != nil {
			t.Fatalf("%s: not a timed line: %q", name, sc.Text())
		}
		out = append(out, timedLine{time.Duration(n) * time.Millisecond, line})
	}
	return out
}

// replayClock is the recording's clock.
type replayClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *replayClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *replayClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// pastBuilds stands for the history of earlier runs: the durations
// build-times.json would give (see nixos' buildtimes.go).
var pastBuilds = map[string]time.Duration{"firefox": 7 * time.Second, "bar": 5500 * time.Millisecond, "foo": 4 * time.Second}

// replay feeds the recording to a BuildLog and a tty renderer width
// columns wide, emitting the build's progress after every line as the
// build task does, and returns the frames drawn at each of at, as text
// (escape sequences removed), and the last status line.
func replay(t *testing.T, name string, width int, at []time.Duration) ([]string, string, []schedule.Event) {
	t.Helper()
	start := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	clock := &replayClock{t: start}
	var out bytes.Buffer
	var tick func()
	r, err := render.New(render.ModeTTY, render.Options{
		Out: &out, Now: clock.Now,
		Width: func() int { return width }, Height: func() int { return 24 },
		Tasks:  []render.TaskInfo{{Name: "flake-update", Phase: 1}, {Name: "build", Phase: 2, ETA: 12 * time.Second}, {Name: "learn-meta"}, {Name: "disk", Phase: 10}},
		Ticker: func(_ time.Duration, f func()) func() { tick = f; return func() {} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var events []schedule.Event
	emit := func(e schedule.Event) { e.Time = clock.Now(); events = append(events, e); r.Emit(e) }
	emit(schedule.Event{Task: "flake-update", Kind: schedule.Finish, State: schedule.Succeeded, Duration: 800 * time.Millisecond})
	emit(schedule.Event{Task: "build", Kind: schedule.Start, State: schedule.Running, ETA: 12 * time.Second})
	emit(schedule.Event{Task: "learn-meta", Kind: schedule.Start, State: schedule.Running})
	emit(schedule.Event{Task: "learn-meta", Kind: schedule.Status, State: schedule.Running, Status: "reading 42 sessions"})
	emit(schedule.Event{Task: "build", Kind: schedule.Status, State: schedule.Running, Status: "evaluating demo",
		Progress: &tasks.BuildProgress{Evaluating: true, EvalStart: start, EvalETA: 2 * time.Second}})

	l := nixos.NewBuildLog()
	l.Now = clock.Now
	l.Estimate = func(pname string) time.Duration { return pastBuilds[pname] }
	var frames []string
	last := ""
	capture := func() {
		out.Reset()
		tick()
		frames = append(frames, frameText(t, out.String()))
	}
	next := 0
	for _, tl := range readTimed(t, name) {
		for next < len(at) && at[next] < tl.at {
			clock.set(start.Add(at[next]))
			capture()
			next++
		}
		clock.set(start.Add(tl.at))
		l.Line(tl.line)
		if st := l.Status(); st != "evaluating" {
			last = st
			emit(schedule.Event{Task: "build", Kind: schedule.Status, State: schedule.Running, Status: st, Progress: ptr(l.BuildProgress())})
		}
	}
	for ; next < len(at); next++ {
		clock.set(start.Add(at[next]))
		capture()
	}
	return frames, last, events
}

func ptr[T any](v T) *T { return &v }

var escapes = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\r`)

// frameText is what one draw leaves on screen: the frame's lines without
// escape sequences. Each line must fit the terminal.
func frameText(t *testing.T, raw string) string {
	t.Helper()
	if !strings.HasPrefix(raw, "\x1b[?2026h\x1b[?25l") || !strings.HasSuffix(raw, "\x1b[?2026l") {
		t.Errorf("a frame is not synchronized output with the cursor hidden: %q", raw)
	}
	return strings.TrimRight(escapes.ReplaceAllString(raw, ""), "\n")
}

func TestBuildViewGoldenFrames(t *testing.T) {
	at := []time.Duration{1200 * time.Millisecond, 2200 * time.Millisecond, 2650 * time.Millisecond, 5 * time.Second, 7 * time.Second, 10400 * time.Millisecond}
	for _, width := range []int{80, 130} {
		frames, last, _ := replay(t, "build-view-failure-internal-json.timed", width, at)
		var b strings.Builder
		for i, f := range frames {
			b.WriteString("── at " + at[i].String() + " ──\n" + f + "\n")
			for _, line := range strings.Split(f, "\n") {
				if w := runewidth.StringWidth(line); w >= width {
					t.Errorf("%d columns: line of %d columns: %q", width, w, line)
				}
			}
		}
		golden := filepath.Join("testdata", "buildview-"+strconv.Itoa(width)+".golden")
		if *update {
			if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if b.String() != string(want) {
			t.Errorf("%d columns: frames differ from %s (go test -run TestBuildViewGoldenFrames -update):\n%s", width, golden, b.String())
		}
		all := b.String()
		// What the view must show, whatever the layout.
		for _, want := range []string{
			"evaluating demo 1.2s ~2.0s", // evaluation first, elapsed and estimate
			"↓ linux-firmware-20220509",  // a download …
			"MiB/12.0 MiB",               // … with its bytes done and total
			"MiB/s",                      // … and its rate
			"▸ firefox-133.0",            // a running build …
			"buildPhase",                 // … its phase
			"~7.0s",                      // … and its estimate from past builds
			"built 0/8 · downloaded 0/3 (5.6 MiB/22.0 MiB)", // the counts with the bytes
			"✖ broken-0.1 failed",                           // the failure …
			"compiling broken-0.1 part 1",                   // … with its last lines
		} {
			if !strings.Contains(all, want) {
				t.Errorf("%d columns: no frame shows %q", width, want)
			}
		}
		if strings.HasPrefix(last, "building") {
			t.Errorf("final status %q: nothing builds any more", last)
		}
	}
}

// Once nothing builds, the status is never "building": the successful
// recording ends with the counts alone, and json's last status event has
// counters that add up.
func TestBuildViewFinalStatusIsNotBuilding(t *testing.T) {
	_, last, events := replay(t, "build-view-internal-json.timed", 100, nil)
	if last != "built 4/4 · downloaded 3/3 (22.0 MiB)" {
		t.Errorf("final status %q", last)
	}
	var out bytes.Buffer
	r, err := render.New(render.ModeJSON, render.Options{Out: &out, Ticker: func(time.Duration, func()) func() { return func() {} }})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		r.Emit(e)
	}
	r.Emit(schedule.Event{Task: "build", Kind: schedule.Finish, State: schedule.Succeeded, Time: events[len(events)-1].Time.Add(time.Second)})
	r.Close()
	var lastStatus render.Event
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e render.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if e.Event == "status" && e.Task == "build" {
			lastStatus = e
		}
	}
	p := lastStatus.Progress
	if p == nil || lastStatus.Message != last || p.Built != 4 || p.ToBuild != 4 || p.Downloaded != 3 || p.ToDownload != 3 ||
		p.DownloadBytes == 0 || p.DownloadedBytes != p.DownloadBytes || len(p.Building) != 0 || len(p.Downloading) != 0 {
		t.Errorf("last json status: %+v progress %+v (want %q)", lastStatus, p, last)
	}
}

// In a real pseudo-terminal: while Nix builds, the live area shows the
// build view in frames of synchronized output (DEC mode 2026) with the
// cursor hidden; Ctrl-C typed at the terminal ends the run with exit 130
// and the cursor shown again.
func TestBuildViewInTerminalAndCtrlC(t *testing.T) {
	n := newNixOS(t, "")
	if err := n.SetVariant(nixtest.Slow); err != nil {
		t.Fatal(err)
	}
	tr := startTTY(t, n.w.command("--only=system", "--yes"))
	tr.wait("▸ slow-1.0") // the running build, under build
	frames := tr.raw()
	for _, seq := range []string{"\x1b[?2026h", "\x1b[?2026l", "\x1b[?25l"} {
		if !strings.Contains(frames, seq) {
			t.Errorf("the frames lack %q", seq)
		}
	}
	// Every frame is one synchronized update: as many ends as starts.
	if s, e := strings.Count(frames, "\x1b[?2026h"), strings.Count(frames, "\x1b[?2026l"); e < s-1 || e > s {
		t.Errorf("%d frames started, %d ended", s, e)
	}
	if _, err := tr.f.Write([]byte{3}); err != nil { // Ctrl-C, as typed
		t.Fatal(err)
	}
	if code := tr.exit(); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, tr.String())
	}
	raw := tr.raw()
	if hide, show := strings.LastIndex(raw, "\x1b[?25l"), strings.LastIndex(raw, "\x1b[?25h"); show < hide {
		t.Errorf("after Ctrl-C the cursor is left hidden (last hide at %d, last show at %d)", hide, show)
	}
	if strings.Count(raw, "\x1b[?2026h") != strings.Count(raw, "\x1b[?2026l") {
		t.Errorf("a synchronized update is left open")
	}
}
