package render

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// settle is how long input is ignored after a question took the screen
// from another one that was still open: keys typed that soon were meant
// for the question the person was reading.
const settle = 400 * time.Millisecond

// linger is how long the screen waits, after an answer, for the next
// question of the same task (the review's next suggestion, accept's
// commit message after keep) before another task's question is shown:
// a task's questions in a row stay together.
const linger = 250 * time.Millisecond

// maxAnswer caps one answer line; a paste of a megabyte is not an answer.
const maxAnswer = 64 << 10

// Asker is who asks: the label of its question blocks and its place in
// the queue.
type Asker struct {
	// Label names the task: a block is shown under "label ›".
	Label string
	// System: the task decides about the new system (the critical chain:
	// activate's --ask, accept's keep-or-roll-back). Its questions go
	// before every other, and take the screen from an open question that
	// is not one.
	System bool
	// Phase orders the rest, lowest first; 0 (none) goes after every
	// phase. Among equals, the question asked first is shown first.
	Phase int
}

// before reports whether a's questions go before b's.
func (a Asker) before(b Asker) bool {
	if a.System != b.System {
		return a.System
	}
	pa, pb := a.Phase, b.Phase
	if pa <= 0 {
		pa = 1 << 30
	}
	if pb <= 0 {
		pb = 1 << 30
	}
	return pa < pb
}

// Conversation is the one owner of the terminal's questions: every
// task's Prompter asks through it. It keeps the questions waiting in one
// queue and puts one on screen at a time, as one block (the task's
// label, the text it showed, the question, the prompt), drawn by the
// live display under its area, which goes on updating. It reads the
// answer key by key on the terminal (rawInput) and keeps what was typed
// so far, so the display can draw the prompt line again at every frame.
//
// Order: the questions of Askers that are System first, then by phase,
// then by arrival. A System question takes the screen from an open one
// that is not; that one waits, unanswered, and comes back after. Right
// after an answer, the same task's next question goes first (linger). An
// answer belongs to the question on screen when its Enter is read, and
// that question is gone from the screen in the same step: an answer is
// never given to another question. What was typed before a question was
// on screen is discarded, and so are keys typed in the first moments
// (settle) after a question took another's place.
//
// While a task's command has the terminal (a Prompt event of the
// scheduler: an interactive user task), no question is shown and nothing
// is read; the open one waits.
//
// It asks only when its input is a terminal and a live display (the tty
// mode) drew it: plain, json and quiet output never ask. Without that,
// every question gets its NonInteractive answer at once.
type Conversation struct {
	in          *os.File
	interactive bool

	mu      sync.Mutex
	wake    *sync.Cond // the reader waits on it for a question to read for
	st      *tty       // the live display; nil: nobody is asked
	now     func() time.Time
	seq     uint64 // arrival order of questions
	shows   uint64 // one more each time a question is put on screen
	open    *question
	pending []*question
	held    map[string][]string // Println text per task, for its next question
	holders map[string]bool     // tasks whose command has the terminal
	gone    bool                // the terminal ended: nothing is asked any more
	closed  bool
	restore func() // puts the terminal's mode back; nil while it is as found
	ed      lineEditor
	deaf    time.Time     // input before this is ignored (see settle)
	after   string        // the task just answered, whose next question goes first (see linger)
	lingers uint64        // one more at each answer: a linger's timer ends only its own
	reader  chan struct{} // closed when the reader ends; nil before it starts
}

// question is one question in the queue.
type question struct {
	who  Asker
	seq  uint64
	view questionView
	// submit takes a line typed at the prompt: done when it settles the
	// answer, else note says why it was not taken. note may also come
	// with done (the default was taken after bad answers).
	submit func(line string) (done bool, note string)
	// noAnswer settles the answer given without a terminal (Ctrl-D, or
	// the terminal gone).
	noAnswer func()
	done     chan struct{}
}

// NewConversation returns the conversation that asks on in; nil, or a
// file that is not a terminal, makes one that never asks. It asks only
// once a live display uses it (Options.Questions).
func NewConversation(in *os.File) *Conversation {
	c := &Conversation{in: in, interactive: in != nil && isTerminal(in),
		held: map[string][]string{}, holders: map[string]bool{}, now: time.Now}
	c.wake = sync.NewCond(&c.mu)
	return c
}

