package render

import (
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// buildFrame draws one frame of a tty rows lines high with a build
// reporting bp under status, beside other running tasks, and returns
// the frame's lines.
func buildFrame(t *testing.T, rows, others int, status string, bp *tasks.BuildProgress) []string {
	t.Helper()
	c := newClock()
	tick := &manualTicker{}
	out := &syncBuf{}
	r, err := New(ModeTTY, Options{Out: out, Now: c.Now, Ticker: tick.Ticker,
		Width: func() int { return 80 }, Height: func() int { return rows }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Emit(schedule.Event{Task: "build", Kind: schedule.Start, Time: c.Now()})
	for i := range others {
		r.Emit(schedule.Event{Task: "learn-" + string(rune('a'+i)), Kind: schedule.Start, Time: c.Now()})
	}
	r.Emit(schedule.Event{Task: "build", Kind: schedule.Status, Time: c.Now(), Status: status, Progress: bp})
	c.Add(3 * time.Second)
	tick.Tick()
	raw := out.String()
	raw = raw[strings.LastIndex(raw, syncStart):]
	return lines(strings.TrimSuffix(displaySequences.ReplaceAllString(raw, ""), "\n"))
}

func sampleProgress(start time.Time) *tasks.BuildProgress {
	return &tasks.BuildProgress{
		Builds: []tasks.RunningBuild{
			{Name: "firefox-133.0", Phase: "buildPhase", Start: start, ETA: 5 * time.Minute},
			{Name: "bar-2.1232", Start: start.Add(time.Second)},
		},
		Downloads: []tasks.Download{{Name: "glibc-2.35", Done: 3 << 20, Total: 6 << 20, Start: start, Rate: 1 << 20}},
		Built:     12, ToBuild: 40, Downloaded: 3, ToDownload: 25, DownloadedBytes: 210 << 20, DownloadBytes: 1229 << 20,
	}
}

func TestBuildViewUnfoldsWhenThereIsRoom(t *testing.T) {
	bp := sampleProgress(newClock().Now())
	got := strings.Join(buildFrame(t, 24, 2, "building firefox-133.0 (buildPhase) +1 more · built 12/40", bp), "\n")
	for _, want := range []string{
		"built 12/40 · downloaded 3/25 (210 MiB/1.2 GiB)",
		"    ▸ firefox-133.0  buildPhase  3.0s ~5m00s",
		"    ▸ bar-2.1232     2.0s",
		"    ↓ glibc-2.35     3.0 MiB/6.0 MiB  1.0 MiB/s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("frame lacks %q:\n%s", want, got)
		}
	}
}

// With no room (a short terminal, or many tasks running) the build is
// folded to its one line: the status as plain mode shows it.
func TestBuildViewFoldsWhenSpaceIsShort(t *testing.T) {
	bp := sampleProgress(newClock().Now())
	status := "building firefox-133.0 (buildPhase) +1 more · built 12/40"
	for _, tc := range []struct{ rows, others int }{{5, 2}, {24, 14}} {
		frame := buildFrame(t, tc.rows, tc.others, status, bp)
		got := strings.Join(frame, "\n")
		if strings.Contains(got, "▸") || strings.Contains(got, "↓") || !strings.Contains(got, status) {
			t.Errorf("%d rows, %d other tasks: not folded to the status line:\n%s", tc.rows, tc.others, got)
		}
		if len(frame) > tc.rows {
			t.Errorf("%d rows: a frame of %d lines", tc.rows, len(frame))
		}
	}
}

// Evaluation comes first, with its elapsed time and its estimate.
func TestBuildViewEvaluation(t *testing.T) {
	start := newClock().Now()
	got := strings.Join(buildFrame(t, 24, 0, "evaluating demo", &tasks.BuildProgress{Evaluating: true, EvalStart: start, EvalETA: 40 * time.Second}), "\n")
	if !strings.Contains(got, "evaluating demo 3.0s ~40s") {
		t.Errorf("frame:\n%s", got)
	}
}
