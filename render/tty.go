package render

import (
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/pterm/pterm"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// refresh is the redraw interval of the live area: often enough for a
// spinner, rarely enough that a busy build never floods the terminal.
const refresh = 100 * time.Millisecond

// maxRows caps the running-task lines, and maxBuildRows the build
// view's lines under them, so the area always fits on screen (an area
// taller than the terminal cannot be redrawn in place); the terminal's
// height caps both.
const (
	maxRows      = 12
	maxBuildRows = 10
)

// maxPending caps the lines held back while the display is paused; a
// verbose build under a long question must not grow memory without end.
const maxPending = 2000

var spinner = append([]string(nil), pterm.DefaultSpinner.Sequence...)

// Escape sequences of a frame: the terminal shows it whole (synchronized
// output, ignored where unknown), and the cursor only at a prompt.
const (
	syncStart  = "\x1b[?2026h"
	syncEnd    = "\x1b[?2026l"
	hideCursor = "\x1b[?25l"
	showCursor = "\x1b[?25h"
)

// tty is the live display. Everything it writes goes through one mutex,
// in one Write per redraw, and only while it is not paused.
//
// A frame is, from the top: the permanent lines that came since the last
// one (they scroll up and stay), one line per running task, the overall
// line, and, when a question is open (Options.Questions), its block with
// the prompt line and what was typed at the bottom, where the cursor is.
// A question's block is drawn at every frame like the area, so the area
// keeps updating above it. When the block and the overall line do not fit
// the terminal's height, the question's text goes above once, as
// permanent lines, and later permanent lines wait until the question is
// answered, so that nothing comes between the text and its prompt.
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
	pending   []string        // permanent lines not yet on screen
	dropped   int             // pending lines dropped over maxPending
	height    int             // lines of the frame on screen now
	up        int             // rows from the frame's first line to the cursor's
	q         questionView    // the open question; id 0: none
	spilled   uint64          // the question whose text went above the frame
	hold      bool            // permanent lines wait: a spilled question is open
	asks      map[string]bool // tasks with a question: open (true) or waiting
	lanes     *lanes          // the hosts' lanes (lanes.go); nil without hosts
	frame     int
	dirty     bool
	finished  bool

	stopTicks func() // stops the ticker; set once by newTTY
	once      sync.Once
}

