package schedule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/panics"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// LogOpener opens a task's log: a writer and the path shown to the user.
type LogOpener func(task string) (io.WriteCloser, string, error)

// Options configure a Run. Everything the tasks touch comes in here.
type Options struct {
	// Jobs is the number of concurrency slots (at least 1).
	Jobs int
	// Now is the clock (time.Now when nil).
	Now  func() time.Time
	Sink Sink
	Logs LogOpener
	// Estimate gives a task's expected duration: history's median, else
	// the task's default estimate. Used for priorities and ETAs.
	Estimate func(task string) time.Duration
	Prompt   tasks.Prompter
	Runner   *proc.Runner
	// Terminal is set when stdin and stdout are terminals; only a task
	// holding the tty resource gets it.
	Terminal *proc.Terminal
	Config   *config.Config
	Home     string
	// DryRun runs only the tasks that support a dry run; the rest are
	// skipped with the reason "dry run".
	DryRun bool
	Yes    bool
	Values *tasks.Values
	// TailLines is how many log lines a failed task's Finish event carries.
	TailLines int
	// StatusEvery rate-limits Status events per task (default 50ms).
	StatusEvery time.Duration
}

// Result is how one task ended.
type Result struct {
	Name     string
	State    State
	Reason   string
	Err      error
	Start    time.Time
	Duration time.Duration
	Report   tasks.Report
	Tail     []string
	LogPath  string
	Critical bool
}

// Summary is the outcome of a whole run.
type Summary struct {
	// Order is the graph's topological order; Results has every task.
	Order        []string
	Results      map[string]*Result
	Start        time.Time
	Wall         time.Duration
	CriticalPath []string
	// FailedCritical names the critical task whose failure aborted the run.
	FailedCritical string
	Interrupted    bool
}

// Exit codes of DESIGN.md's command line.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitLocked      = 3
	ExitInterrupted = 130
)

// ExitCode maps the outcome to the process exit code: 130 interrupted,
// 1 when a critical task failed (or any task, with strict), else 0.
func (s *Summary) ExitCode(strict bool) int {
	switch {
	case s.Interrupted:
		return ExitInterrupted
	case s.FailedCritical != "":
		return ExitFailed
	}
	if strict {
		for _, r := range s.Results {
			if r.State == Failed {
				return ExitFailed
			}
		}
	}
	return ExitOK
}

// Run is one walk of a graph. Create it with New, start it with Execute;
// Interrupt may be called from a signal handler at any time.
type Run struct {
	g     *dag.Graph
	specs map[string]tasks.Spec
	opts  Options

	interrupts chan struct{}
	emitMu     sync.Mutex
}

// New checks that every node of g has a spec and returns a Run.
func New(g *dag.Graph, specs map[string]tasks.Spec, opts Options) (*Run, error) {
	for _, n := range g.Order() {
		s, ok := specs[n]
		if !ok {
			return nil, fmt.Errorf("schedule: task %q is in the graph but has no spec", n)
		}
		if s.Task == nil && !s.Disabled {
			return nil, fmt.Errorf("schedule: task %q has nothing to run", n)
		}
	}
	if opts.Jobs < 1 {
		opts.Jobs = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sink == nil {
		opts.Sink = SinkFunc(func(Event) {})
	}
	if opts.Estimate == nil {
		opts.Estimate = func(name string) time.Duration { return specs[name].Estimate }
	}
	if opts.Values == nil {
		opts.Values = tasks.NewValues()
	}
	if opts.Runner == nil {
		opts.Runner = &proc.Runner{}
	}
	if opts.TailLines <= 0 {
		opts.TailLines = 20
	}
	if opts.StatusEvery <= 0 {
		opts.StatusEvery = 50 * time.Millisecond
	}
	return &Run{g: g, specs: specs, opts: opts, interrupts: make(chan struct{}, 16)}, nil
}

// Values is the store of values tasks handed on during the run.
func (r *Run) Values() *tasks.Values { return r.opts.Values }

// Interrupt asks the run to stop, as Ctrl-C does. While a task that holds
// interrupts back is running, the first call only emits a Notice.
func (r *Run) Interrupt() {
	select {
	case r.interrupts <- struct{}{}:
	default:
	}
}

func (r *Run) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = r.opts.Now()
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	// A panicking Sink loses its event. Emit runs on the walker, on task
	// goroutines and on a command's output readers: a panic there would
	// stop the walker waiting forever, or take the process down with
	// commands still running.
	defer func() { _ = recover() }()
	r.opts.Sink.Emit(e)
}

