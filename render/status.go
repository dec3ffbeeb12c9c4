package render

import (
	"sort"
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
