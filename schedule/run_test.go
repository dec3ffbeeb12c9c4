package schedule

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// recorder is a Sink that keeps every event under a mutex.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Emit(e Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }

func (r *recorder) kinds(task string) []EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []EventKind
	for _, e := range r.events {
		if e.Task == task {
			out = append(out, e.Kind)
		}
	}
	return out
}

// index returns the position of task's first event of kind k, -1 if none.
func (r *recorder) index(task string, k EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, e := range r.events {
		if e.Task == task && e.Kind == k {
			return i
		}
	}
	return -1
}

func ok() tasks.Task { return tasks.Func(func(context.Context, *tasks.Env) error { return nil }) }

func fail(msg string) tasks.Task {
	return tasks.Func(func(context.Context, *tasks.Env) error { return errors.New(msg) })
}

// gate blocks until released or canceled.
type gate chan struct{}

func (g gate) task(started chan<- string, name string) tasks.Task {
	return tasks.Func(func(ctx context.Context, _ *tasks.Env) error {
		if started != nil {
			started <- name
		}
		select {
		case <-g:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

func run(t *testing.T, specs []tasks.Spec, o Options) (*Summary, *recorder) {
	t.Helper()
	g, byName, err := Graph(specs)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	o.Sink = rec
	r, err := New(g, byName, o)
	if err != nil {
		t.Fatal(err)
	}
	return r.Execute(context.Background()), rec
}

func state(s *Summary, name string) State { return s.Results[name].State }

//	a ─▶ b ─▶ d
//	a ─▶ c ─▶ d      e (independent)
//
// b and c run together, and e beside them; d only after both.
func TestDiamondRunsIndependentTasksTogether(t *testing.T) {
	var running, peak atomic.Int32
	both := make(chan struct{})
	var once sync.Once
	var arrived atomic.Int32
	// b, c and e each wait until all three are running: the run would
	// hang (and the test time out) if the scheduler serialised them.
	meet := tasks.Func(func(ctx context.Context, _ *tasks.Env) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if arrived.Add(1) == 3 {
			once.Do(func() { close(both) })
		}
		select {
		case <-both:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Second):
			return errors.New("peers never arrived")
		}
		running.Add(-1)
		return nil
	})
	specs := []tasks.Spec{
		{Name: "a", Task: ok()},
		{Name: "b", Needs: []string{"a"}, Task: meet},
		{Name: "c", Needs: []string{"a"}, Task: meet},
		{Name: "d", Needs: []string{"b", "c"}, Task: ok()},
		{Name: "e", Task: meet},
	}
	sum, rec := run(t, specs, Options{Jobs: 4})
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if state(sum, n) != Succeeded {
			t.Fatalf("%s: %s %s", n, state(sum, n), sum.Results[n].Reason)
		}
	}
	if rec.index("a", Finish) > rec.index("b", Start) || rec.index("a", Finish) > rec.index("c", Start) {
		t.Error("b or c started before a finished")
	}
	if rec.index("b", Finish) > rec.index("d", Start) || rec.index("c", Finish) > rec.index("d", Start) {
		t.Error("d started before b and c finished")
	}
	if peak.Load() != 3 {
		t.Errorf("peak concurrency %d, want 3", peak.Load())
	}
}

func TestNeedsFailurePropagatesAfterDoesNot(t *testing.T) {
	specs := []tasks.Spec{
		{Name: "a", Task: fail("boom")},
		{Name: "b", Needs: []string{"a"}, Task: ok()},
		{Name: "c", Needs: []string{"b"}, Task: ok()},
		{Name: "d", After: []string{"a"}, Task: ok()},
	}
	sum, _ := run(t, specs, Options{Jobs: 2})
	want := map[string]State{"a": Failed, "b": UpstreamFailed, "c": UpstreamFailed, "d": Succeeded}
	for n, s := range want {
		if state(sum, n) != s {
			t.Errorf("%s = %s, want %s", n, state(sum, n), s)
		}
	}
	if r := sum.Results["b"].Reason; r != "needs a, which failed" {
		t.Errorf("b reason %q", r)
	}
	if r := sum.Results["c"].Reason; r != "needs b, which could not run" {
		t.Errorf("c reason %q", r)
	}
	if sum.ExitCode(false) != 0 || sum.ExitCode(true) != 1 {
		t.Errorf("exit %d / strict %d", sum.ExitCode(false), sum.ExitCode(true))
	}
}

func TestDeclinedSkipsNeedsDependents(t *testing.T) {
	specs := []tasks.Spec{
		{Name: "accept", Task: tasks.Func(func(context.Context, *tasks.Env) error { return tasks.Decline("changes rejected") })},
		{Name: "push", Needs: []string{"accept"}, Task: ok()},
		{Name: "report", After: []string{"accept"}, Task: ok()},
	}
	sum, _ := run(t, specs, Options{Jobs: 2})
	if state(sum, "accept") != Declined || state(sum, "push") != Skipped || state(sum, "report") != Succeeded {
		t.Fatalf("states %s %s %s", state(sum, "accept"), state(sum, "push"), state(sum, "report"))
	}
	if sum.Results["push"].Reason != "accept was declined" {
		t.Errorf("reason %q", sum.Results["push"].Reason)
	}
}

// A "no" carries down the needs edges: what needs a task skipped for a
// declined prerequisite is skipped too, with the same reason, while a task
// that only comes after it runs. A task may say what its "no" means for
// the tasks after it (a rolled-back configuration).
func TestDeclinedCarriesDownNeeds(t *testing.T) {
	for _, c := range []struct {
		name    string
		outcome error
		reason  string
	}{
		{"default reason", tasks.Decline("not activated"), "activate was declined"},
		{"carried reason", &tasks.Outcome{Kind: tasks.Declined, Reason: "changes rejected; rolled back", Carry: "configuration was rolled back"},
			"configuration was rolled back"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ran := make(chan string, 8)
			okNamed := func(name string) tasks.Task {
				return tasks.Func(func(context.Context, *tasks.Env) error { ran <- name; return nil })
			}
			specs := []tasks.Spec{
				{Name: "activate", Task: tasks.Func(func(context.Context, *tasks.Env) error { return c.outcome })},
				{Name: "accept", Needs: []string{"activate"}, Task: okNamed("accept")},
				{Name: "generations", Needs: []string{"accept"}, Task: okNamed("generations")},
				{Name: "commit", Needs: []string{"accept"}, Task: okNamed("commit")},
				{Name: "push", Needs: []string{"commit"}, Task: okNamed("push")},
				{Name: "sessions", After: []string{"commit"}, Task: okNamed("sessions")},
				{Name: "skipper", Task: tasks.Func(func(context.Context, *tasks.Env) error { return tasks.Skip("nothing to do") })},
				{Name: "after-skip", Needs: []string{"skipper"}, Task: okNamed("after-skip")},
			}
			sum, _ := run(t, specs, Options{Jobs: 2})
			close(ran)
			var got []string
			for n := range ran {
				got = append(got, n)
			}
			slices.Sort(got)
			if !slices.Equal(got, []string{"after-skip", "sessions"}) {
				t.Errorf("ran %v, want only after-skip and sessions", got)
			}
			if state(sum, "activate") != Declined {
				t.Errorf("activate %s", state(sum, "activate"))
			}
			for _, n := range []string{"accept", "generations", "commit", "push"} {
				if r := sum.Results[n]; r.State != Skipped || r.Reason != c.reason {
					t.Errorf("%s %s (%q), want skipped (%q)", n, r.State, r.Reason, c.reason)
				}
			}
			if r := sum.Results["after-skip"]; r.State != Succeeded || r.Carry != "" {
				t.Errorf("after a plain skip: %s, carry %q", r.State, r.Carry)
			}
		})
	}
}

