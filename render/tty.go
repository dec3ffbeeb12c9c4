package render

import (
	"fmt"
	"github.com/pterm/pterm"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
)

// refresh is the redraw interval of the live area: often enough for a
// spinner, rarely enough that a busy build never floods the terminal.
const refresh = 100 * time.Millisecond

// maxRows caps the running-task lines, so the area always fits on screen
// (an area taller than the terminal cannot be redrawn in place).
const maxRows = 12

// maxPending caps the lines held back while the display is paused; a
// verbose build under a long question must not grow memory without end.
const maxPending = 2000

var spinner = append([]string(nil), pterm.DefaultSpinner.Sequence...)

// tty is the live display. Everything it writes goes through one mutex,
// in one Write per redraw, and only while it is not paused.
//
// The area is drawn by hand rather than with pterm's AreaPrinter: that
// printer (through atomicgo.dev/cursor) rebinds a package-global cursor to
// its writer, accepts only writers with a file descriptor (anything else
// silently goes to os.Stdout), and wraps at os.Stdout's width. Three
// escape sequences do the same job here on any io.Writer.
type tty struct {
	o     Options
	pal   palette
	nameW int
	total int
	start time.Time

	mu        sync.Mutex
	running   []*live // in start order
	done      map[string]bool
	remain    time.Duration // RemainingETA at remainAt
	remainAt  time.Time
	prompting map[string]bool // tasks holding the terminal (Prompt without Release yet)
	paused    int
	pending   []string // permanent lines not yet on screen
	dropped   int      // pending lines dropped over maxPending
	height    int      // lines of the area on screen now
	frame     int
	dirty     bool
	finished  bool

	stopTicks func() // stops the ticker; set once by newTTY
	once      sync.Once
}

// live is a running task as the area shows it.
type live struct {
	name   string
	start  time.Time
	eta    time.Duration
	status string
}

func newTTY(o Options) *tty {
	r := &tty{
		o:         o,
		pal:       palette{on: o.Color},
		nameW:     nameWidth(o.Tasks),
		total:     len(o.Tasks),
		start:     o.Now(),
		done:      map[string]bool{},
		prompting: map[string]bool{},
		dirty:     true,
	}
	r.remainAt = r.start
	if o.RemainingETA != nil {
		r.remain = o.RemainingETA(r.done)
	}
	r.stopTicks = o.Ticker(refresh, r.tick)
	return r
}

// tick is the only place the area is redrawn while the run goes on (a
// pause, a resume and the end draw too): every event in between only
// changes the state, so the newest status is the one a tick shows,
// however many came since the last.
func (r *tty) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frame++
	if r.paused == 0 && !r.finished && (r.dirty || len(r.running) > 0) {
		r.drawLocked()
	}
}

// Emit records an event; the next tick shows it.
func (r *tty) Emit(e schedule.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = r.o.Now()
	}
	switch e.Kind {
	case schedule.Start:
		r.removeLocked(e.Task)
		eta := e.ETA
		if eta == 0 {
			eta = r.infoETA(e.Task)
		}
		r.running = append(r.running, &live{name: e.Task, start: e.Time, eta: eta})
	case schedule.Status:
		for _, l := range r.running {
			if l.name == e.Task {
				l.status = clean(e.Status)
			}
		}
	case schedule.Finish:
		r.removeLocked(e.Task)
		r.done[e.Task] = true
		if r.o.RemainingETA != nil {
			r.remain, r.remainAt = r.o.RemainingETA(maps.Clone(r.done)), r.o.Now()
		}
		r.printLocked(finishLine(r.pal, e, r.nameW))
	case schedule.Prompt:
		if !r.prompting[e.Task] {
			r.prompting[e.Task] = true
			r.pauseLocked()
		}
	case schedule.Release:
		if r.prompting[e.Task] {
			delete(r.prompting, e.Task)
			r.resumeLocked()
		}
	case schedule.Notice:
		msg := clean(e.Status)
		if e.Task != "" {
			msg = e.Task + ": " + msg
		}
		r.printLocked(r.pal.notice(symNotice + " " + msg))
	}
	r.dirty = true
}

func (r *tty) infoETA(name string) time.Duration {
	for _, t := range r.o.Tasks {
		if t.Name == name {
			return t.ETA
		}
	}
	return 0
}

func (r *tty) removeLocked(name string) {
	for i, l := range r.running {
		if l.name == name {
			r.running = append(r.running[:i], r.running[i+1:]...)
			return
		}
	}
}