// live is a running task as the area shows it.
type live struct {
	name     string
	host     string // a per-host task's host
	start    time.Time
	eta      time.Duration
	status   string
	progress *tasks.BuildProgress // a build's, from its newest status; see buildview.go
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
	if r.lanes = newLanes(o.Tasks); r.lanes != nil {
		r.lanes.remainAt = r.start
	}
	if o.Questions != nil {
		o.Questions.attach(r, o.Now)
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

// Emit records an event; the next tick shows it. The questions hear of
// a task's terminal and of its end first, outside the display's lock
// (the conversation draws through the display, never the other way).
func (r *tty) Emit(e schedule.Event) {
	if c := r.o.Questions; c != nil {
		switch e.Kind {
		case schedule.Prompt:
			c.suspend(e.Task)
		case schedule.Finish:
			c.taskEnded(e.Task)
		case schedule.Release:
			defer c.resume(e.Task)
		}
	}
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
		r.running = append(r.running, &live{name: e.Task, host: e.Host, start: e.Time, eta: eta})
		if e.Host != "" {
			if r.lanes == nil {
				r.lanes = emptyLanes(r.o.Now())
			}
			r.lanes.started(e)
		}
	case schedule.Status:
		for _, l := range r.running {
			if l.name == e.Task {
				l.status, l.progress = clean(e.Status), e.Progress
			}
		}
	case schedule.Finish:
		r.removeLocked(e.Task)
		first := !r.done[e.Task]
		r.done[e.Task] = true
		if r.o.RemainingETA != nil {
			r.remain, r.remainAt = r.o.RemainingETA(maps.Clone(r.done)), r.o.Now()
		}
		if r.lanes != nil {
			if e.Host != "" {
				r.lanes.finished(e, first)
			}
			r.lanes.remain, r.lanes.remainAt = r.lanes.remaining(r.done), r.o.Now()
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
		r.writeLocked(showCursor + r.clearLocked() + r.takePendingLocked())
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

// clearLocked returns the sequence that erases the frame: back to its
// first line, then clear to the end of the screen.
func (r *tty) clearLocked() string {
	if r.height == 0 {
		return ""
	}
	up := r.up
	r.height, r.up = 0, 0
	if up == 0 {
		return "\r\x1b[J"
	}
	return fmt.Sprintf("\r\x1b[%dA\x1b[J", up)
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

// drawLocked replaces the frame with the current state, the pending
// permanent lines above it, in one write.
func (r *tty) drawLocked() {
	width, rows := r.o.width(), r.o.height()
	var block, spill []string
	if r.q.id != 0 {
		block, spill = r.blockLocked(width, rows)
	}
	var b strings.Builder
	b.WriteString(syncStart + hideCursor)
	b.WriteString(r.clearLocked())
	if !r.hold {
		b.WriteString(r.takePendingLocked())
	}
	if spill != nil {
		for _, l := range spill {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		r.spilled, r.hold = r.q.id, true
	}
	areaRows := min(maxRows+1+maxBuildRows, rows-1)
	if r.lanes != nil {
		areaRows = min(len(r.lanes.order)+maxRows+1+maxBuildRows, rows-1)
	}
	if block != nil {
		areaRows = min(areaRows, rows-len(block))
	}
	lines := append(r.areaLocked(areaRows), block...)
	b.WriteString(strings.Join(lines, "\n"))
	r.height, r.up = len(lines), len(lines)-1
	if block == nil {
		// No prompt: the cursor waits, hidden, on the line below.
		b.WriteByte('\n')
		r.up++
	}
	if block != nil {
		b.WriteString(showCursor)
	}
	b.WriteString(syncEnd)
	r.dirty = false
	r.writeLocked(b.String())
}

// blockLocked lays the open question out for a terminal of width columns
// and rows lines: its block under the area, and what goes above it (its
// text, once, when block and overall line would not fit together).
func (r *tty) blockLocked(width, rows int) (block, spill []string) {
	header, above, prompt := blockRows(r.pal, r.q, width, "")
	if r.spilled == r.q.id {
		return append(header, prompt...), nil
	}
	if 1+len(header)+len(above)+len(prompt) <= rows {
		return append(append(header, above...), prompt...), nil
	}
	return append(header, prompt...), append(header, above...)
}

// showQuestion puts v on screen under the area (id 0: no question) and
// draws at once.
func (r *tty) showQuestion(v questionView) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.q.id != 0 && r.q.id != v.id && r.hold {
		r.hold = false
	}
	r.q = v
	r.redrawLocked()
}

// editQuestion shows what is typed at the open question, and the note
// of its last answer.
func (r *tty) editQuestion(id uint64, input, note string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.q.id != id {
		return
	}
	r.q.input, r.q.note = input, note
	r.redrawLocked()
}

// answered ends the open question id: its block stays on screen, with the
// answer, as permanent lines (only its prompt row when its text went
// above already).
func (r *tty) answered(id uint64, answer, note string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.q.id != id {
		return
	}
	v := r.q
	v.note = ""
	header, above, prompt := blockRows(r.pal, v, r.o.width(), answer)
	var kept []string
	if r.spilled != id {
		kept = append(header, above...)
	}
	kept = append(kept, prompt...)
	if note != "" {
		kept = append(kept, fit(r.o.width()-1, seg{note, r.pal.yellow}))
	}
	// Not through printLocked: an answer is never dropped for maxPending.
	// The lines held back while the text was above come after the answer.
	if r.hold {
		r.pending = append(kept, r.pending...)
	} else {
		r.pending = append(r.pending, kept...)
	}
	r.q, r.hold = questionView{}, false
	r.dirty = true
	if r.finished {
		r.writeLocked(r.takePendingLocked())
	}
	r.redrawLocked()
}

// printBlock prints lines as a block of permanent lines under label.
func (r *tty) printBlock(label string, lines []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.o.width() - 1
	block := []string{fit(w, seg{blockTitle(label) + " ›", func(s string) string { return r.pal.bold(r.pal.cyan(s)) }})}
	for _, l := range lines {
		block = append(block, wrapSegs(w, seg{"  " + l, nil})...)
	}
	r.pending = append(r.pending, block...)
	r.dirty = true
	if r.finished {
		r.writeLocked(r.takePendingLocked())
	}
}

// setAsking records which tasks have a question open or waiting; their
// lines in the area say so.
func (r *tty) setAsking(asks map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asks = asks
	r.dirty = true
}

// redrawLocked draws now, when drawing is allowed: a question's changes
// (a key typed) are not left for the next tick.
func (r *tty) redrawLocked() {
	r.dirty = true
	if r.paused == 0 && !r.finished {
		r.drawLocked()
	}
}

// areaLocked renders one line per running task and the overall line, each
// cut one column short of the width so the terminal never wraps it; at
// most rows lines (the overall line always).
func (r *tty) areaLocked(rows int) []string {
	now := r.o.Now()
	width := r.o.width() - 1
	p := r.pal
	frame := spinner[r.frame%len(spinner)]
	if r.lanes != nil {
		return append(r.areaLanes(max(rows-1, 0), now, width, frame), r.overallLocked(now, width))
	}
	var lines []string
	room := max(min(rows, maxRows+1)-1, 0) // lines for running tasks
	shown := r.running
	if len(shown) > room {
		shown = shown[:max(room-1, 0)]
	}
	// What the running tasks leave of the room goes to the build view,
	// to the first task that has one (there is one build per run).
	spare := rows - 1 - len(shown)
	if len(shown) < len(r.running) {
		spare = 0
	}
	for _, l := range shown {
		status := l.status
		var detail []string
		if bp := l.progress; bp != nil {
			if bp.Evaluating {
				status = evalStatus(status, bp, now)
			} else if detail = buildLines(p, bp, now, width, spare); detail != nil {
				status = bp.Counts()
				spare -= len(detail)
			}
		}
		segs := []seg{
			{frame + " ", p.cyan},
			{pad(l.name, r.nameW) + " ", nil},
			{" " + dur(now.Sub(l.start)), p.dim},
		}
		if l.eta > 0 {
			segs = append(segs, seg{" ~" + dur(l.eta), p.dim})
		}
		if open, ok := r.asks[l.name]; ok {
			if open {
				segs = append(segs, seg{"  ? asking below", p.cyan})
			} else {
				segs = append(segs, seg{"  ? question waiting", p.dim})
			}
		}
		if status != "" {
			segs = append(segs, seg{"  " + status, nil})
		}
		lines = append(lines, fit(width, segs...))
		lines = append(lines, detail...)
	}
	if n := len(r.running) - len(shown); n > 0 && room > 0 {
		lines = append(lines, fit(width, seg{fmt.Sprintf("  … and %d more running", n), p.dim}))
	}
	return append(lines, r.overallLocked(now, width))
}

// overallLocked is the area's last line: tasks done, time, and the
// remaining critical path's estimate.
func (r *tty) overallLocked(now time.Time, width int) string {
	total := max(r.total, len(r.done)+len(r.running))
	overall := fmt.Sprintf("%d/%d tasks · %s", len(r.done), total, dur(now.Sub(r.start)))
	if r.o.RemainingETA != nil {
		if left := r.remain - now.Sub(r.remainAt); left > 0 && len(r.done) < total {
			overall += " · ~" + dur(left) + " left"
		}
	}
	return fit(width, seg{overall, r.pal.bold})
}

// finish stops the ticker and leaves only permanent lines on screen.
func (r *tty) finish() {
	r.once.Do(func() {
		r.stopTicks()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.writeLocked(showCursor + r.clearLocked() + r.takePendingLocked())
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
