package schedule

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// task is the walker's bookkeeping for one node. The walker finds a
// task's neighbours through prereqs and deps, resolved once from the graph:
// the hot path looks up no names.
type task struct {
	name      string
	spec      *tasks.Spec   // Run.list's, never changed
	index     int           // position in topological order
	rank      int32         // phaseRank of the spec's phase
	eta       time.Duration // Options.Estimate of this task, asked once
	prio      time.Duration // longest remaining path, this task included
	waitingOn int           // prerequisites not yet final
	state     State
	resources []string
	wantsTTY  bool // resources has tasks.ResourceTTY
	started   bool // it was started (and so ran, or was canceled running)
	carries   bool // final, and its Result carries a "no" (Result.Carry)
	// host is the index in walker.hosts of the host it acts on; -1: the
	// whole run's, or hosts are not bounded. (int32 beside the bools: the
	// task is no bigger for it.)
	host    int32
	prereqs []prereq
	deps    []*task // needs- and after-dependents, in Order
	res     *Result // set when final

	// run is what the task's own goroutine uses while it runs: kept in
	// the walker's runs, apart from what the walker reads and writes all
	// the time (which so stays dense), and allocated with them, so that a
	// task costs no allocations of its own.
	run *taskRun
}

// taskRun is a task's Result, log writer and Env while it runs.
type taskRun struct {
	result Result
	out    output
	env    tasks.Env
}

// prereq is an edge into a task.
type prereq struct {
	t     *task
	needs bool // a needs-edge, not an after-edge
}

// finished is a task's Result on its way from the task's goroutine back to
// the walker.
type finished struct {
	t   *task
	res *Result
}

// walker is one Execute in progress. Every field is read and written only
// by the goroutine running Execute, with the two exceptions said beside
// them; that is why it needs no lock.
type walker struct {
	r *Run
	// sum is the outcome: the tasks' Results go into it when the walk is
	// over (each task holds its own until then: task.res).
	sum *Summary
	// tasks holds every node of the graph in Order, linked once through
	// the graph's IndexEdges: the walk finds tasks by index, never by
	// name. runs holds their taskRuns, in the same order.
	tasks []task
	runs  []taskRun
	// runnable holds the ready tasks not yet started, best first (see
	// before): a task is in it exactly while its state is Waiting.
	runnable queue
	// waitingTTY counts the runnable tasks that want the terminal, by phase
	// rank: only the lowest rank may take it, so questions come in the
	// phase order.
	waitingTTY ttyWaiters
	// held maps a resource to the running task holding it, from the start
	// until the Result arrives.
	held map[string]string
	// free is Jobs minus the running tasks: a task takes a slot only when
	// it can start, never while it waits for a resource.
	free int
	// hosts are the run's hosts when ParallelHosts bounds them (nil
	// otherwise): see hosts.go.
	hosts hostSlots
	// remaining counts the tasks not yet final; the walk ends at 0.
	remaining int
	// aborting is set once, by a critical failure or an interrupt, and
	// abortReason says which. From then on nothing starts: every task
	// that becomes ready is canceled with that reason.
	aborting    bool
	abortReason string
	// interrupts counts Interrupt calls: the first one is held back while
	// a task that holds interrupts is running.
	interrupts int
	// rollbacks are the gates' rollbacks by the task they rolled back
	// (activate, or each host's activate@HOST).
	rollbacks map[string]*GateRollback

	// ctx is every running task's context: an abort cancels it (nothing
	// starts after an abort), and Execute's deferred cancel ends what is
	// left.
	ctx    context.Context
	cancel context.CancelFunc
	// Tasks run on workers, started as slots fill and reused: work hands
	// a task to an idle one, done brings its Result back (the one field
	// workers touch). idle counts workers whose Result was collected. wg
	// waits for the workers (it catches their panics too). Both channels
	// hold a slot's worth each, so that neither side waits for the other
	// to be scheduled: every task put into work has a worker whose Result
	// was collected (or a new one), which takes it without waiting on
	// done.
	work chan *task
	done chan finished
	idle int
	wg   conc.WaitGroup
}