func TestDisabledAndSkippedCountAsDone(t *testing.T) {
	specs := []tasks.Spec{
		{Name: "a", Disabled: true},
		{Name: "b", Task: tasks.Func(func(context.Context, *tasks.Env) error { return tasks.Skip("nothing to do") })},
		{Name: "c", Needs: []string{"a", "b"}, Task: ok()},
	}
	sum, _ := run(t, specs, Options{Jobs: 1})
	if state(sum, "a") != Skipped || sum.Results["a"].Reason != "disabled" || state(sum, "b") != Skipped || state(sum, "c") != Succeeded {
		t.Fatalf("%+v %+v %+v", sum.Results["a"], sum.Results["b"], sum.Results["c"])
	}
}

func TestCriticalFailureAborts(t *testing.T) {
	g := make(gate)
	started := make(chan string, 4)
	specs := []tasks.Spec{
		{Name: "slow", Task: g.task(started, "slow")},
		{Name: "build", Critical: true, Task: tasks.Func(func(ctx context.Context, env *tasks.Env) error {
			<-started // slow is running
			fmt.Fprintln(env.Log, "error: builder for foo failed")
			return errors.New("nix build failed")
		})},
		{Name: "activate", Needs: []string{"build"}, Task: ok()},
		{Name: "later", After: []string{"slow"}, Task: ok()},
	}
	sum, _ := run(t, specs, Options{Jobs: 4})
	if sum.FailedCritical != "build" || sum.ExitCode(false) != 1 {
		t.Fatalf("failed critical %q exit %d", sum.FailedCritical, sum.ExitCode(false))
	}
	if state(sum, "slow") != Canceled || state(sum, "later") != Canceled {
		t.Errorf("slow %s later %s", state(sum, "slow"), state(sum, "later"))
	}
	if state(sum, "activate") != UpstreamFailed && state(sum, "activate") != Canceled {
		t.Errorf("activate %s", state(sum, "activate"))
	}
	tail := sum.Results["build"].Tail
	if len(tail) == 0 || tail[0] != "error: builder for foo failed" {
		t.Errorf("tail %q", tail)
	}
}

