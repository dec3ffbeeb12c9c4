package schedule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// errTimedOut is the cause of a task context that hit the task's timeout.
var errTimedOut = errors.New("timed out")

// emptyLog is a log writer that can tell it was never written to: it made
// no file, so the Result names none.
type emptyLog interface{ Empty() bool }

// runOne runs a single task with its log, timeout and panic catching. It
// runs on the task's own goroutine and touches nothing of the walker's.
func (r *Run) runOne(ctx context.Context, t *task) *Result {
	res := &t.run.result
	*res = Result{Name: t.name, Start: r.opts.Now(), Critical: t.spec.Critical}
	var logw io.Writer = io.Discard
	if r.opts.Logs != nil {
		w, path, err := r.opts.Logs(t.name)
		if err != nil {
			res.State, res.Err = Failed, fmt.Errorf("open log: %w", err)
			res.Reason = firstLine(res.Err)
			return res
		}
		defer closeLog(w, res)
		logw, res.LogPath = w, path
	}
	// The tail sees every byte but looks only at the lines it keeps.
	t.run.out = output{log: logw, lines: r.opts.TailLines}
	log := &t.run.out

	r.emit(Event{Time: res.Start, Task: t.name, Host: t.spec.Host, Kind: Start, State: Running, ETA: t.eta,
		Critical: t.spec.Critical, Phase: t.spec.Phase, LogPath: res.LogPath})

	env := r.newEnv(t, log)
	// The terminal, when there is one, goes to the task holding tty; the
	// renderers stop drawing until it is released. Without a terminal
	// nobody is asked anything, so there is nothing to announce.
	if env.Terminal != nil {
		r.emit(Event{Task: t.name, Host: t.spec.Host, Kind: Prompt, State: Running})
		defer r.emit(Event{Task: t.name, Host: t.spec.Host, Kind: Release, State: Running})
	}

	tctx, cancel := withTimeout(ctx, t)
	err, rec := call(tctx, t.spec.Task, env)
	cancel()
	if rec != nil {
		fmt.Fprintf(log, "panic: %v\n\n%s\n", rec.value, rec.stack)
		err = fmt.Errorf("panic: %v", rec.value)
	}
	// The cause is whichever came first: an abort before the timeout
	// leaves the parent's cause here, a timeout before an abort ours.
	timedOut := errors.Is(context.Cause(tctx), errTimedOut)
	res.Duration = r.opts.Now().Sub(res.Start)
	res.Wait = min(env.Waited(), res.Duration)
	res.Report = env.Report()
	judge(res, t, err, timedOut, ctx.Err() != nil, log)
	if t.spec.Gate && res.State == Failed {
		r.gateFailed(ctx, t, env, res, log)
	}
	if res.State == Failed {
		res.Tail = t.run.out.lastLines()
	}
	return res
}

// panicked is a task's panic: its value and the stack it was raised on.
type panicked struct {
	value any
	stack []byte
}

// call runs task, catching a panic. The recover is deferred right above
// the task's frames, so the stack it takes reaches them.
func call(ctx context.Context, task tasks.Task, env *tasks.Env) (err error, rec *panicked) {
	defer func() {
		if v := recover(); v != nil {
			rec = &panicked{value: v, stack: debug.Stack()}
		}
	}()
	return task.Run(ctx, env), nil
}

// closeLog closes a task's log once res is complete: a failure to write it
// is a warning of the task's, and a log never written to is no file.
func closeLog(w io.WriteCloser, res *Result) {
	if err := w.Close(); err != nil {
		res.Report.Warnings = append(res.Report.Warnings, fmt.Sprintf("its log %s: %v", res.LogPath, err))
	}
	if e, ok := w.(emptyLog); ok && e.Empty() {
		res.LogPath = ""
	}
}

// newEnv builds t's environment: the walker's part here, the caller's
// through Options.Env.
func (r *Run) newEnv(t *task, log io.Writer) *tasks.Env {
	env := &t.run.env
	env.Init(t.name, statusEvents{r}, r.opts.Values)
	env.Log = log
	env.Now = r.opts.Now
	env.DryRun = r.opts.DryRun
	r.opts.Env(env, t.wantsTTY)
	if !t.wantsTTY {
		// Only the task holding tty may touch the terminal, whatever the
		// caller handed out.
		env.Terminal = nil
	}
	return env
}

// withTimeout gives t's context its timeout, if it has one; the timeout
// is its cause, so that it can be told from a cancel from outside.
func withTimeout(ctx context.Context, t *task) (context.Context, context.CancelFunc) {
	if t.spec.Timeout > 0 {
		return context.WithTimeoutCause(ctx, t.spec.Timeout, errTimedOut)
	}
	return ctx, func() {}
}

// judge sets res's state, error and reason from what t's Run returned;
// canceled says the walker canceled the task (an abort or an interrupt).
func judge(res *Result, t *task, err error, timedOut, canceled bool, log io.Writer) {
	switch {
	case err == nil:
		res.State = Succeeded
	case timedOut:
		res.State, res.Err = Failed, err
		res.Reason = fmt.Sprintf("timed out after %s", t.spec.Timeout)
		fmt.Fprintf(log, "%s: %s\n", t.name, res.Reason)
	case canceled:
		res.State, res.Err = Canceled, fmt.Errorf("%w: %v", context.Canceled, err)
		res.Reason = "canceled"
	default:
		if o, ok := tasks.AsOutcome(err); ok {
			res.Reason = o.Reason
			res.State = Skipped
			if o.Kind == tasks.Declined {
				res.State = Declined
				res.Carry = o.Carry
				if res.Carry == "" {
					res.Carry = fmt.Sprintf("%s was declined", t.name)
				}
			}
			return
		}
		res.State, res.Err, res.Reason = Failed, err, firstLine(err)
		// The output is in the log already; the reason is enough here.
		fmt.Fprintf(log, "%s failed: %s\n", t.name, res.Reason)
	}
}

// firstLine is the one-line reason of an error.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