// Execute walks the graph to the end and returns the summary. Canceling
// ctx is a forced interrupt (exit 130).
func (r *Run) Execute(ctx context.Context) *Summary {
	w := r.newWalker()
	defer w.cancel()
	for i := range w.tasks {
		if t := &w.tasks[i]; t.waitingOn == 0 && t.state == Pending {
			w.ready(t)
		}
	}
	w.dispatch()

	ctxDone := ctx.Done()
	for w.remaining > 0 {
		select {
		case f := <-w.done:
			w.collect(f)
			w.collectMore()
			w.heldInterruptDue()
		case <-ctxDone:
			ctxDone = nil
			w.sum.Interrupted = true
			w.abort("interrupted")
		case <-r.interrupts:
			if !w.interrupt() {
				continue
			}
		case d := <-r.lent:
			w.free += d
		}
		w.dispatch()
	}
	close(w.work)
	w.wg.Wait()
	// Every task is final: the Results go into the Summary in one sweep,
	// not one at a time between the walk's other work.
	for i := range w.tasks {
		t := &w.tasks[i]
		w.sum.Results[t.name] = t.res
	}
	w.sum.Wall = r.opts.Now().Sub(w.sum.Start)
	w.sum.CriticalPath = w.measuredPath()
	return w.sum
}

