package render

import (
	"os"
	"sync"
)

// The task logs are written by one goroutine per Logs, not by the tasks:
// a task's Write copies its bytes and returns, so no task (nor a command's
// output drain) waits for its log file to be created or written, and the
// lines of the tasks that wrote meanwhile go to run.log in one write per
// round. A task's Close waits until everything it wrote is in its file
// and the file is closed, and returns what went wrong, as a synchronous
// Close did; so do Empty and Cuts after it.
//
// A task that writes faster than the disk takes it waits once it has
// pendMax bytes not yet written: memory stays flat however much it prints.
// After Logs.Close the writer is gone, and each task writes its own log in
// its own goroutine (run.log takes no more lines then).

// pendMax is how much a task log holds for the writer before its Write
// waits.
const pendMax = 256 << 10

// logWriter is the goroutine that writes a Logs' task logs, and its queue.
type logWriter struct {
	mu      sync.Mutex
	queue   []*taskLog    // task logs with something for the writer
	spare   []*taskLog    // queue's next buffer
	wake    chan struct{} // a task log was queued (holds one wake-up)
	stopped bool          // stop was called: callers write themselves
	done    chan struct{} // closed when the writer has returned
}

func (w *logWriter) start(l *Logs) {
	w.wake = make(chan struct{}, 1)
	w.done = make(chan struct{})
	go w.run(l)
}

// run writes, round after round, what the queued task logs hold, then
// passes the round's lines to run.log. It returns once stopped with
// nothing left.
func (w *logWriter) run(l *Logs) {
	defer close(w.done)
	for {
		w.mu.Lock()
		q, stopped := w.queue, w.stopped
		w.queue, w.spare = w.spare[:0], nil
		w.mu.Unlock()
		var answers []answer
		for i, t := range q {
			if a, ok := t.take(); ok {
				answers = append(answers, a)
			}
			q[i] = nil
		}
		// A closed log's last lines are in run.log when its Close returns.
		l.flushRun()
		for _, a := range answers {
			a.to <- a.err
		}
		w.mu.Lock()
		w.spare = q[:0]
		w.mu.Unlock()
		if len(q) > 0 {
			continue
		}
		if stopped {
			return
		}
		<-w.wake
	}
}

// enqueue hands t to the writer; once the writer has stopped, the caller
// takes t itself.
func (w *logWriter) enqueue(t *taskLog) {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		if a, ok := t.take(); ok {
			t.l.flushRun()
			a.to <- a.err
		}
		return
	}
	w.queue = append(w.queue, t)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// stop lets the writer finish what was queued and waits for it.
func (w *logWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
}

// Write hands a copy of p to the writer. It never fails but on a closed
// log: what the file refuses is reported by Close.
func (t *taskLog) Write(p []byte) (int, error) { return t.hand(p, true) }

// WriteCommandLine is Write for the line saying which command a task runs
// (proc's "$ …"): run.log gets it now, but <task>.log is not created for
// it. It is written there before the task's first output, or its
// failure's line; a task whose commands print nothing and that succeeds
// leaves no file (its command lines are in run.log). proc.Runner and the
// scheduler's output find the method by its name.
func (t *taskLog) WriteCommandLine(p []byte) (int, error) { return t.hand(p, false) }

// hand gives p to the writer; output says it is the task's output (or
// rebuild's note about it), which needs the file.
func (t *taskLog) hand(p []byte, output bool) (int, error) {
	n := len(p)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return 0, os.ErrClosed
	}
	if n == 0 {
		t.mu.Unlock()
		return 0, nil
	}
	for len(t.pend) >= pendMax && t.queued {
		t.room.Wait()
	}
	t.pendOut = t.pendOut || output
	t.pend = append(t.pend, p...)
	queue := !t.queued
	t.queued = true
	t.mu.Unlock()
	if queue {
		t.l.w.enqueue(t)
	}
	return n, nil
}

// Close waits until everything written before it is in the file, then
// closes the file and passes the last line on; it returns why the file
// could not be created or written.
func (t *taskLog) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	answer := make(chan error, 1)
	t.closing = answer
	queue := !t.queued
	t.queued = true
	t.mu.Unlock()
	if queue {
		t.l.w.enqueue(t)
	}
	return <-answer
}

// Empty reports, once Close has returned, that no file was made: nothing
// but command lines was written (see WriteCommandLine).
func (t *taskLog) Empty() bool {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	return t.f == nil && t.openErr == nil
}

// answer is what a task log's Close is told, and where.
type answer struct {
	to  chan error
	err error
}

// take writes what t holds, and finishes t when Close asked for it: then
// ok is set and a is Close's answer, for the caller to give once run.log
// has the last lines. wmu is taken before the hand-over, so that what was
// handed over earlier is always written first, whoever takes it.
func (t *taskLog) take() (a answer, ok bool) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	data, output := t.pend, t.pendOut
	t.pend, t.spare = t.spare[:0], nil
	t.queued, t.pendOut = false, false
	closing := t.closing
	t.closing = nil
	t.mu.Unlock()

	if len(data) > 0 {
		t.write(data, output)
	}
	t.mu.Lock()
	if t.spare == nil && cap(data) <= pendMax {
		t.spare = data[:0]
	}
	t.room.Broadcast()
	t.mu.Unlock()
	if closing == nil {
		return answer{}, false
	}
	return answer{to: closing, err: t.finish()}, true
}