func TestPanicFailsOnlyThatTask(t *testing.T) {
	specs := []tasks.Spec{
		{Name: "crash", Task: tasks.Func(func(context.Context, *tasks.Env) error { panic("kaboom") })},
		{Name: "fine", Task: ok()},
	}
	sum, _ := run(t, specs, Options{Jobs: 2})
	if state(sum, "crash") != Failed || sum.Results["crash"].Reason != "panic: kaboom" || state(sum, "fine") != Succeeded {
		t.Fatalf("%+v %+v", sum.Results["crash"], sum.Results["fine"])
	}
	// The stack is in the log, and the last line says what happened.
	tail := sum.Results["crash"].Tail
	stack := false
	for _, l := range tail {
		if strings.Contains(l, "TestPanicFailsOnlyThatTask") {
			stack = true
		}
	}
	if !stack || tail[len(tail)-1] != "crash failed: panic: kaboom" {
		t.Errorf("log tail: %q", tail)
	}
}

func TestTimeout(t *testing.T) {
	specs := []tasks.Spec{{Name: "hang", Timeout: 50 * time.Millisecond, Task: make(gate).task(nil, "hang")}}
	sum, _ := run(t, specs, Options{Jobs: 1})
	if r := sum.Results["hang"]; r.State != Failed || r.Reason != "timed out after 50ms" {
		t.Fatalf("%+v", r)
	}
}

// With one slot, the task with the longest remaining path goes first, so
// the critical chain never waits behind read-only work.
func TestCriticalChainFirstWithOneSlot(t *testing.T) {
	var mu sync.Mutex
	var order []string
	rec := func(name string) tasks.Task {
		return tasks.Func(func(context.Context, *tasks.Env) error {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			return nil
		})
	}
	specs := []tasks.Spec{
		{Name: "flake-update", Phase: 1, Estimate: 10 * time.Second, Task: rec("flake-update")},
		{Name: "build", Phase: 2, Needs: []string{"flake-update"}, Estimate: 600 * time.Second, Task: rec("build")},
		{Name: "activate", Phase: 3, Needs: []string{"build"}, Estimate: 30 * time.Second, Task: rec("activate")},
	}
	for i := 0; i < 5; i++ {
		n := fmt.Sprintf("learn-%d", i)
		specs = append(specs, tasks.Spec{Name: n, Phase: 7, Estimate: 20 * time.Second, Task: rec(n)})
	}
	run(t, specs, Options{Jobs: 1})
	if fmt.Sprint(order[:3]) != "[flake-update build activate]" {
		t.Errorf("order %v", order)
	}
}

