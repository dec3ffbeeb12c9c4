package schedule

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// executeWithin runs r and fails the test if it does not return in time.
func executeWithin(t *testing.T, r *Run, d time.Duration) *Summary {
	t.Helper()
	done := make(chan *Summary, 1)
	go func() { done <- r.Execute(context.Background()) }()
	select {
	case s := <-done:
		return s
	case <-time.After(d):
		t.Fatal("Execute did not return: the walker is stuck")
		return nil
	}
}

// A renderer bug must not wedge the run (holding the lock, with commands
// running) nor take the process down: a panicking Sink loses its event.
func TestSinkPanicDoesNotHangTheRun(t *testing.T) {
	for _, kind := range []EventKind{Start, Finish, Status} {
		t.Run(string(kind), func(t *testing.T) {
			specs := []tasks.Spec{
				{Name: "a", Task: tasks.Func(func(ctx context.Context, env *tasks.Env) error {
					env.Status("working")
					return nil
				})},
				{Name: "b", Needs: []string{"a"}, Task: ok()},
			}
			g, byName, err := Graph(specs)
			if err != nil {
				t.Fatal(err)
			}
			r, err := New(g, byName, Options{Jobs: 2, Sink: SinkFunc(func(e Event) {
				if e.Kind == kind && e.Task == "a" {
					panic("renderer bug")
				}
			})})
			if err != nil {
				t.Fatal(err)
			}
			sum := executeWithin(t, r, 5*time.Second)
			if state(sum, "a") != Succeeded || state(sum, "b") != Succeeded {
				t.Errorf("a %s b %s", state(sum, "a"), state(sum, "b"))
			}
		})
	}
}

// A task that timed out is failed by its timeout, even when an abort
// comes while it is still winding down.
func TestTimeoutThenAbortStaysTimedOut(t *testing.T) {
	timedOut := make(chan struct{})
	aborted := make(chan struct{})
	specs := []tasks.Spec{
		{Name: "slow", Timeout: 20 * time.Millisecond, Task: tasks.Func(func(ctx context.Context, _ *tasks.Env) error {
			<-ctx.Done()
			close(timedOut)
			<-aborted // still stopping its command when the abort comes
			return ctx.Err()
		})},
		{Name: "build", Critical: true, Task: tasks.Func(func(context.Context, *tasks.Env) error {
			<-timedOut
			return errors.New("build failed")
		})},
	}
	g, byName, _ := Graph(specs)
	r, _ := New(g, byName, Options{Jobs: 2, Sink: SinkFunc(func(e Event) {
		if e.Kind == Finish && e.Task == "build" {
			close(aborted)
		}
	})})
	sum := executeWithin(t, r, 5*time.Second)
	if res := sum.Results["slow"]; res.State != Failed || res.Reason != "timed out after 20ms" {
		t.Errorf("slow: %s (%s), want failed (timed out after 20ms)", res.State, res.Reason)
	}
	if sum.FailedCritical != "build" {
		t.Errorf("failed critical %q", sum.FailedCritical)
	}
}

// After a critical failure, the tasks that need the failed one are
// upstream-failed (the root cause is elsewhere), not canceled; tasks that
// could have run are canceled.
func TestCriticalFailureDependentsAreUpstreamFailed(t *testing.T) {
	specs := []tasks.Spec{
		{Name: "build", Critical: true, Task: fail("nix build failed")},
		{Name: "activate", Needs: []string{"build"}, Task: ok()},
		{Name: "claude-config", Needs: []string{"activate"}, Task: ok()},
		{Name: "report", After: []string{"build"}, Task: ok()},
	}
	sum, _ := run(t, specs, Options{Jobs: 1})
	for name, want := range map[string]State{"build": Failed, "activate": UpstreamFailed,
		"claude-config": UpstreamFailed, "report": Canceled} {
		if got := state(sum, name); got != want {
			t.Errorf("%s = %s (%s), want %s", name, got, sum.Results[name].Reason, want)
		}
	}
	if sum.ExitCode(false) != 1 {
		t.Errorf("exit %d", sum.ExitCode(false))
	}
}