// attach makes st the display that draws the questions.
func (c *Conversation) attach(st *tty, now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st == nil {
		c.st, c.now = st, now
	}
}

// Prompter returns the prompter of one task: its questions are shown
// under who.Label and queued as who says.
func (c *Conversation) Prompter(who Asker) *Prompter { return &Prompter{c: c, who: who} }

// asking reports whether questions are really asked now.
func (c *Conversation) asking() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.askingLocked()
}

func (c *Conversation) askingLocked() bool {
	return c.interactive && c.st != nil && !c.gone && !c.closed
}

// hold keeps text of label's task for its next question.
func (c *Conversation) hold(label, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.askingLocked() {
		return
	}
	if text = strings.TrimRight(text, "\n"); text != "" {
		c.held[label] = append(c.held[label], text)
	}
}

// ask puts q in the queue and waits for its answer (nil) or for ctx.
func (c *Conversation) ask(ctx context.Context, q *question) error {
	c.mu.Lock()
	if !c.askingLocked() {
		c.mu.Unlock()
		q.noAnswer()
		return nil
	}
	if held := c.held[q.who.Label]; len(held) > 0 {
		q.view.body = append(cleanLines(strings.Join(held, "\n")), q.view.body...)
		delete(c.held, q.who.Label)
	}
	c.seq++
	q.seq, q.done = c.seq, make(chan struct{})
	c.pending = append(c.pending, q)
	c.scheduleLocked()
	c.mu.Unlock()

	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-q.done: // answered as ctx ended: the answer stands
		return nil
	default:
	}
	c.withdrawLocked(q)
	return ctx.Err()
}

// bestLocked is the waiting question that goes first, nil when none.
func (c *Conversation) bestLocked() *question {
	var best *question
	for _, q := range c.pending {
		if best == nil || q.who.before(best.who) || !best.who.before(q.who) && q.seq < best.seq {
			best = q
		}
	}
	return best
}

// firstOfLocked is the task label's first waiting question, nil when
// none.
func (c *Conversation) firstOfLocked(label string) *question {
	var first *question
	for _, q := range c.pending {
		if q.who.Label == label && (first == nil || q.seq < first.seq) {
			first = q
		}
	}
	return first
}

// scheduleLocked puts the right question on screen: the first waiting
// one when none is open, or a System one in place of an open one that is
// not System.
func (c *Conversation) scheduleLocked() {
	defer c.tellLocked()
	if c.st == nil || c.closed || c.gone || len(c.holders) > 0 {
		return
	}
	best := c.bestLocked()
	if c.after != "" && c.open == nil && best != nil && (best.who.Label == c.after || !best.who.System) {
		// Just after one of its answers, the task's next question goes
		// first; another waits for the linger, unless it is the system's.
		next := c.firstOfLocked(c.after)
		if next == nil {
			return
		}
		best = next
	}
	switch {
	case c.open == nil && best == nil:
		c.cookedLocked()
	case c.open == nil:
		c.showLocked(best, false)
	case best != nil && best.who.System && !c.open.who.System:
		c.pending = append(c.pending, c.open)
		c.showLocked(best, true)
	}
}

// tellLocked tells the display which tasks have a question open or
// waiting, for their lines in the area.
func (c *Conversation) tellLocked() {
	if c.st == nil {
		return
	}
	asks := map[string]bool{}
	for _, q := range c.pending {
		asks[q.who.Label] = false
	}
	if c.open != nil {
		asks[c.open.who.Label] = true
	}
	c.st.setAsking(asks)
}