// task is the walker's bookkeeping for one node.
type task struct {
	name      string
	spec      tasks.Spec
	index     int           // position in topological order
	prio      time.Duration // longest remaining path, this task included
	waitingOn int           // prerequisites not yet final
	state     State
	resources []string
	cancel    context.CancelFunc
	result    *Result
}

type finished struct {
	t   *task
	res *Result
}

// Execute walks the graph to the end and returns the summary. Canceling
// ctx is a forced interrupt (exit 130).
func (r *Run) Execute(ctx context.Context) *Summary {
	start := r.opts.Now()
	order := r.g.Order()
	prio := r.g.LongestToEnd(r.opts.Estimate)
	cp, _ := r.g.CriticalPath(r.opts.Estimate)
	sum := &Summary{Order: order, Results: map[string]*Result{}, Start: start, CriticalPath: cp}

	all := make(map[string]*task, len(order))
	for i, n := range order {
		t := &task{name: n, spec: r.specs[n], index: i, prio: prio[n], state: Pending}
		t.waitingOn = len(r.g.Prereqs(n))
		t.resources = t.spec.AllResources()
		all[n] = t
	}

	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	var wg conc.WaitGroup
	done := make(chan finished)
	held := map[string]string{} // resource → holder
	running := map[string]*task{}
	runnable := &queue{}
	waitingTTY := ttyWaiters{}
	free := r.opts.Jobs
	remaining := len(order)
	aborting := false
	abortReason := ""
	interrupts := 0

	finish := func(t *task, res *Result) {
		t.state = res.State
		t.result = res
		sum.Results[t.name] = res
		remaining--
		r.emit(Event{Time: res.Start.Add(res.Duration), Task: t.name, Kind: Finish, State: res.State,
			Duration: res.Duration, Reason: res.Reason, Err: res.Err, Actions: res.Report.Actions,
			Stats: res.Report.Stats, Warnings: res.Report.Warnings, Tail: res.Tail, LogPath: res.LogPath,
			Critical: t.spec.Critical, Seed: t.spec.Seed})
	}
	// settle ends a task without running it.
	settle := func(t *task, s State, reason string) {
		finish(t, &Result{Name: t.name, State: s, Reason: reason, Start: r.opts.Now(), Critical: t.spec.Critical})
	}
	abort := func(reason string) {
		if aborting {
			return
		}
		aborting = true
		abortReason = reason
		for _, t := range running {
			t.cancel()
		}
	}

	var release func(t *task)
	// ready is called once every prerequisite of t is final.
	ready := func(t *task) {
		for _, e := range r.g.Prereqs(t.name) {
			p := all[e.From]
			if e.Kind != dag.Needs || p.state.satisfiesNeeds() {
				continue
			}
			// After an abort, only a failure upstream is a reason of its
			// own; a canceled or declined prerequisite is the abort's.
			if aborting && p.state != Failed && p.state != UpstreamFailed {
				continue
			}
			if p.state == Declined {
				settle(t, Skipped, fmt.Sprintf("%s was declined", p.name))
			} else {
				settle(t, UpstreamFailed, fmt.Sprintf("needs %s, which %s", p.name, describe(p.state)))
			}
			release(t)
			return
		}
		if aborting {
			settle(t, Canceled, abortReason)
			release(t)
			return
		}
		if t.spec.Disabled {
			reason := t.spec.DisabledReason
			if reason == "" {
				reason = "disabled"
			}
			settle(t, Skipped, reason)
			release(t)
			return
		}
		if r.opts.DryRun && !t.spec.DryRun {
			settle(t, Skipped, "dry run")
			release(t)
			return
		}
		t.state = Waiting
		if contains(t.resources, tasks.ResourceTTY) {
			waitingTTY[seedRank(t.spec.Seed)]++
		}
		runnable.push(t)
	}
	// release tells t's dependents that t is final.
	release = func(t *task) {
		for _, e := range r.g.Dependents(t.name) {
			d := all[e.To]
			d.waitingOn--
			if d.waitingOn == 0 && d.state == Pending {
				ready(d)
			}
		}
	}

	startTask := func(t *task) {
		free--
		for _, res := range t.resources {
			held[res] = t.name
		}
		t.state = Running
		tctx, cancel := context.WithCancel(runCtx)
		t.cancel = cancel
		running[t.name] = t
		wg.Go(func() {
			res := r.runOne(tctx, t, held)
			cancel()
			done <- finished{t: t, res: res}
		})
	}

	dispatch := func() {
		if aborting {
			ts := make([]*task, 0, runnable.Len())
			for runnable.Len() > 0 {
				t := runnable.pop()
				settle(t, Canceled, abortReason)
				ts = append(ts, t)
			}
			clear(waitingTTY)
			for _, t := range ts {
				release(t)
			}
			return
		}
		var blocked []*task
		ttySeed := waitingTTY.lowest()
		for free > 0 && runnable.Len() > 0 {
			t := runnable.pop()
			ok := true
			for _, res := range t.resources {
				if _, busy := held[res]; busy {
					ok = false
				}
			}
			wantsTTY := contains(t.resources, tasks.ResourceTTY)
			// Questions come in the seed's order.
			if ok && wantsTTY && seedRank(t.spec.Seed) != ttySeed {
				ok = false
			}
			if !ok {
				blocked = append(blocked, t)
				continue
			}
			if wantsTTY {
				waitingTTY[seedRank(t.spec.Seed)]--
			}
			startTask(t)
		}
		for _, t := range blocked {
			runnable.push(t)
		}
	}

	for _, n := range order {
		if t := all[n]; t.waitingOn == 0 && t.state == Pending {
			ready(t)
		}
	}
	dispatch()

	ctxDone := ctx.Done()
	for remaining > 0 {
		select {
		case f := <-done:
			delete(running, f.t.name)
			free++
			for _, res := range f.t.resources {
				delete(held, res)
			}
			if aborting && f.res.State == Canceled {
				// Say why: the abort, not the task, ended it.
				f.res.Reason = abortReason
			}
			finish(f.t, f.res)
			if f.res.State == Failed && f.t.spec.Critical && !aborting {
				sum.FailedCritical = f.t.name
				abort(fmt.Sprintf("run aborted: %s failed", f.t.name))
			}
			release(f.t)
		case <-ctxDone:
			ctxDone = nil
			sum.Interrupted = true
			abort("interrupted")
		case <-r.interrupts:
			interrupts++
			if holder := r.holdingInterrupt(running); holder != "" && interrupts == 1 {
				r.emit(Event{Kind: Notice, Task: holder,
					Status: fmt.Sprintf("%s is in progress: a half-switched system is worse than waiting; press Ctrl-C again to interrupt anyway", holder)})
				continue
			}
			sum.Interrupted = true
			abort("interrupted")
		}
		dispatch()
	}
	wg.Wait()
	sum.Wall = r.opts.Now().Sub(start)
	return sum
}