// Interactive user tasks (their command is attached to the terminal) get
// the terminal lowest phase first, one at a time.
func TestTTYGrantedInPhaseOrder(t *testing.T) {
	var mu sync.Mutex
	var order []string
	var holders atomic.Int32
	ask := func(name string) tasks.Task {
		return tasks.Func(func(context.Context, *tasks.Env) error {
			if holders.Add(1) != 1 {
				return errors.New("two tty holders")
			}
			time.Sleep(time.Millisecond)
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			holders.Add(-1)
			return nil
		})
	}
	specs := []tasks.Spec{
		{Name: "push", Phase: 14, Interactive: true, User: true, Task: ask("push")},
		{Name: "caches", Phase: 11, Interactive: true, User: true, Task: ask("caches")},
		{Name: "backups", Phase: 13, Interactive: true, User: true, Task: ask("backups")},
		{Name: "accept", Phase: 8, Interactive: true, User: true, Task: ask("accept")},
	}
	sum, _ := run(t, specs, Options{Jobs: 4})
	for n, r := range sum.Results {
		if r.State != Succeeded {
			t.Fatalf("%s: %s %s", n, r.State, r.Reason)
		}
	}
	if fmt.Sprint(order) != "[accept caches backups push]" {
		t.Errorf("order %v", order)
	}
}

func TestValuesHandedOn(t *testing.T) {
	var got any
	out := tasks.NewKey[string]("build", "out")
	specs := []tasks.Spec{
		{Name: "build", Task: tasks.Func(func(_ context.Context, env *tasks.Env) error {
			out.Put(env, "/nix/store/abc-nixos-system")
			return nil
		})},
		{Name: "activate", Needs: []string{"build"}, Task: tasks.Func(func(_ context.Context, env *tasks.Env) error {
			got, _ = out.Get(env)
			return nil
		})},
	}
	run(t, specs, Options{Jobs: 2})
	if got != "/nix/store/abc-nixos-system" {
		t.Errorf("got %v", got)
	}
}

// heldInterrupt runs activate (which holds interrupts back until g is
// closed) and after (which needs it), plus more specs, and interrupts once
// activate runs; it returns when the notice says the interrupt was held
// back, with the run's Summary to come on done.
func heldInterrupt(t *testing.T, g gate, more ...tasks.Spec) (r *Run, done <-chan *Summary) {
	t.Helper()
	started := make(chan string, 1)
	specs := append([]tasks.Spec{
		{Name: "activate", HoldInterrupt: true, Task: g.task(started, "activate")},
		{Name: "after", Needs: []string{"activate"}, Task: ok()},
	}, more...)
	graph, byName, err := Graph(specs)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	r, _ = New(graph, byName, Options{Jobs: 3, Sink: rec})
	out := make(chan *Summary, 1)
	go func() { out <- r.Execute(context.Background()) }()
	<-started
	r.Interrupt()
	// The notice proves the first interrupt was seen and held back.
	for rec.index("activate", Notice) < 0 {
		time.Sleep(time.Millisecond)
	}
	return r, out
}

func TestInterruptHeldBackDuringActivation(t *testing.T) {
	r, done := heldInterrupt(t, make(gate))
	r.Interrupt()
	sum := <-done
	if !sum.Interrupted || sum.ExitCode(false) != 130 {
		t.Fatalf("interrupted %v exit %d", sum.Interrupted, sum.ExitCode(false))
	}
	if state(sum, "activate") != Canceled || state(sum, "after") != Canceled {
		t.Errorf("activate %s after %s", state(sum, "activate"), state(sum, "after"))
	}
}

// The first interrupt during activation is held back, not forgotten: once
// activation is over the run stops, as the person asked, instead of going
// on to the gates, accept and push.
func TestInterruptHeldBackStopsAfterActivation(t *testing.T) {
	g := make(gate)
	_, done := heldInterrupt(t, g, tasks.Spec{Name: "beside", Task: g.task(nil, "beside")})
	close(g) // activation ends well
	sum := <-done
	if !sum.Interrupted || sum.ExitCode(false) != 130 {
		t.Fatalf("interrupted %v exit %d: the held interrupt was forgotten", sum.Interrupted, sum.ExitCode(false))
	}
	if state(sum, "activate") != Succeeded || state(sum, "after") != Canceled {
		t.Errorf("activate %s after %s", state(sum, "activate"), state(sum, "after"))
	}
}

