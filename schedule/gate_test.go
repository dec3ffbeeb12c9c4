package schedule

import (
	"context"
	"errors"
	"io"
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

// In a run with hosts, a failed gate rolls back its own host's activation
// (the one its Env reads, activate@web2's), and a gate of another host
// rolls back that host's: one host's rollback never stands for another's.
// (Unit-level: this branch's dag does not take the NAME@HOST names yet.)
func TestGateRollbackIsPerHost(t *testing.T) {
	vals := tasks.NewValues()
	rolled := map[string]int{}
	for _, h := range []string{"web1", "web2"} {
		tasks.Activated.Put(tasks.NewEnv("activate@"+h, nil, vals), tasks.Activation{Path: "/new-" + h, Generation: 5, Previous: 3,
			Rollback: func(context.Context, *tasks.Env) error { rolled[h]++; return nil }})
	}
	var events []Event
	r := &Run{opts: Options{Sink: SinkFunc(func(e Event) { events = append(events, e) }), Now: time.Now}, rolledBack: map[string]*GateRollback{},
		specs: map[string]tasks.Spec{}}
	w := &walker{r: r, sum: &Summary{Results: map[string]*Result{}}, rollbacks: map[string]*GateRollback{}}
	fail := func(gate, host string) *Result {
		tk := &task{name: gate, spec: &tasks.Spec{Name: gate, Host: host, Gate: true}}
		res := &Result{Name: gate, State: Failed, Reason: gate + " failed"}
		r.gateFailed(context.Background(), tk, tasks.NewEnv(gate, nil, vals), res, io.Discard)
		return res
	}
	for _, h := range []string{"web1", "web2"} {
		name := "activate@" + h
		res := &Result{Name: name, Host: h, State: Succeeded}
		w.tasks = append(w.tasks, task{name: name, spec: &tasks.Spec{Name: name, Host: h}, res: res})
		w.sum.Results[name] = res
	}
	g2 := fail("health@web2", "web2")
	if g2.Rollback == nil || g2.Rollback.Task != "activate@web2" || rolled["web2"] != 1 || rolled["web1"] != 0 {
		t.Fatalf("web2's gate: rollback %+v, rolled %v", g2.Rollback, rolled)
	}
	w.rolledBack(g2.Rollback)
	again := fail("ports@web2", "web2")
	if again.Rollback != nil || rolled["web2"] != 1 || again.Carry != "configuration was rolled back: gate health@web2 failed" {
		t.Errorf("web2's second gate: rollback %+v, rolled %v, carry %q", again.Rollback, rolled, again.Carry)
	}
	g1 := fail("health@web1", "web1")
	if g1.Rollback == nil || g1.Rollback.Task != "activate@web1" || rolled["web1"] != 1 {
		t.Fatalf("web1's gate after web2's rollback: rollback %+v, rolled %v", g1.Rollback, rolled)
	}
	w.rolledBack(g1.Rollback)
	for _, h := range []string{"web1", "web2"} {
		if s := w.sum.Results["activate@"+h].State; s != RolledBack {
			t.Errorf("activate@%s %s, want rolled-back", h, s)
		}
	}
	if w.sum.RolledBack != g2.Rollback {
		t.Errorf("the summary's rollback is %+v, want the run's first (web2's)", w.sum.RolledBack)
	}
	if len(events) != 2 || events[0].Task != "activate@web2" || events[1].Task != "activate@web1" {
		t.Errorf("events %+v", events)
	}
}
