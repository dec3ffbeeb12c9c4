package schedule

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// stepper runs a graph one task end at a time: each task waits for its
// gate, the clock moves only when the test says, and the test waits for a
// task's Finish before going on, so start and end times are exactly the
// ones the test chose.
type stepper struct {
	t        *testing.T
	clock    atomic.Int64 // nanoseconds since base
	base     time.Time
	gates    map[string]chan error
	finished chan string
}

func newStepper(t *testing.T, names ...string) *stepper {
	s := &stepper{t: t, base: time.Unix(1764090000, 0), gates: map[string]chan error{}, finished: make(chan string, 64)}
	for _, n := range names {
		s.gates[n] = make(chan error, 1)
	}
	return s
}

func (s *stepper) now() time.Time { return s.base.Add(time.Duration(s.clock.Load())) }

func (s *stepper) task(name string) tasks.Task {
	return tasks.Func(func(ctx context.Context, _ *tasks.Env) error {
		select {
		case err := <-s.gates[name]:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// end sets the clock to at and ends name with err, then waits for its Finish.
func (s *stepper) end(name string, at time.Duration, err error) {
	s.t.Helper()
	s.clock.Store(int64(at))
	s.gates[name] <- err
	select {
	case got := <-s.finished:
		if got != name {
			s.t.Fatalf("%s finished, want %s", got, name)
		}
	case <-time.After(20 * time.Second):
		s.t.Fatalf("%s never finished", name)
	}
}

func (s *stepper) Emit(e Event) {
	// Tasks without a gate never run: their Finish is not a step.
	if _, gated := s.gates[e.Task]; gated && e.Kind == Finish {
		s.finished <- e.Task
	}
}

// execute starts the run on its own goroutine; steps ends the tasks;
// the summary comes back when the run is over.
func (s *stepper) execute(specs []tasks.Spec, est map[string]time.Duration, steps func()) *Summary {
	s.t.Helper()
	g, byName, err := Graph(specs)
	if err != nil {
		s.t.Fatal(err)
	}
	r, err := New(g, byName, Options{Jobs: 8, Now: s.now, Sink: s,
		Estimate: func(n string) time.Duration { return est[n] }})
	if err != nil {
		s.t.Fatal(err)
	}
	done := make(chan *Summary, 1)
	go func() { done <- r.Execute(context.Background()) }()
	steps()
	select {
	case sum := <-done:
		return sum
	case <-time.After(20 * time.Second):
		s.t.Fatal("the run never ended")
	}
	return nil
}

// `--only=system,caches`: the estimates say caches is the longest, but
// the build took 6.2 s and the caches 3.7 s. The summary names what
// happened, the system chain, with diff (activate ran after it).
//
//	flake-update ─▶ build ─▶ diff ┄┄▶ activate      caches
//	                  └──────────────▶ activate
func TestCriticalPathIsMeasured(t *testing.T) {
	s := newStepper(t, "flake-update", "build", "diff", "activate", "caches")
	specs := []tasks.Spec{
		{Name: "flake-update", Task: s.task("flake-update")},
		{Name: "build", Needs: []string{"flake-update"}, Task: s.task("build")},
		{Name: "diff", Needs: []string{"build"}, Task: s.task("diff")},
		{Name: "activate", Needs: []string{"build"}, After: []string{"diff"}, Task: s.task("activate")},
		{Name: "caches", Task: s.task("caches")},
	}
	est := map[string]time.Duration{"flake-update": time.Second, "build": time.Second, "diff": time.Second,
		"activate": time.Second, "caches": 100 * time.Second}
	sum := s.execute(specs, est, func() {
		s.end("flake-update", 1*time.Second, nil)
		s.end("caches", 3700*time.Millisecond, nil)
		s.end("build", 6200*time.Millisecond, nil)
		s.end("diff", 6500*time.Millisecond, nil)
		s.end("activate", 7*time.Second, nil)
	})
	if got, want := strings.Join(sum.CriticalPath, " → "), "flake-update → build → diff → activate"; got != want {
		t.Errorf("critical path %s, want %s", got, want)
	}

	// The same graph where the caches really are the slowest.
	s = newStepper(t, "flake-update", "build", "diff", "activate", "caches")
	for i := range specs {
		specs[i].Task = s.task(specs[i].Name)
	}
	sum = s.execute(specs, est, func() {
		s.end("flake-update", 1*time.Second, nil)
		s.end("build", 2*time.Second, nil)
		s.end("diff", 2500*time.Millisecond, nil)
		s.end("activate", 3*time.Second, nil)
		s.end("caches", 9*time.Second, nil)
	})
	if got := strings.Join(sum.CriticalPath, " → "); got != "caches" {
		t.Errorf("critical path %s, want caches", got)
	}
}

// A task that did nothing is never the critical path, not even when it
// ended last; the walk looks through it to what ran before it.
//
//	a ─▶ b (skips, last) ─▶ c (disabled)      d ─▶ e (disabled) ─▶ f
func TestCriticalPathNamesNoSkippedTask(t *testing.T) {
	s := newStepper(t, "a", "b", "d", "f")
	specs := []tasks.Spec{
		{Name: "a", Task: s.task("a")},
		{Name: "b", Needs: []string{"a"}, Task: s.task("b")},
		{Name: "c", Needs: []string{"b"}, Disabled: true},
		{Name: "d", Task: s.task("d")},
		{Name: "e", Needs: []string{"d"}, Disabled: true},
		{Name: "f", Needs: []string{"e"}, Task: s.task("f")},
	}
	est := map[string]time.Duration{"a": time.Second, "b": time.Hour, "c": time.Hour, "d": time.Second, "f": time.Second}
	sum := s.execute(specs, est, func() {
		s.end("d", 1*time.Second, nil)
		s.end("a", 2*time.Second, nil)
		s.end("f", 3*time.Second, nil)
		s.end("b", 10*time.Second, tasks.Skip("nothing to clean"))
	})
	if got := strings.Join(sum.CriticalPath, " → "); got != "d → f" {
		t.Errorf("critical path %q, want d → f (b skipped, e disabled)", got)
	}

	// Nothing ran at all (a dry run of tasks that have none): no path.
	g, byName, err := Graph([]tasks.Spec{{Name: "x", Task: ok()}, {Name: "y", Needs: []string{"x"}, Task: ok()}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := New(g, byName, Options{DryRun: true})
	if sum := r.Execute(context.Background()); len(sum.CriticalPath) != 0 {
		t.Errorf("a run where nothing ran has critical path %q", sum.CriticalPath)
	}
}

// Time spent waiting for answers is recorded apart and left out of the
// next estimate: a task that worked 1 s and waited 30 s for its answer is
// expected to take 1 s.
func TestWaitForAnswersIsLeftOutOfEstimates(t *testing.T) {
	var clock atomic.Int64
	base := time.Unix(1764090000, 0)
	now := func() time.Time { return base.Add(time.Duration(clock.Load())) }
	asks := tasks.Func(func(_ context.Context, env *tasks.Env) error {
		clock.Add(int64(31 * time.Second))
		env.AddWait(30 * time.Second)
		return nil
	})
	sum, _ := run(t, []tasks.Spec{{Name: "accept", Task: asks}}, Options{Now: now})
	r := sum.Results["accept"]
	if r.Duration != 31*time.Second || r.Wait != 30*time.Second {
		t.Fatalf("duration %s, wait %s", r.Duration, r.Wait)
	}
	rec := NewRunRecord("1", "h", sum, 0, nil)
	if tr := rec.Tasks["accept"]; tr.DurationMS != 31000 || tr.WaitMS != 30000 {
		t.Errorf("history record %+v", tr)
	}
	if got := Estimates([]RunRecord{rec}, "h")["accept"]; got != time.Second {
		t.Errorf("estimate %s, want 1s", got)
	}
}
