package render

import (
	"sort"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
)

// heldEvery is how often plain and json look for held-back status lines
// that are due: a held line is written at most this long after its
// task's interval has passed.
const heldEvery = 250 * time.Millisecond

// statusGate rate-limits the status lines a renderer writes, per task,
// without ever losing the newest (as BuildKit's UpdateFrom applies every
// update and limits only the redraw): a line that comes within every of
// the task's last written one is held, replacing any line held before
// it, and a tick writes it once the interval has passed. A task's Finish
// hands back what it still holds, to be written just before the finish
// line: the last thing a task said (often why it ended) is never lost.
//
// The interval is measured in event time (Event.Time, and the clock's
// time at a tick), so the renderer's clock decides, not the wall. The
// renderer's lock guards the gate together with its writes, so that a
// held line can never be written after its task's finish line.
type statusGate struct {
	every   time.Duration
	written map[string]time.Time      // when each task's last line was written
	held    map[string]schedule.Event // each task's newest line not yet written
}

func newStatusGate(every time.Duration) *statusGate {
	return &statusGate{every: every, written: map[string]time.Time{}, held: map[string]schedule.Event{}}
}

// offer reports whether the Status event e may be written now; when not,
// e is held (and a line held before it is dropped).
func (g *statusGate) offer(e schedule.Event) bool {
	if last, seen := g.written[e.Task]; seen && e.Time.Sub(last) < g.every {
		g.held[e.Task] = e
		return false
	}
	g.written[e.Task] = e.Time
	delete(g.held, e.Task)
	return true
}

// due returns the held lines whose interval has passed at now, by task
// name, each stamped now, and counts them as written at now.
func (g *statusGate) due(now time.Time) []schedule.Event {
	var out []schedule.Event
	for task, e := range g.held {
		if now.Sub(g.written[task]) >= g.every {
			e.Time = now
			out = append(out, e)
			g.written[task] = now
			delete(g.held, task)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Task < out[j].Task })
	return out
}

// finished forgets task, which has nothing more to say in a status line,
// and returns the line it still held, if any.
func (g *statusGate) finished(task string) (last schedule.Event, held bool) {
	last, held = g.held[task]
	delete(g.held, task)
	delete(g.written, task)
	return last, held
}

// gated is what plain and json share: one lock over their writes, the
// status gate, and the tick that writes the held lines that are due.
type gated struct {
	mu        sync.Mutex
	status    *statusGate
	stopTicks func()
	once      sync.Once
}

// start sets the gate's interval and starts the tick; write writes one
// status event with the lock held.
func (g *gated) start(o Options, every time.Duration, write func(schedule.Event)) {
	g.status = newStatusGate(every)
	g.stopTicks = o.Ticker(heldEvery, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, e := range g.status.due(o.Now()) {
			write(e)
		}
	})
}

// passLocked reports whether e is written now: a Status event only when
// the gate lets it through (else it is held); before a Finish, the line
// its task still held is written with write. The caller holds mu.
func (g *gated) passLocked(e schedule.Event, write func(schedule.Event)) bool {
	switch e.Kind {
	case schedule.Status:
		return g.status.offer(e)
	case schedule.Finish:
		if last, held := g.status.finished(e.Task); held {
			last.Time = e.Time
			write(last)
		}
	}
	return true
}

// stop stops the tick. Idempotent.
func (g *gated) stop() { g.once.Do(g.stopTicks) }
