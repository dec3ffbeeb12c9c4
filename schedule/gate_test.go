package schedule

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// gateGraph: activate ─▶ g1, g2 (gates) ─▶ accept ─▶ commit; activate
// hands on an Activation whose Rollback counts its calls, unless
// activated is false (nothing to roll back).
//
//	activate ─▶ g1 ─▶ accept ─▶ commit
//	         ─▶ g2 ─▶
func gateGraph(t *testing.T, activated bool, g1, g2 error, rollbacks *atomic.Int32, events *[]Event) *Run {
	t.Helper()
	gate := func(err error) tasks.Task {
		return tasks.Func(func(context.Context, *tasks.Env) error { return err })
	}
	specs := []tasks.Spec{
		{Name: "activate", Critical: true, Task: tasks.Func(func(_ context.Context, env *tasks.Env) error {
			if activated {
				tasks.Activated.Put(env, tasks.Activation{Path: "/new", Generation: 5, Previous: 3,
					Rollback: func(context.Context, *tasks.Env) error { rollbacks.Add(1); return nil }})
			}
			return nil
		})},
		{Name: "g1", Needs: []string{"activate"}, Gate: true, Task: gate(g1)},
		{Name: "g2", Needs: []string{"activate"}, Gate: true, Task: gate(g2)},
		{Name: "accept", Needs: []string{"activate", "g1", "g2"}, Task: ok()},
		{Name: "commit", Needs: []string{"accept"}, Task: ok()},
	}
	g, byName, err := Graph(specs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(g, byName, Options{Jobs: 4, Sink: SinkFunc(func(e Event) {
		if e.Kind == Finish {
			*events = append(*events, e)
		}
	})})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Two gates fail: one rollback, to the generation activate replaced;
// activate ends rolled-back naming the first gate, with a second Finish
// event; accept and commit are skipped for the rollback; exit 1.
func TestFailedGateRollsBackOnce(t *testing.T) {
	var rollbacks atomic.Int32
	var events []Event
	r := gateGraph(t, true, errors.New("port 8080 refused"), errors.New("units failed"), &rollbacks, &events)
	sum := executeWithin(t, r, 5*time.Second)
	if n := rollbacks.Load(); n != 1 {
		t.Errorf("%d rollbacks, want 1", n)
	}
	rb := sum.RolledBack
	if rb == nil || rb.Task != "activate" || rb.To != "generation 3" || (rb.Gate != "g1" && rb.Gate != "g2") {
		t.Fatalf("RolledBack = %+v", rb)
	}
	a := sum.Results["activate"]
	if a.State != RolledBack || !strings.HasPrefix(a.Reason, "gate "+rb.Gate+" failed: ") || !strings.HasSuffix(a.Reason, "; rolled back to generation 3") {
		t.Errorf("activate %s %q", a.State, a.Reason)
	}
	for _, n := range []string{"accept", "commit"} {
		if res := sum.Results[n]; res.State != Skipped || res.Reason != "configuration was rolled back: gate "+rb.Gate+" failed" {
			t.Errorf("%s %s %q", n, res.State, res.Reason)
		}
	}
	if code := sum.ExitCode(false); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	var activateFinishes []State
	for _, e := range events {
		if e.Task == "activate" {
			activateFinishes = append(activateFinishes, e.State)
		}
	}
	if len(activateFinishes) != 2 || activateFinishes[1] != RolledBack {
		t.Errorf("activate's finish events %v, want [succeeded rolled-back]", activateFinishes)
	}
}

// Gates that pass roll nothing back; a failed gate with nothing activated
// in the run (no changes) is an ordinary non-critical failure.
func TestGateWithoutRollback(t *testing.T) {
	for _, c := range []struct {
		name      string
		activated bool
		g1        error
		accept    State
	}{
		{"pass", true, nil, Succeeded},
		{"nothing activated", false, errors.New("refused"), UpstreamFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rollbacks atomic.Int32
			var events []Event
			sum := executeWithin(t, gateGraph(t, c.activated, c.g1, nil, &rollbacks, &events), 5*time.Second)
			if rollbacks.Load() != 0 || sum.RolledBack != nil || sum.Results["activate"].State != Succeeded {
				t.Errorf("rolled back: %d, %+v, activate %s", rollbacks.Load(), sum.RolledBack, sum.Results["activate"].State)
			}
			if s := sum.Results["accept"].State; s != c.accept {
				t.Errorf("accept %s, want %s", s, c.accept)
			}
			if code := sum.ExitCode(false); code != 0 {
				t.Errorf("exit code %d", code)
			}
		})
	}
}