// Println queues a permanent line above the area.
func (r *tty) Println(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.printLocked(clean(line))
}

func (r *tty) printLocked(line string) {
	if len(r.pending) >= maxPending {
		r.dropped++
	} else {
		r.pending = append(r.pending, line)
	}
	r.dirty = true
	if r.finished {
		r.writeLocked(r.takePendingLocked())
	}
}

func (r *tty) VerboseWriter() io.Writer {
	if !r.o.Verbose {
		return nil
	}
	return LineFunc(r.Println)
}

// Pause clears the area and stops drawing until the matching Resume.
func (r *tty) Pause() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pauseLocked()
}

// Resume draws the area again once every Pause has been resumed.
func (r *tty) Resume() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resumeLocked()
}

func (r *tty) pauseLocked() {
	if r.paused == 0 && !r.finished {
		// Whatever finished before the pause is history: print it now.
		r.writeLocked(r.clearLocked() + r.takePendingLocked())
	}
	r.paused++
}

func (r *tty) resumeLocked() {
	if r.paused == 0 {
		return
	}
	r.paused--
	if r.paused == 0 && !r.finished {
		r.drawLocked()
	}
}

// clearLocked returns the sequence that erases the area: back to its
// first line, then clear to the end of the screen.
func (r *tty) clearLocked() string {
	if r.height == 0 {
		return ""
	}
	h := r.height
	r.height = 0
	return fmt.Sprintf("\r\x1b[%dA\x1b[J", h)
}

func (r *tty) takePendingLocked() string {
	if len(r.pending) == 0 && r.dropped == 0 {
		return ""
	}
	var b strings.Builder
	for _, l := range r.pending {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if r.dropped > 0 {
		fmt.Fprintf(&b, "… %d lines not shown (they are in run.log)\n", r.dropped)
	}
	r.pending, r.dropped = r.pending[:0], 0
	return b.String()
}

func (r *tty) writeLocked(s string) {
	if s != "" {
		_, _ = io.WriteString(r.o.Out, s)
	}
}

// drawLocked replaces the area with the current state, the pending
// permanent lines above it, in one write.
func (r *tty) drawLocked() {
	var b strings.Builder
	b.WriteString(r.clearLocked())
	b.WriteString(r.takePendingLocked())
	lines := r.areaLocked()
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	r.height = len(lines)
	r.dirty = false
	r.writeLocked(b.String())
}

// areaLocked renders one line per running task and the overall line, each
// cut one column short of the width so the terminal never wraps it.
func (r *tty) areaLocked() []string {
	now := r.o.Now()
	width := r.o.width() - 1
	p := r.pal
	frame := spinner[r.frame%len(spinner)]
	var lines []string
	shown := r.running
	if len(shown) > maxRows {
		shown = shown[:maxRows-1]
	}
	for _, l := range shown {
		segs := []seg{
			{frame + " ", p.cyan},
			{pad(l.name, r.nameW) + " ", nil},
			{" " + dur(now.Sub(l.start)), p.dim},
		}
		if l.eta > 0 {
			segs = append(segs, seg{" ~" + dur(l.eta), p.dim})
		}
		if l.status != "" {
			segs = append(segs, seg{"  " + l.status, nil})
		}
		lines = append(lines, fit(width, segs...))
	}
	if n := len(r.running) - len(shown); n > 0 {
		lines = append(lines, fit(width, seg{fmt.Sprintf("  … and %d more running", n), p.dim}))
	}
	total := max(r.total, len(r.done)+len(r.running))
	overall := fmt.Sprintf("%d/%d tasks · %s", len(r.done), total, dur(now.Sub(r.start)))
	if r.o.RemainingETA != nil {
		if left := r.remain - now.Sub(r.remainAt); left > 0 && len(r.done) < total {
			overall += " · ~" + dur(left) + " left"
		}
	}
	lines = append(lines, fit(width, seg{overall, p.bold}))
	return lines
}

// finish stops the ticker and leaves only permanent lines on screen.
func (r *tty) finish() {
	r.once.Do(func() {
		r.stopTicks()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.writeLocked(r.clearLocked() + r.takePendingLocked())
		r.finished = true
	})
}

// Summary removes the area and prints the report.
func (r *tty) Summary(s *schedule.Summary, logDir string) {
	r.finish()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writeLocked("\n" + summaryText(r.pal, s, logDir))
}

// Close stops the display. Idempotent.
func (r *tty) Close() error {
	r.finish()
	return nil
}