func TestContextCancelInterrupts(t *testing.T) {
	started := make(chan string, 1)
	specs := []tasks.Spec{{Name: "long", Task: make(gate).task(started, "long")}}
	graph, byName, _ := Graph(specs)
	r, _ := New(graph, byName, Options{Jobs: 1})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	sum := r.Execute(ctx)
	if sum.ExitCode(false) != 130 || state(sum, "long") != Canceled {
		t.Fatalf("exit %d state %s", sum.ExitCode(false), state(sum, "long"))
	}
}

func TestDryRunRunsOnlyDryRunTasks(t *testing.T) {
	var ran []string
	var mu sync.Mutex
	mark := func(n string) tasks.Task {
		return tasks.Func(func(_ context.Context, env *tasks.Env) error {
			mu.Lock()
			ran = append(ran, n)
			mu.Unlock()
			if !env.DryRun {
				return errors.New("not a dry run")
			}
			return nil
		})
	}
	specs := []tasks.Spec{
		{Name: "build", Task: mark("build")},
		{Name: "caches", DryRun: true, Needs: []string{"build"}, Task: mark("caches")},
	}
	sum, _ := run(t, specs, Options{Jobs: 2, DryRun: true})
	if fmt.Sprint(ran) != "[caches]" || sum.Results["build"].Reason != "dry run" || state(sum, "caches") != Succeeded {
		t.Fatalf("ran %v, build %+v", ran, sum.Results["build"])
	}
}

// Property test over random graphs: every task runs at most once, never
// before its edges are satisfied, never more than Jobs at once, never two
// holders of one resource; needs failures propagate, after ones do not.
func TestRandomGraphsProperties(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			checkRandomGraph(t, seed)
		})
	}
}

func checkRandomGraph(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	n := 5 + rng.IntN(40)
	jobs := 1 + rng.IntN(5)
	w := &watch{jobs: jobs, runs: map[string]int{}, finished: map[string]bool{}, holders: map[string]string{}}
	specs := make([]tasks.Spec, n)
	willFail := map[string]bool{}
	for i := range specs {
		specs[i] = randomSpec(rng, i)
		willFail[specs[i].Name] = rng.IntN(6) == 0
		specs[i].Task = w.task(seed, specs[i], willFail[specs[i].Name])
	}
	graph, byName, err := Graph(specs)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := New(graph, byName, Options{Jobs: jobs, Sink: SinkFunc(func(e Event) {
		if e.Kind == Finish {
			w.mu.Lock()
			w.finished[e.Task] = true
			w.mu.Unlock()
		}
	})})
	sum := r.Execute(context.Background())
	for _, p := range w.problems {
		t.Error(p)
	}
	for name, c := range w.runs {
		if c > 1 {
			t.Errorf("%s ran %d times", name, c)
		}
	}
	// Expected states, computed independently in topological order.
	want := map[string]State{}
	for _, name := range graph.Order() {
		st := Succeeded
		if willFail[name] {
			st = Failed
		}
		for _, p := range byName[name].Needs {
			if want[p] == Failed || want[p] == UpstreamFailed {
				st = UpstreamFailed
			}
		}
		want[name] = st
		if got := sum.Results[name].State; got != st {
			t.Errorf("%s = %s, want %s (%s)", name, got, st, sum.Results[name].Reason)
		}
		if (st == Succeeded || st == Failed) != (w.runs[name] == 1) {
			t.Errorf("%s ran %d times in state %s", name, w.runs[name], st)
		}
	}
}