// showLocked puts q on screen, in place of the open question when
// replaced.
func (c *Conversation) showLocked(q *question, replaced bool) {
	c.pending = slices.DeleteFunc(c.pending, func(p *question) bool { return p == q })
	c.open = q
	c.ed = lineEditor{}
	if c.restore == nil {
		if r, err := rawInput(c.in); err == nil {
			c.restore = r
		}
	}
	// Type-ahead was meant for something else: this question was not on
	// screen when it was typed.
	flushInput(c.in)
	c.deaf = time.Time{}
	if replaced {
		c.deaf = c.now().Add(settle)
	}
	c.shows++
	q.view.id, q.view.input = c.shows, ""
	c.tellLocked()
	c.st.showQuestion(q.view)
	c.startReaderLocked()
	c.wake.Broadcast()
}

// finishLocked ends the open question: its block, with the answer, stays
// on screen above the live area, and the next question comes.
func (c *Conversation) finishLocked(answer, note string) {
	q := c.open
	c.open = nil
	c.st.answered(q.view.id, answer, note)
	c.lingers++
	c.after = q.who.Label
	n := c.lingers
	time.AfterFunc(linger, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.lingers == n {
			c.after = ""
			c.scheduleLocked()
		}
	})
	c.scheduleLocked()
	// The task hears its answer once the screen and the terminal's mode
	// say it was taken.
	close(q.done)
}

// withdrawLocked takes q out of the queue (its task ended or was
// canceled); on screen, it goes without a trace.
func (c *Conversation) withdrawLocked(q *question) {
	if c.open == q {
		c.open = nil
		c.st.showQuestion(questionView{})
		c.scheduleLocked()
		return
	}
	c.pending = slices.DeleteFunc(c.pending, func(p *question) bool { return p == q })
	c.tellLocked()
}

// cookedLocked gives the terminal its own mode back.
func (c *Conversation) cookedLocked() {
	if c.restore != nil {
		c.restore()
		c.restore = nil
	}
}

// suspend hands the terminal to task's command: the open question waits,
// nothing is read. The display is paused by the same event.
func (c *Conversation) suspend(task string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holders[task] {
		return
	}
	c.holders[task] = true
	if c.open != nil {
		c.pending = append(c.pending, c.open)
		c.open = nil
		if c.st != nil {
			c.st.showQuestion(questionView{})
		}
	}
	c.tellLocked()
	c.cookedLocked()
}

// resume takes the terminal back from task's command.
func (c *Conversation) resume(task string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holders[task] {
		return
	}
	delete(c.holders, task)
	c.scheduleLocked()
}

// taskEnded shows the text task held for a question it did not ask, as
// a block of its own.
func (c *Conversation) taskEnded(task string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	text := c.held[task]
	delete(c.held, task)
	if len(text) > 0 && c.askingLocked() {
		c.st.printBlock(task, cleanLines(strings.Join(text, "\n")))
	}
}

// goneLocked: the terminal ended (end of file, or an error reading it).
// Every question gets its answer for no terminal, now and from now on.
func (c *Conversation) goneLocked() {
	c.gone = true
	if c.open != nil {
		c.st.showQuestion(questionView{})
		c.pending = append(c.pending, c.open)
		c.open = nil
	}
	for _, q := range c.pending {
		q.noAnswer()
		close(q.done)
	}
	c.pending = nil
	c.tellLocked()
	c.cookedLocked()
	c.wake.Broadcast()
}

// Close puts the terminal's mode back and stops reading; questions still
// waiting (there should be none) get their answer for no terminal.
// Idempotent.
func (c *Conversation) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	if c.st != nil && !c.gone {
		c.goneLocked()
	}
	c.closed = true
	c.cookedLocked()
	c.wake.Broadcast()
	r := c.reader
	c.mu.Unlock()
	if r != nil {
		<-r
	}
	return nil
}

// startReaderLocked starts the goroutine reading the terminal, once.
func (c *Conversation) startReaderLocked() {
	if c.reader == nil {
		c.reader = make(chan struct{})
		go c.read(c.reader)
	}
}

