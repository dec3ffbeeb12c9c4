package schedule

import (
	"context"
	"fmt"
	"io"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// GateRollback is what a failed gate did: the gate, why it failed, the
// task whose activation was rolled back, and where to. Err is set when
// the rollback itself failed.
type GateRollback struct {
	Gate   string // the gate that failed first
	Reason string // its one-line reason
	Task   string // the task that activated (activate)
	To     string // "generation N", what the system was rolled back to
	Err    error
}

// Summary is the one line the rolled-back task's Finish event and the
// run's summary show.
func (g *GateRollback) Summary() string {
	if g.Err != nil {
		return fmt.Sprintf("gate %s failed (%s), and rolling back to %s failed too: %v", g.Gate, g.Reason, g.To, firstLine(g.Err))
	}
	return fmt.Sprintf("gate %s failed: %s; rolled back to %s", g.Gate, g.Reason, g.To)
}

// gateCarry is the reason the tasks after a failed gate are skipped with
// (accept, and through it commit, generations, push).
const gateCarry = "configuration was rolled back: gate %s failed"

// gateFailed is called on a failed gate's goroutine, before its Result
// goes back to the walker: the first failed gate rolls the system back to
// the generation the run's activation replaced, through the Activation
// activate handed on (the same rollback accept uses), with the gate's
// runner and log. Later failed gates find it done. Nothing activated in
// this run (no changes, activate not selected) leaves an ordinary failure.
// In a run with hosts each host is its own system: a gate of web2 rolls
// back activate@web2 (the Activation its Env reads is web2's), whatever
// web1's gates did.
//
// The rollback runs even when ctx is done: a system a gate found broken
// is worse than a run that takes a few seconds longer to stop.
func (r *Run) gateFailed(ctx context.Context, t *task, env *tasks.Env, res *Result, log io.Writer) {
	act, ok := tasks.Activated.Get(env)
	if !ok || act.Path == "" {
		return
	}
	host := t.spec.Host
	r.gateMu.Lock()
	defer r.gateMu.Unlock()
	if done := r.rolledBack[host]; done != nil {
		res.Carry = fmt.Sprintf(gateCarry, done.Gate)
		fmt.Fprintf(log, "%s: the system was already rolled back after gate %s failed\n", t.name, done.Gate)
		return
	}
	rb := &GateRollback{Gate: t.name, Reason: res.Reason, Task: tasks.OnHost(activatedBy, host), To: "the previous generation"}
	if act.Previous != 0 {
		rb.To = fmt.Sprintf("generation %d", act.Previous)
	}
	fmt.Fprintf(log, "%s: gate failed: rolling back %s to %s\n", t.name, act.Path, rb.To)
	if act.Rollback == nil {
		rb.Err = fmt.Errorf("%s handed on no way to roll back", activatedBy)
	} else {
		env.Status("gate failed: rolling back to %s", rb.To)
		rb.Err = act.Rollback(context.WithoutCancel(ctx), env)
	}
	if rb.Err != nil {
		fmt.Fprintf(log, "%s: rollback failed: %v\n", t.name, rb.Err)
	}
	r.rolledBack[host] = rb
	res.Rollback = rb
	res.Carry = fmt.Sprintf(gateCarry, t.name)
	res.Report = env.Report()
}

// activatedBy is the task that hands on tasks.Activated: the one a
// failed gate's rollback undoes.
const activatedBy = "activate"

// rolledBack makes the activating task's Result say that a gate rolled
// it back (or that the rollback failed), and tells the Sink with a second
// Finish event for it: its first said it succeeded. The Summary keeps the
// first rollback of the run (each host's is on its activate's Result).
func (w *walker) rolledBack(rb *GateRollback) {
	if w.sum.RolledBack == nil {
		w.sum.RolledBack = rb
	}
	w.rollbacks[rb.Task] = rb
	t := w.find(rb.Task)
	if t == nil || t.res == nil {
		return
	}
	res := t.res
	res.State, res.Reason = RolledBack, rb.Summary()
	if rb.Err != nil {
		res.State, res.Err = Failed, rb.Err
	}
	t.state = res.State
	w.r.emit(Event{Task: rb.Task, Host: t.spec.Host, Kind: Finish, State: res.State, Duration: res.Duration, Reason: res.Reason,
		Err: res.Err, Actions: res.Report.Actions, Stats: res.Report.Stats, Warnings: res.Report.Warnings,
		LogPath: res.LogPath, Critical: t.spec.Critical, Phase: t.spec.Phase})
}
