package nixos

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

func TestBuildTimesMedianKeepsTheLastTen(t *testing.T) {
	bt := buildTimes{}
	if d := bt.estimate("firefox"); d != 0 {
		t.Errorf("no history: %v", d)
	}
	bt.add("firefox", 3*time.Second, time.Second, 2*time.Second)
	if d := bt.estimate("firefox"); d != 2*time.Second {
		t.Errorf("median of 3s 1s 2s = %v", d)
	}
	bt.add("firefox", 4*time.Second)
	if d := bt.estimate("firefox"); d != 2500*time.Millisecond {
		t.Errorf("median of four = %v", d)
	}
	for range 20 {
		bt.add("firefox", time.Minute)
	}
	if len(bt["firefox"]) != keptTimes || bt.estimate("firefox") != time.Minute {
		t.Errorf("kept %v", bt["firefox"])
	}
	dir := filepath.Join(t.TempDir(), "state")
	if err := bt.save(dir); err != nil {
		t.Fatal(err)
	}
	if got := loadBuildTimes(dir); got.estimate("firefox") != time.Minute {
		t.Errorf("loaded %v", got)
	}
	// A broken file is no history, not an error.
	if err := os.WriteFile(filepath.Join(dir, buildTimesFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := loadBuildTimes(dir); len(got) != 0 {
		t.Errorf("broken file loaded as %v", got)
	}
}

func TestPname(t *testing.T) {
	for name, want := range map[string]string{
		"firefox-133.0": "firefox", "python3-3.10.4": "python3", "nixos-system-demo": "nixos-system-demo",
		"linux-firmware-20220509": "linux-firmware", "foo": "foo", "gtk+3-3.24.33": "gtk+3",
	} {
		if got := pname(name); got != want {
			t.Errorf("pname(%q) = %q, want %q", name, got, want)
		}
	}
}

// progressRecorder is a ProgressReporter that keeps every progress.
type progressRecorder struct {
	mu sync.Mutex
	ps []tasks.BuildProgress
}

func (r *progressRecorder) Status(string, string) {}
func (r *progressRecorder) Progress(_, _ string, p tasks.BuildProgress) {
	r.mu.Lock()
	r.ps = append(r.ps, p)
	r.mu.Unlock()
}

// A successful build records its evaluation and each derivation's time
// in the state directory; the next build's progress carries them as
// estimates (the median of past builds of the same package name).
func TestBuildLearnsEstimatesFromPastBuilds(t *testing.T) {
	w := newWorld(t)
	state := t.TempDir()
	build := func(version string) *progressRecorder {
		if err := w.s.SetVersion(version); err != nil {
			t.Fatal(err)
		}
		w.mustRun(FlakeUpdate{}, w.env("flake-update", nil))
		rec := &progressRecorder{}
		env := tasks.NewEnv("build", rec, w.values)
		env.Config, env.Runner, env.Home = w.s.Config(), w.s.Runner(), w.s.Home
		env.Config.StateDir = state
		env.Log = &taskstest.Buffer{}
		if err := (Build{}).Run(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	first := build("1.2")
	var bt buildTimes
	b, err := os.ReadFile(filepath.Join(state, buildTimesFile))
	if err != nil || json.Unmarshal(b, &bt) != nil {
		t.Fatalf("%s: %v %s", buildTimesFile, err, b)
	}
	if len(bt["foo"]) != 1 || len(bt[evalKey("demo")]) != 1 || len(bt["nixos-system-demo"]) != 1 {
		t.Errorf("recorded %v", bt)
	}
	if len(first.ps) == 0 || !first.ps[0].Evaluating || first.ps[0].EvalETA != 0 {
		t.Errorf("first build's progress %+v", first.ps)
	}
	second := build("1.3")
	if second.ps[0].EvalETA != bt.estimate(evalKey("demo")) || second.ps[0].EvalETA == 0 {
		t.Errorf("second evaluation's estimate %v, recorded %v", second.ps[0].EvalETA, bt)
	}
	var eta time.Duration
	for _, p := range second.ps {
		for _, r := range p.Builds {
			if r.Name == "foo-1.3" {
				eta = r.ETA
			}
		}
	}
	if eta != bt.estimate("foo") || eta == 0 {
		t.Errorf("foo-1.3's estimate %v, foo-1.2 took %v", eta, bt["foo"])
	}
}