// randomSpec is task i of a random graph: edges to earlier tasks only (so
// no cycle), sometimes a resource, sometimes interactive. Its Task is set
// by the caller.
func randomSpec(rng *rand.Rand, i int) tasks.Spec {
	resources := []string{"tty", "claude-md", "x"}
	sp := tasks.Spec{Name: fmt.Sprintf("t%02d", i), Phase: rng.IntN(15)}
	for j := 0; j < i; j++ {
		switch rng.IntN(10) {
		case 0:
			sp.Needs = append(sp.Needs, fmt.Sprintf("t%02d", j))
		case 1:
			sp.After = append(sp.After, fmt.Sprintf("t%02d", j))
		}
	}
	if rng.IntN(4) == 0 {
		sp.Resources = []string{resources[rng.IntN(len(resources))]}
	}
	sp.Interactive = rng.IntN(8) == 0
	return sp
}

// watch is what the tasks of a random graph see of each other: who runs,
// who finished, who holds which resource; every broken rule is a problem.
type watch struct {
	mu       sync.Mutex
	jobs     int
	runs     map[string]int
	finished map[string]bool
	active   int
	holders  map[string]string
	problems []string
}

// task runs sp under watch for a while, then fails if it must.
func (w *watch) task(seed uint64, sp tasks.Spec, fails bool) tasks.Task {
	prereqs := append(append([]string(nil), sp.Needs...), sp.After...)
	res := sp.AllResources()
	return tasks.Func(func(context.Context, *tasks.Env) error {
		w.enter(sp.Name, prereqs, res)
		time.Sleep(time.Duration(rng2(seed, sp.Name)) * time.Microsecond)
		w.leave(sp.Name, res)
		if fails {
			return errors.New("planned failure")
		}
		return nil
	})
}

func (w *watch) enter(name string, prereqs, res []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.runs[name]++
	w.active++
	if w.active > w.jobs {
		w.problems = append(w.problems, fmt.Sprintf("%d running > jobs %d", w.active, w.jobs))
	}
	for _, p := range prereqs {
		if !w.finished[p] {
			w.problems = append(w.problems, fmt.Sprintf("%s started before %s finished", name, p))
		}
	}
	for _, r := range res {
		if h, ok := w.holders[r]; ok {
			w.problems = append(w.problems, fmt.Sprintf("%s and %s both hold %s", h, name, r))
		}
		w.holders[r] = name
	}
}

func (w *watch) leave(name string, res []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range res {
		delete(w.holders, r)
	}
	w.active--
	w.finished[name] = true
}

func rng2(seed uint64, name string) int {
	h := seed
	for _, c := range name {
		h = h*31 + uint64(c)
	}
	return int(h % 500)
}

// An interactive user task announces that it took the terminal (so renderers
// stop drawing) only when there is a terminal to take.
func TestPromptEventOnlyWithTerminal(t *testing.T) {
	specs := []tasks.Spec{{Name: "ask", Interactive: true, User: true, Task: ok()}}
	_, rec := run(t, specs, Options{Jobs: 1})
	if rec.index("ask", Prompt) >= 0 || rec.index("ask", Release) >= 0 {
		t.Errorf("prompt/release without a terminal: %v", rec.kinds("ask"))
	}
	withTerminal := func(env *tasks.Env, tty bool) {
		if tty {
			env.Terminal = &proc.Terminal{}
		}
	}
	_, rec = run(t, specs, Options{Jobs: 1, Env: withTerminal})
	if p, s, r := rec.index("ask", Prompt), rec.index("ask", Start), rec.index("ask", Release); p < s || r < p {
		t.Errorf("with a terminal: %v", rec.kinds("ask"))
	}
}

// Every status line becomes an event, however close together: the newest
// one must reach the renderers, which rate-limit where they draw.
func TestEveryStatusLineIsAnEvent(t *testing.T) {
	specs := []tasks.Spec{{Name: "build", Task: tasks.Func(func(_ context.Context, env *tasks.Env) error {
		env.Status("evaluating")
		env.Status("building firefox-133.0")
		return nil
	})}}
	_, rec := run(t, specs, Options{Jobs: 1})
	var got []string
	for _, e := range rec.events {
		if e.Kind == Status {
			if e.Task != "build" || e.State != Running {
				t.Errorf("status event %+v", e)
			}
			got = append(got, e.Status)
		}
	}
	if fmt.Sprint(got) != "[evaluating building firefox-133.0]" {
		t.Errorf("status events %q, want both lines in order", got)
	}
}
