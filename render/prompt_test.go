package render

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// countPauser records Pause and Resume calls.
type countPauser struct {
	mu             sync.Mutex
	pauses, resume int
}

func (c *countPauser) Pause()  { c.mu.Lock(); c.pauses++; c.mu.Unlock() }
func (c *countPauser) Resume() { c.mu.Lock(); c.resume++; c.mu.Unlock() }
func (c *countPauser) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pauses, c.resume
}

func TestPrompterWithoutTerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var pz countPauser
	for _, p := range []*Prompter{NewPrompter(null, null, &pz, true), NewPrompter(nil, nil, &pz, false)} {
		if p.Interactive() {
			t.Fatal("interactive on /dev/null")
		}
		ctx := context.Background()
		start := time.Now()
		if v, err := p.Confirm(ctx, tasks.Question[bool]{Default: true, NonInteractive: false}); v || err != nil {
			t.Errorf("Confirm = %v, %v", v, err)
		}
		if v, err := p.Choose(ctx, tasks.Question[rune]{Default: 'y', NonInteractive: 's'},
			[]tasks.Choice{{Key: 'y', Label: "yes"}, {Key: 's', Label: "skip"}}); v != 's' || err != nil {
			t.Errorf("Choose = %q, %v", v, err)
		}
		if v, err := p.Input(ctx, tasks.Question[string]{Default: "d", NonInteractive: "ni"}); v != "ni" || err != nil {
			t.Errorf("Input = %q, %v", v, err)
		}
		if v, err := p.MultiSelect(ctx, tasks.Question[[]int]{Default: []int{0}, NonInteractive: []int{1}},
			[]string{"a", "b"}); len(v) != 1 || v[0] != 1 || err != nil {
			t.Errorf("MultiSelect = %v, %v", v, err)
		}
		p.Println("dropped")
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("non-interactive answers took %s", d)
		}
	}
	if a, b := pz.counts(); a+b != 0 {
		t.Errorf("paused %d and resumed %d times without a terminal", a, b)
	}
}

// ptyTerm is a pseudo-terminal: the prompter uses tty, the test types into
// and reads from ptmx.
type ptyTerm struct {
	ptmx, tty *os.File
	out       syncBuf
	done      chan struct{}
}

func newTerm(t *testing.T) *ptyTerm {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	tm := &ptyTerm{ptmx: ptmx, tty: tty, done: make(chan struct{})}
	// Drain the master, or the prompter blocks once the buffer is full.
	go func() {
		defer close(tm.done)
		_, _ = io.Copy(&tm.out, ptmx)
	}()
	t.Cleanup(func() {
		_ = tty.Close()
		_ = ptmx.Close()
		<-tm.done
	})
	return tm
}