func (r *Run) newWalker() *walker {
	start := r.opts.Now()
	order := r.order
	w := &walker{
		r:          r,
		sum:        &Summary{Order: order, Results: make(map[string]*Result, len(order)), Start: start},
		tasks:      make([]task, len(order)),
		runs:       make([]taskRun, len(order)),
		waitingTTY: ttyWaiters{},
		rollbacks:  map[string]*GateRollback{},
		held:       map[string]string{},
		free:       r.opts.Jobs,
		remaining:  len(order),
		work:       make(chan *task, r.opts.Jobs),
		done:       make(chan finished, r.opts.Jobs),
		hosts:      hostSlots{limit: r.opts.ParallelHosts},
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	for i, n := range order {
		t := &w.tasks[i]
		t.name, t.spec, t.index, t.state, t.run = n, &r.list[i], i, Pending, &w.runs[i]
		t.rank = int32(phaseRank(t.spec.Phase))
		t.eta = t.spec.Estimate
		if r.opts.Estimate != nil {
			t.eta = r.opts.Estimate(n)
		}
		if len(t.spec.Resources) > 0 || t.spec.Interactive {
			t.resources = t.spec.AllResources()
			t.wantsTTY = slices.Contains(t.resources, tasks.ResourceTTY)
		}
		t.host = w.hosts.index(t.spec.Host, r.opts.ParallelHosts)
	}
	w.link()
	// The longest remaining path, as dag's LongestToEnd has it, on the
	// links: dependents come later in Order.
	for i := len(w.tasks) - 1; i >= 0; i-- {
		t := &w.tasks[i]
		var rest time.Duration
		for _, d := range t.deps {
			rest = max(rest, d.prio)
		}
		t.prio = t.eta + rest
	}
	return w
}

// link resolves the graph's edges into the tasks' prereqs and deps, with a
// few allocations for the whole graph. Edges come sorted by the Order
// index of To, then of From: each task's prereqs are one run of them, in
// the order of Prereqs, and appending dependents in that order gives
// Dependents' order.
func (w *walker) link() {
	n := 0
	for range w.r.g.IndexEdges() {
		n++
	}
	in := make([]prereq, 0, n)
	outs := make([]int, len(w.tasks))
	var to *task // the task whose prereqs are in[from:]
	from := 0
	for e := range w.r.g.IndexEdges() {
		if t := &w.tasks[e.To]; t != to {
			if to != nil {
				to.prereqs = in[from:len(in):len(in)]
			}
			to, from = t, len(in)
		}
		in = append(in, prereq{t: &w.tasks[e.From], needs: e.Kind == dag.Needs})
		outs[e.From]++
	}
	if to != nil {
		to.prereqs = in[from:len(in):len(in)]
	}
	deps := make([]*task, len(in))
	off := 0
	for i := range w.tasks {
		n := outs[i]
		w.tasks[i].deps, off = deps[off:off:off+n], off+n
	}
	for i := range w.tasks {
		to := &w.tasks[i]
		to.waitingOn = len(to.prereqs)
		for _, p := range to.prereqs {
			p.t.deps = append(p.t.deps, to)
		}
	}
}

// find returns the task called name, nil if there is none. It looks at
// every task: only a gate's rollback asks, once.
func (w *walker) find(name string) *task {
	for i := range w.tasks {
		if w.tasks[i].name == name {
			return &w.tasks[i]
		}
	}
	return nil
}

// finish makes t final with res and tells the Sink.
func (w *walker) finish(t *task, res *Result) {
	res.Host, res.Gate = t.spec.Host, t.spec.Gate
	t.state, t.res, t.carries = res.State, res, res.Carry != ""
	w.remaining--
	w.r.emit(Event{Time: res.Start.Add(res.Duration), Task: t.name, Host: t.spec.Host, Kind: Finish, State: res.State,
		Duration: res.Duration, Reason: res.Reason, Err: res.Err, Actions: res.Report.Actions,
		Stats: res.Report.Stats, Warnings: res.Report.Warnings, Diff: res.Report.Diff, Fields: res.Report.Fields, Tail: res.Tail, LogPath: res.LogPath,
		Critical: t.spec.Critical, Phase: t.spec.Phase})
}

// settle ends a task without running it.
func (w *walker) settle(t *task, s State, reason string) {
	w.finish(t, &Result{Name: t.name, State: s, Reason: reason, Start: w.r.opts.Now(), Critical: t.spec.Critical})
}

// abort cancels the running tasks and makes every later ready task
// canceled; only the first reason counts.
func (w *walker) abort(reason string) {
	if w.aborting {
		return
	}
	w.aborting = true
	w.abortReason = reason
	w.cancel() // every running task's context

}

// ready is called once every prerequisite of t is final: t either ends at
// once (see unrunnable) or becomes runnable.
func (w *walker) ready(t *task) {
	if s, reason, carried, ok := w.unrunnable(t); ok {
		res := &Result{Name: t.name, State: s, Reason: reason, Start: w.r.opts.Now(), Critical: t.spec.Critical}
		if carried {
			res.Carry = reason
		}
		w.finish(t, res)
		w.release(t)
		return
	}
	t.state = Waiting
	if t.wantsTTY {
		w.waitingTTY[int(t.rank)]++
	}
	if t.host >= 0 {
		w.hosts.slots[t.host].queued++
	}
	w.runnable.push(t)
}

// unrunnable says whether a ready t ends without running, in which state
// and why: a needs-prerequisite that did not succeed or that carries a
// "no", the abort, being disabled, or a dry run it does not support.
// carried says t is skipped for a "no" upstream, which it carries on to
// its own needs-dependents: declining activate skips accept, and through
// it generations, commit and push.
func (w *walker) unrunnable(t *task) (s State, reason string, carried, ok bool) {
	for _, e := range t.prereqs {
		p := e.t
		if !e.needs {
			continue
		}
		// After an abort, only a failure upstream is a reason of its
		// own; a canceled or declined prerequisite is the abort's.
		if w.aborting {
			if p.state == Failed || p.state == UpstreamFailed {
				return UpstreamFailed, fmt.Sprintf("needs %s, which %s", p.name, describe(p.state)), false, true
			}
			continue
		}
		if p.carries {
			return Skipped, p.res.Carry, true, true
		}
		if p.state == RolledBack {
			if rb := w.rollbacks[p.name]; rb != nil {
				return Skipped, fmt.Sprintf(gateCarry, rb.Gate), true, true
			}
		}
		if p.state == Declined { // declined without a Result's Carry: say so all the same
			return Skipped, fmt.Sprintf("%s was declined", p.name), true, true
		}
		if !p.state.satisfiesNeeds() {
			return UpstreamFailed, fmt.Sprintf("needs %s, which %s", p.name, describe(p.state)), false, true
		}
	}
	switch {
	case w.aborting:
		return Canceled, w.abortReason, false, true
	case t.spec.Disabled:
		if t.spec.DisabledReason != "" {
			return Skipped, t.spec.DisabledReason, false, true
		}
		return Skipped, "disabled", false, true
	case w.r.opts.DryRun && !t.spec.DryRun:
		return Skipped, "dry run", false, true
	}
	return "", "", false, false
}

// release tells t's dependents that t is final.
func (w *walker) release(t *task) {
	for _, d := range t.deps {
		d.waitingOn--
		if d.waitingOn == 0 && d.state == Pending {
			w.ready(d)
		}
	}
}

// dispatch starts runnable tasks, best first, while there are free slots;
// a task whose resources are held (or whose question would come out of
// the phase order) waits in the queue without taking a slot.
func (w *walker) dispatch() {
	if w.aborting {
		w.cancelRunnable()
		return
	}
	var blocked []*task
	// Starting a tty task holds the tty, so the lowest rank cannot change
	// under this loop in a way that lets another tty task start.
	ttyPhase := w.waitingTTY.lowest()
	for w.free > 0 && w.runnable.Len() > 0 {
		t := &w.tasks[w.runnable.pop()]
		if !w.canStart(t, ttyPhase) || t.host >= 0 && !w.hosts.admit(t.host) {
			blocked = append(blocked, t)
			continue
		}
		if t.wantsTTY {
			w.waitingTTY[int(t.rank)]--
		}
		w.start(t)
	}
	for _, t := range blocked {
		w.runnable.push(t)
	}
}

// canStart reports whether none of t's resources is held and, for a task
// wanting the terminal, whether its phase.s questions are next.
func (w *walker) canStart(t *task, ttyPhase int) bool {
	for _, res := range t.resources {
		if _, busy := w.held[res]; busy {
			return false
		}
	}
	return !t.wantsTTY || int(t.rank) == ttyPhase
}

// cancelRunnable ends every runnable task with the abort's reason, then
// tells their dependents (which are canceled in turn).
func (w *walker) cancelRunnable() {
	ts := make([]*task, 0, w.runnable.Len())
	for w.runnable.Len() > 0 {
		t := &w.tasks[w.runnable.pop()]
		if t.host >= 0 {
			w.hosts.slots[t.host].queued--
		}
		w.settle(t, Canceled, w.abortReason)
		ts = append(ts, t)
	}
	clear(w.waitingTTY)
	for _, t := range ts {
		w.release(t)
	}
}

// start takes a slot and t's resources and runs t on a goroutine of its
// own; its Result comes back on done.
func (w *walker) start(t *task) {
	w.free--
	if t.host >= 0 {
		w.hosts.started(t.host)
	}
	for _, res := range t.resources {
		w.held[res] = t.name
	}
	t.state, t.started = Running, true
	if w.idle > 0 {
		w.idle--
	} else {
		w.wg.Go(w.worker)
	}
	w.work <- t
}

// collectMore collects the Results that are in already, so that tasks
// ending together cost the walker one wake-up and one dispatch.
func (w *walker) collectMore() {
	for {
		select {
		case f := <-w.done:
			w.collect(f)
		default:
			return
		}
	}
}

// worker runs the tasks it is handed until Execute closes work.
func (w *walker) worker() {
	for t := range w.work {
		w.done <- finished{t: t, res: w.r.runOne(w.ctx, t)}
	}
}

// collect takes a finished task back: its slot and resources are free, it
// is final, and a critical failure aborts the run.
func (w *walker) collect(f finished) {
	w.idle++
	w.free++
	for _, res := range f.t.resources {
		delete(w.held, res)
	}
	if w.aborting && f.res.State == Canceled {
		// Say why: the abort, not the task, ended it.
		f.res.Reason = w.abortReason
	}
	w.finish(f.t, f.res)
	if f.res.Rollback != nil {
		w.rolledBack(f.res.Rollback)
	}
	switch {
	case f.res.State != Failed || !f.t.spec.Critical || w.aborting:
	case f.t.spec.Host != "":
		// A host's failure stops that host (what needs it is
		// upstream-failed), not the others: the run goes on, and exits 1.
		w.sum.FailedHosts = append(w.sum.FailedHosts, f.t.name)
	default:
		w.sum.FailedCritical = f.t.name
		w.abort(fmt.Sprintf("run aborted: %s failed", f.t.name))
	}
	w.release(f.t)
	// After release: a task of the host that became runnable keeps it.
	if f.t.host >= 0 {
		w.hosts.ended(f.t.host)
	}
}

// interrupt handles one Interrupt: the first one while a task holds
// interrupts only says so (and returns false: nothing changed); any other
// aborts the run.
func (w *walker) interrupt() bool {
	w.interrupts++
	if holder := w.holdingInterrupt(); holder != "" && w.interrupts == 1 {
		w.r.emit(Event{Kind: Notice, Task: holder,
			Status: fmt.Sprintf("%s is in progress: a half-switched system is worse than waiting; the run stops when it is done; press Ctrl-C again to interrupt anyway", holder)})
		return false
	}
	w.sum.Interrupted = true
	w.abort("interrupted")
	return true
}

// heldInterruptDue stops the run once the tasks that held the first
// interrupt back have ended: it was held, not forgotten — the person
// asked the run to stop, and it does as soon as that is safe.
func (w *walker) heldInterruptDue() {
	if w.interrupts == 1 && !w.aborting && w.holdingInterrupt() == "" {
		w.sum.Interrupted = true
		w.abort("interrupted")
	}
}

// holdingInterrupt names the first running task, by name, that holds
// interrupts back; "" when none does.
func (w *walker) holdingInterrupt() string {
	holder := ""
	for i := range w.tasks {
		t := &w.tasks[i]
		if t.state == Running && t.spec.HoldInterrupt && (holder == "" || t.name < holder) {
			holder = t.name
		}
	}
	return holder
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
