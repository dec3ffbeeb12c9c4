package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// hostWatch records which hosts have a task running, and the most hosts
// seen running at once.
type hostWatch struct {
	mu      sync.Mutex
	running map[string]int // host → its tasks running
	peak    int
	order   []string // "start NAME", "end NAME"
}

func (w *hostWatch) task(host string, body func(context.Context) error) tasks.Task {
	return tasks.Func(func(ctx context.Context, env *tasks.Env) error {
		w.mu.Lock()
		if w.running == nil {
			w.running = map[string]int{}
		}
		w.running[host]++
		w.peak = max(w.peak, len(w.running))
		w.order = append(w.order, "start "+env.Name)
		w.mu.Unlock()
		defer func() {
			w.mu.Lock()
			if w.running[host]--; w.running[host] == 0 {
				delete(w.running, host)
			}
			w.order = append(w.order, "end "+env.Name)
			w.mu.Unlock()
		}()
		if body == nil {
			time.Sleep(2 * time.Millisecond)
			return nil
		}
		return body(ctx)
	})
}

// meet returns a body that returns once n tasks are in it at once; a run
// that serialised them would never get there (and fail after a while).
func meet(n int) func(context.Context) error {
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	return func(ctx context.Context) error {
		mu.Lock()
		if arrived++; arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return errors.New("the others never came")
		}
	}
}

// Per host h (six of them):  build@h ─▶ diff@h, build@h ─▶ activate@h,
// and report, of the whole run, after every activate. With two hosts at
// a time, never more than two hosts have tasks running, two do run side
// by side, and one host's diff and activate run together.
func TestParallelHostsBound(t *testing.T) {
	for _, limit := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			w := &hostWatch{}
			hosts := []string{"h1", "h2", "h3", "h4", "h5", "h6"}
			var specs []tasks.Spec
			var acts []string
			for _, h := range hosts {
				together := meet(2) // diff@h and activate@h meet: not serialised
				specs = append(specs,
					tasks.Spec{Name: "build@" + h, Host: h, Task: w.task(h, nil)},
					tasks.Spec{Name: "diff@" + h, Host: h, Needs: []string{"build@" + h}, Task: w.task(h, together)},
					tasks.Spec{Name: "activate@" + h, Host: h, Needs: []string{"build@" + h}, Task: w.task(h, together)},
				)
				acts = append(acts, "activate@"+h)
			}
			specs = append(specs, tasks.Spec{Name: "report", Needs: acts, Task: ok()})
			sum, _ := run(t, specs, Options{Jobs: 8, ParallelHosts: limit})
			if code := sum.ExitCode(true); code != 0 {
				for n, r := range sum.Results {
					t.Logf("%s: %s %s", n, r.State, r.Reason)
				}
				t.Fatalf("exit %d", code)
			}
			if w.peak > limit {
				t.Errorf("%d hosts ran at once, the bound is %d:\n%v", w.peak, limit, w.order)
			}
			if w.peak < limit {
				t.Errorf("at most %d hosts ran at once, with room for %d and 8 jobs", w.peak, limit)
			}
		})
	}
}

// Without a bound (0), or with hosts to spare, every host runs at once:
// six builds meet.
func TestParallelHostsUnbounded(t *testing.T) {
	for _, limit := range []int{0, 6, 10} {
		all := meet(6)
		w := &hostWatch{}
		var specs []tasks.Spec
		for i := range 6 {
			h := fmt.Sprintf("h%d", i)
			specs = append(specs, tasks.Spec{Name: "build@" + h, Host: h, Task: w.task(h, all)})
		}
		sum, _ := run(t, specs, Options{Jobs: 6, ParallelHosts: limit})
		if sum.ExitCode(true) != 0 || w.peak != 6 {
			t.Errorf("limit %d: exit %d, peak %d", limit, sum.ExitCode(true), w.peak)
		}
	}
}