func (tm *ptyTerm) typeLine(t *testing.T, s string) {
	t.Helper()
	if _, err := tm.ptmx.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// flushMark is what flushOutput writes.
const flushMark = "<<flushed>>"

// flushOutput writes a marker to the terminal and waits until it has been
// read: whatever was written to the terminal before it has arrived too.
func (tm *ptyTerm) flushOutput(t *testing.T) {
	t.Helper()
	if _, err := tm.tty.Write([]byte(flushMark)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the marker", func() bool { return strings.Contains(tm.out.String(), flushMark) })
}

// answer waits for a question to show, then types s.
func (tm *ptyTerm) answer(t *testing.T, question, s string) {
	t.Helper()
	eventually(t, "question "+question, func() bool { return strings.Contains(tm.out.String(), question) })
	tm.typeLine(t, s)
}

func TestPrompterOnPseudoTerminal(t *testing.T) {
	tm := newTerm(t)
	var pz countPauser
	p := NewPrompter(tm.tty, tm.tty, &pz, false)
	if !p.Interactive() {
		t.Fatal("not interactive on a pty")
	}
	ctx := context.Background()

	go tm.answer(t, "Activate?", "y\n")
	if v, err := p.Confirm(ctx, tasks.Question[bool]{Text: "Activate?"}); !v || err != nil {
		t.Errorf("Confirm = %v, %v", v, err)
	}
	go tm.answer(t, "Really?", "maybe\n")
	go func() {
		eventually(t, "a second ask", func() bool { return strings.Contains(tm.out.String(), "please answer y or n") })
		tm.typeLine(t, "NO\n")
	}()
	if v, err := p.Confirm(ctx, tasks.Question[bool]{Text: "Really?", Default: true}); v || err != nil {
		t.Errorf("Confirm after a bad answer = %v, %v", v, err)
	}
	go tm.answer(t, "Default?", "\n")
	if v, err := p.Confirm(ctx, tasks.Question[bool]{Text: "Default?", Default: true}); !v || err != nil {
		t.Errorf("Confirm on Enter = %v, %v", v, err)
	}

	choices := []tasks.Choice{{Key: 'y', Label: "yes"}, {Key: 'n', Label: "no"}, {Key: 'q', Label: "quit"}}
	go tm.answer(t, "Apply?", "q\n")
	if v, err := p.Choose(ctx, tasks.Question[rune]{Text: "Apply?", Default: 'y'}, choices); v != 'q' || err != nil {
		t.Errorf("Choose = %q, %v", v, err)
	}
	go tm.answer(t, "Apply again?", "Quit\n")
	if v, err := p.Choose(ctx, tasks.Question[rune]{Text: "Apply again?", Default: 'y'}, choices); v != 'q' || err != nil {
		t.Errorf("Choose by label = %q, %v", v, err)
	}
	go tm.answer(t, "Third?", "x\nz\nw\n")
	if v, err := p.Choose(ctx, tasks.Question[rune]{Text: "Third?", Default: 'n'}, choices); v != 'n' || err != nil {
		t.Errorf("Choose after 3 bad answers = %q, %v", v, err)
	}

	go tm.answer(t, "Message", "  fix the build  \n")
	if v, err := p.Input(ctx, tasks.Question[string]{Text: "Message", Default: "d"}); v != "fix the build" || err != nil {
		t.Errorf("Input = %q, %v", v, err)
	}

	go tm.answer(t, "Delete which?", "1 3-4\n")
	v, err := p.MultiSelect(ctx, tasks.Question[[]int]{Text: "Delete which?", Default: []int{1}},
		[]string{"gen 1", "gen 2", "gen 3", "gen 4", "gen 5"})
	if err != nil || len(v) != 3 || v[0] != 0 || v[1] != 2 || v[2] != 3 {
		t.Errorf("MultiSelect = %v, %v", v, err)
	}
	if !strings.Contains(tm.out.String(), "2 [x] gen 2") {
		t.Errorf("the default is not marked:\n%s", tm.out.String())
	}

	p.Println("a line for the person")
	eventually(t, "Println", func() bool { return strings.Contains(tm.out.String(), "a line for the person") })

	if a, b := pz.counts(); a != 9 || b != 9 {
		t.Errorf("paused %d, resumed %d times; want 9 and 9", a, b)
	}
}

func TestPrompterCanceledWhileWaiting(t *testing.T) {
	tm := newTerm(t)
	p := NewPrompter(tm.tty, tm.tty, nil, false)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		eventually(t, "question", func() bool { return strings.Contains(tm.out.String(), "Name") })
		cancel()
	}()
	start := time.Now()
	_, err := p.Input(ctx, tasks.Question[string]{Text: "Name", Default: "x"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Input = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %s", d)
	}
	// The next question still gets the next line.
	go tm.answer(t, "Again", "y\n")
	if v, err := p.Confirm(context.Background(), tasks.Question[bool]{Text: "Again"}); !v || err != nil {
		t.Errorf("Confirm after a canceled question = %v, %v", v, err)
	}
	// Already canceled: no question at all.
	if _, err := p.Confirm(ctx, tasks.Question[bool]{Text: "Never shown"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Confirm on a done context = %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if strings.Contains(tm.out.String(), "Never shown") {
		t.Errorf("a question was shown on a done context")
	}
}

func TestPrompterEndOfInput(t *testing.T) {
	tm := newTerm(t)
	p := NewPrompter(tm.tty, tm.tty, nil, false)
	go tm.answer(t, "Sure?", "\x04") // Ctrl-D
	if v, err := p.Confirm(context.Background(), tasks.Question[bool]{Text: "Sure?", Default: true, NonInteractive: false}); v || err != nil {
		t.Errorf("Confirm on Ctrl-D = %v, %v; want the non-interactive answer", v, err)
	}
}

// The prompt and the live area share one terminal: while a question is on
// screen, only the question is written.
func TestPromptPausesLiveArea(t *testing.T) {
	tm := newTerm(t)
	c := newClock()
	tk := &manualTicker{}
	r, err := New(ModeTTY, Options{Out: tm.tty, Now: c.Now, Tasks: testTasks, Width: func() int { return 80 }, Ticker: tk.Ticker})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := NewPrompter(tm.tty, tm.tty, r, false)

	r.Emit(schedule.Event{Task: "build", Kind: schedule.Start})
	r.Emit(schedule.Event{Task: "accept", Kind: schedule.Start})
	tk.Tick()
	eventually(t, "the area", func() bool { return strings.Contains(tm.out.String(), "accept") })
	// The build keeps talking, and the display keeps ticking.
	talk := func() {
		c.Add(time.Second)
		r.Emit(schedule.Event{Task: "build", Kind: schedule.Status, Status: "building"})
		r.Println("[build] line")
		tk.Tick()
	}
	r.Emit(schedule.Event{Task: "accept", Kind: schedule.Prompt})
	answered := make(chan bool)
	go func() {
		v, _ := p.Confirm(context.Background(), tasks.Question[bool]{Text: "Keep the new generation?"})
		answered <- v
	}()
	eventually(t, "the question", func() bool { return strings.Contains(tm.out.String(), "Keep the new generation?") })
	for range 5 {
		talk()
	}
	// What the ticks wrote, if anything, has reached the reader once a
	// marker written after them has.
	tm.flushOutput(t)
	s := tm.out.String()
	after, _, _ := strings.Cut(s[strings.Index(s, "? Keep the new generation?"):], flushMark)
	if after != "? Keep the new generation? [y/N] " {
		t.Errorf("written while the question was up: %q", after)
	}
	tm.typeLine(t, "y\n")
	if !<-answered {
		t.Error("Confirm = false")
	}
	r.Emit(schedule.Event{Task: "accept", Kind: schedule.Release})
	n := tm.out.Len()
	talk()
	eventually(t, "the area again", func() bool {
		s := tm.out.String()[n:]
		return strings.Contains(s, "building") && strings.Contains(s, "[build] line")
	})
}