// read reads the terminal while a question is open. It waits for input
// in slices of pollMS without the lock, then reads under it — only what
// is there to read, so it never blocks holding the lock, and nothing
// typed is taken once the question is gone.
func (c *Conversation) read(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 4096)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for !c.closed && !c.gone && c.open == nil {
			c.wake.Wait()
		}
		if c.closed || c.gone {
			return
		}
		c.mu.Unlock()
		ready, err := waitReadable(c.in, pollMS)
		c.mu.Lock()
		switch {
		case c.closed || c.gone:
			return
		case err != nil:
			c.goneLocked()
			return
		case !ready || c.open == nil:
			continue
		}
		// A question shown since the wait flushed the input: look again.
		if ready, _ := waitReadable(c.in, 0); !ready {
			continue
		}
		n, err := c.in.Read(buf)
		if n > 0 {
			c.feedLocked(buf[:n])
		}
		if err != nil || n == 0 {
			// End of file, or EIO from a terminal whose other side is gone.
			c.goneLocked()
			return
		}
	}
}

// feedLocked passes typed bytes to the open question's line editor.
func (c *Conversation) feedLocked(b []byte) {
	q := c.open
	if q == nil {
		return
	}
	if c.now().Before(c.deaf) {
		c.ed = lineEditor{}
		return
	}
	data := append(c.ed.partial, b...)
	c.ed.partial = nil
	for len(data) > 0 && c.open == q {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 && !utf8.FullRune(data) {
			c.ed.partial = append([]byte(nil), data...)
			break
		}
		data = data[size:]
		if c.ed.key(r) {
			c.enterLocked(q)
		}
		if c.ed.eof {
			q.noAnswer()
			c.finishLocked("(Ctrl-D: no answer)", "")
		}
	}
	// Whatever follows an answer in the same read was typed ahead of the
	// next question: dropped with the rest.
	if c.open == q {
		c.st.editQuestion(q.view.id, string(c.ed.input), q.view.note)
	}
}

// enterLocked submits the line typed for q.
func (c *Conversation) enterLocked(q *question) {
	line := strings.TrimSpace(string(c.ed.input))
	c.ed.input = c.ed.input[:0]
	done, note := q.submit(line)
	if !done {
		q.view.note = note
		return
	}
	if line == "" {
		line = "(Enter)"
	}
	c.finishLocked(line, note)
}

// lineEditor is the minimal editing of an answer: printable input,
// backspace, Ctrl-U, Enter, Ctrl-D on an empty line; escape sequences
// (arrow keys) and other control keys are ignored. Ctrl-C never gets
// here: the terminal turns it into SIGINT (see rawInput).
type lineEditor struct {
	input   []rune
	partial []byte // the start of a UTF-8 sequence the next read completes
	esc     int    // where in an escape sequence the input is
	cr      bool   // the last key was \r: a \n right after it is the same Enter
	eof     bool   // Ctrl-D on an empty line
}

const (
	escNone = iota
	escStart
	escCSI
	escSS3
)

// key takes one key; it reports Enter.
func (e *lineEditor) key(r rune) bool {
	if e.esc != escNone {
		switch e.esc {
		case escStart:
			switch r {
			case '[':
				e.esc = escCSI
			case 'O':
				e.esc = escSS3
			default:
				e.esc = escNone
			}
		case escCSI:
			if r >= 0x40 && r <= 0x7e {
				e.esc = escNone
			}
		default:
			e.esc = escNone
		}
		return false
	}
	cr := e.cr
	e.cr = false
	switch {
	case r == 0x1b:
		e.esc = escStart
	case r == '\r':
		e.cr = true
		return true
	case r == '\n':
		return !cr
	case r == 0x7f || r == 0x08:
		if n := len(e.input); n > 0 {
			e.input = e.input[:n-1]
		}
	case r == 0x15: // Ctrl-U
		e.input = e.input[:0]
	case r == 0x04:
		e.eof = len(e.input) == 0
	case r == utf8.RuneError || !unicode.IsPrint(r):
	default:
		if len(e.input) < maxAnswer {
			e.input = append(e.input, r)
		}
	}
	return false
}

// cleanLines splits text a task shows (a question, a table, a diff) into
// lines safe for the screen: what does not print is shown escaped
// (cleanText), and a tab is four spaces, so every line's width is known.
func cleanLines(text string) []string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return nil
	}
	lines := strings.Split(cleanText(text), "\n")
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, "\t", "    ")
	}
	return lines
}