// A host whose next task waits for another host gives its place up, so
// a bound of one cannot hang a run whose hosts wait for each other (a
// one-by-one rollout):
//
//	build@a ─▶ activate@a ◀─ gate@b ◀─ activate@b ◀─ build@b
//
// build@a goes first (its chain is the longest); then a waits for b.
func TestParallelHostsWaitingHostGivesUp(t *testing.T) {
	w := &hostWatch{}
	specs := []tasks.Spec{
		{Name: "build@a", Host: "a", Estimate: time.Hour, Task: w.task("a", nil)},
		{Name: "build@b", Host: "b", Task: w.task("b", nil)},
		{Name: "activate@b", Host: "b", Needs: []string{"build@b"}, Task: w.task("b", nil)},
		{Name: "gate@b", Host: "b", Needs: []string{"activate@b"}, Task: w.task("b", nil)},
		{Name: "activate@a", Host: "a", Needs: []string{"build@a", "gate@b"}, Task: w.task("a", nil)},
	}
	done := make(chan *Summary, 1)
	go func() {
		sum, _ := run(t, specs, Options{Jobs: 4, ParallelHosts: 1})
		done <- sum
	}()
	select {
	case sum := <-done:
		if sum.ExitCode(true) != 0 || w.peak != 1 {
			t.Errorf("exit %d, peak %d: %v", sum.ExitCode(true), w.peak, w.order)
		}
		if w.order[0] != "start build@a" {
			t.Errorf("order %v", w.order)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run hung")
	}
}

// A host's next task, runnable the moment its task ends, keeps the
// host's place: with a bound of one, each host's chain runs to its end
// before the next host starts.
func TestParallelHostsChainKeepsItsPlace(t *testing.T) {
	w := &hostWatch{}
	var specs []tasks.Spec
	for _, h := range []string{"a", "b", "c"} {
		specs = append(specs,
			tasks.Spec{Name: "build@" + h, Host: h, Task: w.task(h, nil)},
			tasks.Spec{Name: "copy@" + h, Host: h, Needs: []string{"build@" + h}, Task: w.task(h, nil)},
			tasks.Spec{Name: "activate@" + h, Host: h, Needs: []string{"copy@" + h}, Task: w.task(h, nil)},
		)
	}
	sum, _ := run(t, specs, Options{Jobs: 4, ParallelHosts: 1})
	if sum.ExitCode(true) != 0 {
		t.Fatal("run failed")
	}
	seen := map[string]bool{}
	last := ""
	for _, ev := range w.order {
		var kind, name string
		fmt.Sscan(ev, &kind, &name)
		_, host := tasks.SplitHost(name)
		if host != last {
			if seen[host] {
				t.Fatalf("host %s came back after another one started: %v", host, w.order)
			}
			seen[host], last = true, host
		}
	}
}

// Per host h of a, b, c:  build@h ─▶ activate@h ─▶ health@h (gate) ─▶
// accept@h, and commit after every accept. The gates of a and b fail:
// each rolls back its own host's activation, once; c stays; what needs a
// rolled-back host is skipped for it, and commit with it.
func TestGatesRollBackTheirOwnHost(t *testing.T) {
	rollbacks := map[string]*int{"a": new(int), "b": new(int), "c": new(int)}
	var mu sync.Mutex
	var specs []tasks.Spec
	var accepts []string
	for _, h := range []string{"a", "b", "c"} {
		fails := h != "c"
		specs = append(specs,
			tasks.Spec{Name: "build@" + h, Host: h, Critical: true, Task: ok()},
			tasks.Spec{Name: "activate@" + h, Host: h, Critical: true, Needs: []string{"build@" + h},
				Task: tasks.Func(func(_ context.Context, env *tasks.Env) error {
					tasks.Activated.Put(env, tasks.Activation{Path: "/new/" + h, Generation: 5, Previous: 4,
						Rollback: func(context.Context, *tasks.Env) error { mu.Lock(); *rollbacks[h]++; mu.Unlock(); return nil }})
					return nil
				})},
			tasks.Spec{Name: "health@" + h, Host: h, Gate: true, Needs: []string{"activate@" + h},
				Task: tasks.Func(func(context.Context, *tasks.Env) error {
					if fails {
						return errors.New("unit failed on " + h)
					}
					return nil
				})},
			tasks.Spec{Name: "smoke@" + h, Host: h, Gate: true, Needs: []string{"activate@" + h},
				Task: tasks.Func(func(context.Context, *tasks.Env) error {
					if fails {
						return errors.New("port closed on " + h)
					}
					return nil
				})},
			tasks.Spec{Name: "accept@" + h, Host: h, Needs: []string{"activate@" + h, "health@" + h, "smoke@" + h}, Task: ok()},
		)
		accepts = append(accepts, "accept@"+h)
	}
	specs = append(specs, tasks.Spec{Name: "commit", Needs: accepts, Task: ok()})
	g, byName, err := Graph(specs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(g, byName, Options{Jobs: 8})
	if err != nil {
		t.Fatal(err)
	}
	sum := executeWithin(t, r, 10*time.Second)
	for h, want := range map[string]int{"a": 1, "b": 1, "c": 0} {
		if *rollbacks[h] != want {
			t.Errorf("host %s rolled back %d times, want %d", h, *rollbacks[h], want)
		}
	}
	for _, h := range []string{"a", "b"} {
		act := sum.Results["activate@"+h]
		if act.State != RolledBack || !strings.Contains(act.Reason, "@"+h+" failed") {
			t.Errorf("activate@%s: %s %q", h, act.State, act.Reason)
		}
		acc := sum.Results["accept@"+h]
		if acc.State != Skipped || !strings.HasPrefix(acc.Reason, "configuration was rolled back: gate ") || !strings.HasSuffix(acc.Reason, "@"+h+" failed") {
			t.Errorf("accept@%s: %s %q", h, acc.State, acc.Reason)
		}
	}
	if s := sum.Results["activate@c"].State; s != Succeeded || sum.Results["accept@c"].State != Succeeded {
		t.Errorf("host c: activate %s, accept %s", s, sum.Results["accept@c"].State)
	}
	if sum.RolledBack == nil || sum.ExitCode(false) != 1 || sum.Results["commit"].State != Skipped {
		t.Errorf("rolled back %+v, exit %d, commit %s", sum.RolledBack, sum.ExitCode(false), sum.Results["commit"].State)
	}
}

// A host's critical task that fails stops that host, not the run: the
// other hosts go on, the run exits 1 naming it. A critical task of the
// whole run still aborts it.
func TestHostFailureStopsOnlyItsHost(t *testing.T) {
	specs := []tasks.Spec{
		{Name: "update", Critical: true, Task: ok()},
		{Name: "build@a", Host: "a", Critical: true, Needs: []string{"update"}, Task: fail("eval error")},
		{Name: "build@b", Host: "b", Critical: true, Needs: []string{"update"}, Task: ok()},
		{Name: "activate@a", Host: "a", Critical: true, Needs: []string{"build@a"}, Task: ok()},
		{Name: "activate@b", Host: "b", Critical: true, Needs: []string{"build@b"}, Task: ok()},
		{Name: "report", After: []string{"activate@a", "activate@b"}, Task: ok()},
	}
	sum, _ := run(t, specs, Options{Jobs: 1})
	for name, want := range map[string]State{
		"build@a": Failed, "activate@a": UpstreamFailed, "build@b": Succeeded, "activate@b": Succeeded, "report": Succeeded,
	} {
		if got := state(sum, name); got != want {
			t.Errorf("%s: %s, want %s (%s)", name, got, want, sum.Results[name].Reason)
		}
	}
	if sum.FailedCritical != "" || len(sum.FailedHosts) != 1 || sum.FailedHosts[0] != "build@a" || sum.ExitCode(false) != 1 {
		t.Errorf("FailedCritical %q, FailedHosts %v, exit %d", sum.FailedCritical, sum.FailedHosts, sum.ExitCode(false))
	}

	specs[0].Task = fail("no network")
	sum, _ = run(t, specs, Options{Jobs: 1})
	if sum.FailedCritical != "update" || state(sum, "build@b") != Canceled && state(sum, "build@b") != UpstreamFailed {
		t.Errorf("update failing: FailedCritical %q, build@b %s", sum.FailedCritical, state(sum, "build@b"))
	}
}