func (r *Run) holdingInterrupt(running map[string]*task) string {
	names := make([]string, 0, len(running))
	for n, t := range running {
		if t.spec.HoldInterrupt {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// before orders runnable tasks: the longest remaining path first, so the
// critical chain never waits behind read-only work; then the seed's order.
func before(a, b *task) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if sa, sb := seedRank(a.spec.Seed), seedRank(b.spec.Seed); sa != sb {
		return sa < sb
	}
	return a.index < b.index
}

// seedRank sorts unnumbered tasks after the fourteen phases.
func seedRank(seed int) int {
	if seed <= 0 {
		return 1000
	}
	return seed
}

func describe(s State) string {
	switch s {
	case Failed:
		return "failed"
	case UpstreamFailed:
		return "could not run"
	case Canceled:
		return "was canceled"
	}
	return string(s)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// firstLine is the one-line reason of an error.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// runOne runs a single task with its log, timeout and panic catching.
// held is only read for the tty check, under no lock: the coordinator set
// this task's entries before starting it and does not change them until
// the task is done.
func (r *Run) runOne(ctx context.Context, t *task, held map[string]string) *Result {
	_ = held
	res := &Result{Name: t.name, Start: r.opts.Now(), Critical: t.spec.Critical}
	tail := proc.NewTail(r.opts.TailLines)
	var logw io.Writer = io.Discard
	if r.opts.Logs != nil {
		w, path, err := r.opts.Logs(t.name)
		if err != nil {
			res.State, res.Err = Failed, fmt.Errorf("open log: %w", err)
			res.Reason = firstLine(res.Err)
			return res
		}
		defer w.Close()
		logw, res.LogPath = w, path
	}
	// The tail sees every byte but looks only at the lines it keeps.
	tw := io.MultiWriter(logw, tail)

	eta := r.opts.Estimate(t.name)
	r.emit(Event{Time: res.Start, Task: t.name, Kind: Start, State: Running, ETA: eta,
		Critical: t.spec.Critical, Seed: t.spec.Seed, LogPath: res.LogPath})

	env := tasks.NewEnv(t.name, &statusLimiter{r: r, every: r.opts.StatusEvery, last: map[string]time.Time{}}, r.opts.Values)
	env.Log = tw
	env.Now = r.opts.Now
	env.Config = r.opts.Config
	env.Prompt = r.opts.Prompt
	env.Runner = r.opts.Runner
	env.DryRun, env.Yes = r.opts.DryRun, r.opts.Yes
	env.Home = r.opts.Home
	// The terminal, when there is one, goes to the task holding tty; the
	// renderers stop drawing until it is released. Without a terminal
	// nobody is asked anything, so there is nothing to announce.
	if contains(t.resources, tasks.ResourceTTY) && r.opts.Terminal != nil {
		env.Terminal = r.opts.Terminal
		r.emit(Event{Task: t.name, Kind: Prompt, State: Running})
		defer r.emit(Event{Task: t.name, Kind: Release, State: Running})
	}

	tctx := ctx
	var cancel context.CancelFunc = func() {}
	timedOut := errors.New("timed out")
	if t.spec.Timeout > 0 {
		tctx, cancel = context.WithTimeoutCause(ctx, t.spec.Timeout, timedOut)
	}
	var err error
	var pc panics.Catcher
	pc.Try(func() { err = t.spec.Task.Run(tctx, env) })
	cancel()
	if rec := pc.Recovered(); rec != nil {
		fmt.Fprintf(tw, "panic: %v\n\n%s\n", rec.Value, rec.Stack)
		err = fmt.Errorf("panic: %v", rec.Value)
	}
	res.Duration = r.opts.Now().Sub(res.Start)
	res.Report = env.Report()

	switch {
	case err == nil:
		res.State = Succeeded
	// The cause is whichever came first: an abort before the timeout
	// leaves the parent's cause here, a timeout before an abort ours.
	case errors.Is(context.Cause(tctx), timedOut):
		res.State, res.Err = Failed, err
		res.Reason = fmt.Sprintf("timed out after %s", t.spec.Timeout)
		fmt.Fprintf(tw, "%s: %s\n", t.name, res.Reason)
	case ctx.Err() != nil:
		res.State, res.Err = Canceled, fmt.Errorf("%w: %v", context.Canceled, err)
		res.Reason = "canceled"
	default:
		if o, ok := tasks.AsOutcome(err); ok {
			res.Reason = o.Reason
			res.State = Skipped
			if o.Kind == tasks.Declined {
				res.State = Declined
			}
			break
		}
		res.State, res.Err, res.Reason = Failed, err, firstLine(err)
		// The output is in the log already; the reason is enough here.
		fmt.Fprintf(tw, "%s failed: %s\n", t.name, res.Reason)
	}
	if res.State == Failed {
		tail.Flush()
		res.Tail = tail.Lines()
	}
	return res
}

// statusLimiter turns a task's status lines into Status events, at most
// one per task per interval: a command printing a line per millisecond
// must not flood the renderers.
type statusLimiter struct {
	r     *Run
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
}

func (s *statusLimiter) Status(task, line string) {
	now := s.r.opts.Now()
	s.mu.Lock()
	if now.Sub(s.last[task]) < s.every {
		s.mu.Unlock()
		return
	}
	s.last[task] = now
	s.mu.Unlock()
	s.r.emit(Event{Time: now, Task: task, Kind: Status, State: Running, Status: line})
}
