package render

import (
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/internal/ansi"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// ptyTerm is a pseudo-terminal: the conversation and the display use
// tty, the test types into and reads from ptmx.
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
	// Drain the master, or the display blocks once the buffer is full.
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
	n := strings.Count(tm.out.String(), flushMark)
	if _, err := tm.tty.Write([]byte(flushMark)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the marker", func() bool { return strings.Count(tm.out.String(), flushMark) > n })
}

// asking is a live display on a pseudo-terminal with its conversation:
// the ticks, the clock and the keys are the test's.
type asking struct {
	*ptyTerm
	r   Renderer
	c   *Conversation
	clk *clock
	tk  *manualTicker
}

func newAsking(t *testing.T, width, height int) *asking {
	t.Helper()
	tm := newTerm(t)
	a := &asking{ptyTerm: tm, c: NewConversation(tm.tty), clk: newClock(), tk: &manualTicker{}}
	r, err := New(ModeTTY, Options{Out: tm.tty, Now: a.clk.Now, Tasks: testTasks, Ticker: a.tk.Ticker, Questions: a.c,
		Width: func() int { return width }, Height: func() int { return height }})
	if err != nil {
		t.Fatal(err)
	}
	a.r = r
	t.Cleanup(func() {
		_ = a.c.Close()
		_ = r.Close()
	})
	return a
}

// frame is the screen's last whole frame, without escape sequences.
func (a *asking) frame() string {
	s := a.out.String()
	if i := strings.LastIndex(s, syncEnd); i >= 0 {
		s = s[:i]
	}
	return ansi.Strip(lastFrame(s))
}

// waitFrame waits until the last frame holds every one of texts.
func (a *asking) waitFrame(t *testing.T, texts ...string) string {
	t.Helper()
	var f string
	eventually(t, "a frame with "+strings.Join(texts, ", "), func() bool {
		f = a.frame()
		for _, s := range texts {
			if !strings.Contains(f, s) {
				return false
			}
		}
		return true
	})
	return f
}

// openLabel is the label of the question on screen, "" when none.
func (a *asking) openLabel() string {
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	if a.c.open == nil {
		return ""
	}
	return a.c.open.who.Label
}

func (a *asking) waiting() int {
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	return len(a.c.pending)
}

// confirm asks q in the background as who; the answer comes on the channel.
func (a *asking) confirm(who Asker, q tasks.Question[bool]) <-chan bool {
	ch := make(chan bool, 1)
	p := a.c.Prompter(who)
	go func() {
		v, err := p.Confirm(context.Background(), q)
		if err != nil {
			panic(err)
		}
		ch <- v
	}()
	return ch
}

func answerOf(t *testing.T, what string, ch <-chan bool) bool {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(3 * time.Second):
		t.Fatalf("%s was never answered", what)
	}
	return false
}

// Without a terminal, or without a live display to draw them, questions
// get their NonInteractive answer at once and nothing is written.
func TestPrompterWithoutTerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	tm := newTerm(t)
	var out syncBuf
	plain, err := New(ModePlain, Options{Out: &out, Questions: NewConversation(tm.tty)})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	onNull := NewConversation(null)
	live, err := New(ModeTTY, Options{Out: &out, Questions: onNull, Ticker: (&manualTicker{}).Ticker})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	for name, c := range map[string]*Conversation{"nil": NewConversation(nil), "/dev/null": onNull, "plain output": NewConversation(tm.tty)} {
		p := c.Prompter(Asker{Label: "t"})
		if p.Interactive() {
			t.Fatalf("%s: interactive", name)
		}
		ctx := context.Background()
		start := time.Now()
		if v, err := p.Confirm(ctx, tasks.Question[bool]{Default: true, NonInteractive: false}); v || err != nil {
			t.Errorf("%s: Confirm = %v, %v", name, v, err)
		}
		if v, err := p.Choose(ctx, tasks.Question[rune]{Default: 'y', NonInteractive: 's'},
			[]tasks.Choice{{Key: 'y', Label: "yes"}, {Key: 's', Label: "skip"}}); v != 's' || err != nil {
			t.Errorf("%s: Choose = %q, %v", name, v, err)
		}
		if v, err := p.Input(ctx, tasks.Question[string]{Default: "d", NonInteractive: "ni"}); v != "ni" || err != nil {
			t.Errorf("%s: Input = %q, %v", name, v, err)
		}
		if v, err := p.MultiSelect(ctx, tasks.Question[[]int]{Default: []int{0}, NonInteractive: []int{1}},
			[]string{"a", "b"}); len(v) != 1 || v[0] != 1 || err != nil {
			t.Errorf("%s: MultiSelect = %v, %v", name, v, err)
		}
		p.Println("dropped")
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("%s: non-interactive answers took %s", name, d)
		}
	}
	if out.Len() != 0 {
		t.Errorf("written without a terminal: %q", out.String())
	}
}

func TestPrompterOnPseudoTerminal(t *testing.T) {
	a := newAsking(t, 100, 40)
	p := a.c.Prompter(Asker{Label: "accept"})
	if !p.Interactive() {
		t.Fatal("not interactive on a pty")
	}
	ctx := context.Background()
	answer := func(question, keys string) {
		t.Helper()
		go func() {
			eventually(t, "question "+question, func() bool { return strings.Contains(a.frame(), question) })
			a.typeLine(t, keys)
		}()
	}

	answer("Activate?", "y\r")
	if v, err := p.Confirm(ctx, tasks.Question[bool]{Text: "Activate?"}); !v || err != nil {
		t.Errorf("Confirm = %v, %v", v, err)
	}
	answer("Really?", "maybe\r")
	go func() {
		eventually(t, "a second ask", func() bool { return strings.Contains(a.frame(), "please answer y or n") })
		a.typeLine(t, "NO\n")
	}()
	if v, err := p.Confirm(ctx, tasks.Question[bool]{Text: "Really?", Default: true}); v || err != nil {
		t.Errorf("Confirm after a bad answer = %v, %v", v, err)
	}
	answer("Default?", "\r")
	if v, err := p.Confirm(ctx, tasks.Question[bool]{Text: "Default?", Default: true}); !v || err != nil {
		t.Errorf("Confirm on Enter = %v, %v", v, err)
	}

	choices := []tasks.Choice{{Key: 'y', Label: "yes"}, {Key: 'n', Label: "no"}, {Key: 'q', Label: "quit"}}
	answer("Apply?", "q\r")
	if v, err := p.Choose(ctx, tasks.Question[rune]{Text: "Apply?", Default: 'y'}, choices); v != 'q' || err != nil {
		t.Errorf("Choose = %q, %v", v, err)
	}
	answer("Apply again?", "Quit\r")
	if v, err := p.Choose(ctx, tasks.Question[rune]{Text: "Apply again?", Default: 'y'}, choices); v != 'q' || err != nil {
		t.Errorf("Choose by label = %q, %v", v, err)
	}
	answer("Third?", "x\rz\rw\r")
	if v, err := p.Choose(ctx, tasks.Question[rune]{Text: "Third?", Default: 'n'}, choices); v != 'n' || err != nil {
		t.Errorf("Choose after 3 bad answers = %q, %v", v, err)
	}

	// Editing: a typo taken back, an arrow key ignored, a multibyte rune.
	answer("Message", "  fix the buidl\x7f\x7fld \x1b[Dé  \r")
	if v, err := p.Input(ctx, tasks.Question[string]{Text: "Message", Default: "d"}); v != "fix the build é" || err != nil {
		t.Errorf("Input = %q, %v", v, err)
	}

	answer("Delete which?", "1 3-4\r")
	v, err := p.MultiSelect(ctx, tasks.Question[[]int]{Text: "Delete which?", Default: []int{1}},
		[]string{"gen 1", "gen 2", "gen 3", "gen 4", "gen 5"})
	if err != nil || len(v) != 3 || v[0] != 0 || v[1] != 2 || v[2] != 3 {
		t.Errorf("MultiSelect = %v, %v", v, err)
	}
	a.flushOutput(t)
	out := ansi.Strip(a.out.String())
	if !strings.Contains(out, "2 [x] gen 2") {
		t.Errorf("the default is not marked:\n%s", out)
	}
	// Each answered question stays on screen with its answer.
	for _, kept := range []string{"? Activate? [y/N] y", "? Really? [Y/n] NO", "? Default? [Y/n] (Enter)", "? Third? [y=yes n=no q=quit] (Enter: n) w",
		"no valid answer: taking the default", "? Message [d]: fix the build é"} {
		if !strings.Contains(out, kept) {
			t.Errorf("the screen lacks %q:\n%s", kept, out)
		}
	}
}

func TestPrompterCanceledWhileWaiting(t *testing.T) {
	a := newAsking(t, 100, 40)
	p := a.c.Prompter(Asker{Label: "accept"})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		eventually(t, "question", func() bool { return strings.Contains(a.frame(), "Name") })
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
	if a.openLabel() != "" || a.waiting() != 0 {
		t.Errorf("the canceled question is still there")
	}
	// The next question still gets the next line.
	go func() {
		a.waitFrame(t, "Again")
		a.typeLine(t, "y\r")
	}()
	if v, err := p.Confirm(context.Background(), tasks.Question[bool]{Text: "Again"}); !v || err != nil {
		t.Errorf("Confirm after a canceled question = %v, %v", v, err)
	}
	// Already canceled: no question at all.
	if _, err := p.Confirm(ctx, tasks.Question[bool]{Text: "Never shown"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Confirm on a done context = %v", err)
	}
	a.flushOutput(t)
	if strings.Contains(a.out.String(), "Never shown") {
		t.Errorf("a question was shown on a done context")
	}
}

func TestPrompterEndOfInput(t *testing.T) {
	a := newAsking(t, 100, 40)
	p := a.c.Prompter(Asker{Label: "accept"})
	go func() {
		a.waitFrame(t, "Sure?")
		a.typeLine(t, "\x04") // Ctrl-D
	}()
	if v, err := p.Confirm(context.Background(), tasks.Question[bool]{Text: "Sure?", Default: true, NonInteractive: false}); v || err != nil {
		t.Errorf("Confirm on Ctrl-D = %v, %v; want the non-interactive answer", v, err)
	}
	// The other side gone: this question and the next get their answer
	// for no terminal.
	ch := a.confirm(Asker{Label: "push"}, tasks.Question[bool]{Text: "Push?", Default: true, NonInteractive: false})
	a.waitFrame(t, "Push?")
	// The master's real close waits for the drain's read in progress:
	// a byte from the other side ends that read.
	_ = a.ptmx.Close()
	_, _ = a.tty.Write([]byte("\n"))
	if answerOf(t, "Push?", ch) {
		t.Error("Push? = true when the terminal went away")
	}
	if p.Interactive() {
		t.Error("still interactive once the terminal is gone")
	}
}

// The live area goes on above an open question: the build's status and
// time change at every tick, lines of finished tasks appear above it,
// and the prompt line, with what is typed, stays at the bottom.
func TestQuestionUnderLiveArea(t *testing.T) {
	a := newAsking(t, 80, 24)
	a.r.Emit(schedule.Event{Task: "build", Kind: schedule.Start, ETA: 100 * time.Second})
	a.r.Emit(schedule.Event{Task: "learn-meta", Kind: schedule.Start})
	a.tk.Tick()
	a.waitFrame(t, "build", "learn-meta")

	ch := a.confirm(Asker{Label: "caches", Phase: 11}, tasks.Question[bool]{Text: "Clean 4 caches (10.0 MiB)?",
		Body: "cache  size\n~/.npm  2.0 MiB"})
	a.waitFrame(t, "caches ›", "Clean 4 caches")
	a.typeLine(t, "ye")
	a.waitFrame(t, "[y/N] ye")
	for i := 1; i <= 3; i++ {
		a.clk.Add(time.Second)
		a.r.Emit(schedule.Event{Task: "build", Kind: schedule.Status, Status: "building foo part " + string(rune('0'+i))})
		a.tk.Tick()
		f := a.waitFrame(t, "building foo part "+string(rune('0'+i)))
		ls := lines(strings.ReplaceAll(f, "\r", ""))
		want := []string{"caches ›", "  cache  size", "  ~/.npm  2.0 MiB", "? Clean 4 caches (10.0 MiB)? [y/N] ye"}
		if len(ls) < len(want)+2 || !equal(ls[len(ls)-len(want):], want) {
			t.Fatalf("tick %d: the question is not the frame's bottom block:\n%s", i, f)
		}
		above := strings.Join(ls[:len(ls)-len(want)], "\n")
		if !strings.Contains(above, "build") || !strings.Contains(ls[len(ls)-len(want)-1], "0/5 tasks") {
			t.Fatalf("tick %d: the area is not above the question:\n%s", i, f)
		}
		if !strings.Contains(f, dur(time.Duration(i)*time.Second)) {
			t.Errorf("tick %d: the build's time did not move:\n%s", i, f)
		}
	}
	a.r.Emit(schedule.Event{Task: "learn-meta", Kind: schedule.Finish, State: schedule.Succeeded, Duration: time.Second})
	a.tk.Tick()
	f := a.waitFrame(t, "✔ learn-meta")
	if i, j := strings.Index(f, "✔ learn-meta"), strings.Index(f, "caches ›"); i > j {
		t.Errorf("a finished task's line came under the question:\n%s", f)
	}
	// The prompt is where the cursor is: the frame ends with it.
	raw := a.out.String()
	if !strings.HasSuffix(strings.TrimSuffix(raw, syncEnd), "ye"+showCursor) {
		t.Errorf("the frame does not end at the prompt with the cursor shown: %q", raw[max(0, len(raw)-60):])
	}
	a.typeLine(t, "s\r")
	if !answerOf(t, "the question", ch) {
		t.Error("answered yes, got no")
	}
	a.tk.Tick()
	a.flushOutput(t)
	f = a.waitFrame(t, "1/5 tasks")
	if strings.Contains(f, "? Clean") {
		t.Errorf("the question is still drawn in the frame:\n%s", f)
	}
	if !strings.Contains(ansi.Strip(a.out.String()), "? Clean 4 caches (10.0 MiB)? [y/N] yes") {
		t.Errorf("the answered block did not stay on screen")
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// The system first: questions waiting together are shown the critical
// chain's first, then by phase (none last), then in the order they came.
func TestQuestionOrder(t *testing.T) {
	a := newAsking(t, 100, 40)
	// A command has the terminal: the questions pile up meanwhile.
	a.r.Emit(schedule.Event{Task: "ask-user", Kind: schedule.Prompt})
	askers := []Asker{
		{Label: "caches", Phase: 11}, {Label: "my-task"}, {Label: "push", Phase: 14}, {Label: "accept", System: true, Phase: 8},
		{Label: "learn-review", Phase: 7}, {Label: "activate", System: true, Phase: 3}, {Label: "backups", Phase: 13},
		{Label: "sessions", Phase: 12}, {Label: "caches-2", Phase: 11},
	}
	answers := map[string]<-chan bool{}
	for _, w := range askers {
		answers[w.Label] = a.confirm(w, tasks.Question[bool]{Text: w.Label + " question?"})
		// In this order: caches before caches-2 among equals.
		eventually(t, w.Label+" waiting", func() bool { return a.waiting() == len(answers) })
	}
	if a.openLabel() != "" {
		t.Fatal("a question was shown while a command had the terminal")
	}
	a.r.Emit(schedule.Event{Task: "ask-user", Kind: schedule.Release})
	var order []string
	for range askers {
		var label string
		eventually(t, "a question", func() bool { label = a.openLabel(); return label != "" })
		a.waitFrame(t, label+" ›", label+" question?")
		order = append(order, label)
		a.typeLine(t, "y\r")
		if !answerOf(t, label, answers[label]) {
			t.Errorf("%s: answered y, got no", label)
		}
	}
	want := "activate accept learn-review caches caches-2 sessions backups push my-task"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("asked in the order %s, want %s", got, want)
	}
}

// A question of the critical chain takes the screen from an open one
// that is not: keys typed in the moment it came are not taken, the
// answer goes to it, and the other question comes back, unanswered.
func TestSystemQuestionTakesTheScreen(t *testing.T) {
	a := newAsking(t, 100, 40)
	a.r.Emit(schedule.Event{Task: "caches", Kind: schedule.Start})
	a.r.Emit(schedule.Event{Task: "activate", Kind: schedule.Start})
	caches := a.confirm(Asker{Label: "caches", Phase: 11}, tasks.Question[bool]{Text: "Clean 4 caches?"})
	a.waitFrame(t, "caches ›", "Clean 4 caches?")
	a.typeLine(t, "y") // half an answer to the caches question
	a.waitFrame(t, "Clean 4 caches? [y/N] y")
	activate := a.confirm(Asker{Label: "activate", System: true, Phase: 3},
		tasks.Question[bool]{Text: "Activate?", Body: "foo 1.1 → 1.2", Default: true})
	f := a.waitFrame(t, "activate ›", "foo 1.1 → 1.2", "? Activate? [Y/n]")
	if strings.Contains(f, "Clean 4 caches") {
		t.Errorf("both questions on screen:\n%s", f)
	}
	// The area says who asks and whose question waits.
	a.tk.Tick()
	eventually(t, "the area saying who asks", func() bool {
		f = a.frame()
		return regexp.MustCompile(`caches .*\? question waiting`).MatchString(f) && regexp.MustCompile(`activate .*\? asking below`).MatchString(f)
	})
	// The Enter meant for the caches, typed as the screen changed.
	a.typeLine(t, "\r")
	a.flushOutput(t)
	select {
	case v := <-activate:
		t.Fatalf("the activation took an answer typed for the caches: %v", v)
	case v := <-caches:
		t.Fatalf("the caches question was answered (%v) while it was not on screen", v)
	default:
	}
	a.clk.Add(settle) // the person has had time to read
	a.typeLine(t, "n\r")
	if answerOf(t, "activate", activate) {
		t.Error("answered n to the activation, got yes")
	}
	a.waitFrame(t, "caches ›", "Clean 4 caches? [y/N]")
	a.typeLine(t, "y\r")
	if !answerOf(t, "caches", caches) {
		t.Error("answered y to the caches, got no")
	}
	out := ansi.Strip(a.out.String())
	if !strings.Contains(out, "? Activate? [Y/n] n") || !strings.Contains(out, "? Clean 4 caches? [y/N] y") {
		t.Errorf("the answered blocks are not on screen:\n%s", out)
	}
}

// What was typed before a question was on screen does not answer it.
func TestTypeAheadDoesNotAnswer(t *testing.T) {
	a := newAsking(t, 100, 40)
	a.typeLine(t, "y\r")
	time.Sleep(50 * time.Millisecond) // in the terminal's input queue
	ch := a.confirm(Asker{Label: "push", Phase: 14}, tasks.Question[bool]{Text: "Push 1 commit?"})
	a.waitFrame(t, "push ›", "Push 1 commit?")
	time.Sleep(100 * time.Millisecond)
	select {
	case v := <-ch:
		t.Fatalf("answered %v by keys typed before the question", v)
	default:
	}
	if ls := lines(a.frame()); ls[len(ls)-1] != "? Push 1 commit? [y/N] " {
		t.Errorf("the type-ahead is on the prompt line:\n%q", ls[len(ls)-1])
	}
	a.typeLine(t, "n\r")
	if answerOf(t, "push", ch) {
		t.Error("answered n, got yes")
	}
}

// Two tasks asking at once, each with text: on screen each block is
// whole, under its own label, and never holds the other's lines; text a
// task shows with Println waits for that task's question.
func TestQuestionBlocksNeverMix(t *testing.T) {
	a := newAsking(t, 100, 40)
	alpha, beta := a.c.Prompter(Asker{Label: "alpha", Phase: 9}), a.c.Prompter(Asker{Label: "beta", Phase: 9})
	body := func(who string) string {
		var b strings.Builder
		for i := 1; i <= 4; i++ {
			b.WriteString("  " + who + " line " + string(rune('0'+i)) + "\n")
		}
		return b.String()
	}
	results := map[string]chan bool{"alpha": make(chan bool, 1), "beta": make(chan bool, 1)}
	start := make(chan struct{})
	for who, p := range map[string]*Prompter{"alpha": alpha, "beta": beta} {
		go func() {
			<-start
			p.Println(who + " said first")
			v, err := p.Confirm(context.Background(), tasks.Question[bool]{Text: who + "?", Body: body(who)})
			if err != nil {
				panic(err)
			}
			results[who] <- v
		}()
	}
	close(start)
	first := ""
	eventually(t, "a question", func() bool { first = a.openLabel(); return first != "" })
	second := map[string]string{"alpha": "beta", "beta": "alpha"}[first]
	f := a.waitFrame(t, first+"?")
	checkBlock(t, f, first)
	if strings.Contains(f, second) {
		t.Errorf("%s's text is in %s's block:\n%s", second, first, f)
	}
	a.typeLine(t, "y\r")
	if !answerOf(t, first, results[first]) {
		t.Errorf("%s: answered y, got no", first)
	}
	f = a.waitFrame(t, second+"?")
	checkBlock(t, f, second)
	a.typeLine(t, "n\r")
	if answerOf(t, second, results[second]) {
		t.Errorf("%s: answered n, got yes", second)
	}
	// The whole screen: each block once as it was answered, whole.
	a.flushOutput(t)
	out := strings.ReplaceAll(ansi.Strip(a.out.String()), "\r", "")
	for who, ans := range map[string]string{first: "y", second: "n"} {
		checkBlock(t, out[strings.LastIndex(out, who+" ›"):], who)
		if !strings.Contains(out, "? "+who+"? [y/N] "+ans) {
			t.Errorf("%s's answer is not on screen:\n%s", who, out)
		}
	}
}

// checkBlock checks that s holds who's block whole, from its label to its
// prompt: the text it printed, its body, its question, in that order,
// nothing between.
func checkBlock(t *testing.T, s, who string) {
	t.Helper()
	ls := lines(strings.ReplaceAll(s, "\r", ""))
	i := 0
	for i < len(ls) && ls[i] != who+" ›" {
		i++
	}
	want := []string{who + " ›", "  " + who + " said first"}
	for n := 1; n <= 4; n++ {
		want = append(want, "    "+who+" line "+string(rune('0'+n)))
	}
	if i+len(want) >= len(ls) || !equal(ls[i:i+len(want)], want) || !strings.HasPrefix(ls[i+len(want)], "? "+who+"?") {
		t.Errorf("%s's block is not whole:\n%s", who, s)
	}
}

// Text shown with Println by a task that then asks nothing is shown
// when the task ends, under its label, before its finish line.
func TestPrintlnShownWhenTaskEnds(t *testing.T) {
	a := newAsking(t, 100, 40)
	p := a.c.Prompter(Asker{Label: "learn-review", Phase: 7})
	a.r.Emit(schedule.Event{Task: "learn-meta", Kind: schedule.Start})
	p.Println("applied: allow Bash(make:*)")
	a.tk.Tick()
	a.flushOutput(t)
	if strings.Contains(a.out.String(), "allow Bash") {
		t.Fatal("the text was shown before the task asked or ended")
	}
	a.r.Emit(schedule.Event{Task: "learn-review", Kind: schedule.Finish, State: schedule.Succeeded})
	a.tk.Tick()
	f := strings.ReplaceAll(a.waitFrame(t, "✔ learn-review"), "\r", "")
	if !strings.Contains(f, "learn-review ›\n  applied: allow Bash(make:*)\n✔ learn-review") {
		t.Errorf("the text is not shown under the label before the finish line:\n%s", f)
	}
}

// A question too tall for the screen: its text goes above once, the
// prompt stays at the bottom under the area, and no other line comes
// between the text and the prompt until it is answered.
func TestQuestionTallerThanTheScreen(t *testing.T) {
	a := newAsking(t, 60, 12)
	a.r.Emit(schedule.Event{Task: "build", Kind: schedule.Start})
	var body strings.Builder
	for i := 0; i < 20; i++ {
		body.WriteString("generation row " + string(rune('a'+i)) + "\n")
	}
	ch := a.confirm(Asker{Label: "generations", Phase: 9}, tasks.Question[bool]{Text: "Delete them?", Body: body.String()})
	a.waitFrame(t, "Delete them?")
	a.r.Emit(schedule.Event{Task: "learn-meta", Kind: schedule.Finish, State: schedule.Succeeded})
	for range 3 {
		a.clk.Add(time.Second)
		a.tk.Tick()
	}
	// The frame drawn at a tick: area and prompt, within the screen.
	if f := a.waitFrame(t, "3.0s", "Delete them?"); len(lines(f)) > 12 || strings.Contains(f, "generation row") {
		t.Errorf("a frame of %d lines on a screen of 12, or with the text:\n%s", len(lines(f)), f)
	}
	a.flushOutput(t)
	out := strings.ReplaceAll(ansi.Strip(a.out.String()), "\r", "")
	if strings.Count(out, "generation row t") != 1 {
		t.Errorf("the text was written %d times, want once", strings.Count(out, "generation row t"))
	}
	if strings.Contains(out, "✔ learn-meta") {
		t.Errorf("a finished task's line came between the text and its prompt:\n%s", out)
	}
	a.typeLine(t, "y\r")
	if !answerOf(t, "generations", ch) {
		t.Error("answered y, got no")
	}
	a.flushOutput(t)
	out = strings.ReplaceAll(ansi.Strip(a.out.String()), "\r", "")
	i, j, k := strings.Index(out, "generation row t"), strings.Index(out, "? Delete them? [y/N] y"), strings.Index(out, "✔ learn-meta")
	if i < 0 || j < i || k < j {
		t.Errorf("want the text, its answered prompt, then the line held back:\n%s", out)
	}
}

// The terminal is read key by key without echo only while a question is
// open; its own mode is back after it, while a command has it, and on
// Close.
func TestTerminalModeRestored(t *testing.T) {
	a := newAsking(t, 100, 40)
	mode := func() (canon, echo bool) {
		err := control(a.tty, func(fd int) error {
			tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
			if err == nil {
				canon, echo = tio.Lflag&unix.ICANON != 0, tio.Lflag&unix.ECHO != 0
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return canon, echo
	}
	if c, e := mode(); !c || !e {
		t.Fatalf("the pty starts without ICANON or ECHO: %v %v", c, e)
	}
	ch := a.confirm(Asker{Label: "push"}, tasks.Question[bool]{Text: "Push?"})
	a.waitFrame(t, "Push?")
	if c, e := mode(); c || e {
		t.Errorf("line mode or echo while asking: %v %v", c, e)
	}
	a.r.Emit(schedule.Event{Task: "ask-user", Kind: schedule.Prompt})
	if c, e := mode(); !c || !e {
		t.Errorf("a command has the terminal, which is not in its own mode: %v %v", c, e)
	}
	a.r.Emit(schedule.Event{Task: "ask-user", Kind: schedule.Release})
	a.waitFrame(t, "Push?")
	a.typeLine(t, "y\r")
	answerOf(t, "push", ch)
	if c, e := mode(); !c || !e {
		t.Errorf("not restored after the answer: %v %v", c, e)
	}
	ch = a.confirm(Asker{Label: "push"}, tasks.Question[bool]{Text: "Push again?", NonInteractive: true})
	a.waitFrame(t, "Push again?")
	_ = a.c.Close()
	if !answerOf(t, "push again", ch) {
		t.Error("a question open at Close did not get its answer for no terminal")
	}
	if c, e := mode(); !c || !e {
		t.Errorf("not restored by Close: %v %v", c, e)
	}
}

func TestBlockRowsFitTheWidth(t *testing.T) {
	v := questionView{id: 1, label: "learn-review", body: []string{strings.Repeat("word ", 30)},
		text: []string{"Apply the suggestion that is described above, if you agree with it?"},
		hint: "[y=yes n=no a=all s=skip rest q=quit]", input: strings.Repeat("x", 100) + "END"}
	for _, width := range []int{30, 80, 130} {
		header, above, prompt := blockRows(palette{}, v, width, "")
		all := append(append(header, above...), prompt...)
		for _, r := range all {
			if w := len([]rune(r)); w > width-1 {
				t.Errorf("width %d: a row of %d columns: %q", width, w, r)
			}
		}
		if last := prompt[len(prompt)-1]; !strings.HasSuffix(last, "END") || !strings.Contains(last, "…") {
			t.Errorf("width %d: the prompt row does not end with the input's end: %q", width, last)
		}
		if header[0] != "learn-review ›" || !strings.HasPrefix(above[len(above)-1], "  word") && len(above) == 0 {
			t.Errorf("width %d: header %q", width, header)
		}
		if got := strings.Join(all, ""); !strings.Contains(strings.ReplaceAll(got, " ", ""), strings.Repeat("word", 30)) {
			t.Errorf("width %d: the body lost words:\n%s", width, strings.Join(all, "\n"))
		}
	}
}

// A task's questions in a row stay together: right after an answer, the
// same task's next question goes before one that waited, even of an
// earlier phase; the waiting one comes next.
func TestTaskQuestionsStayTogether(t *testing.T) {
	a := newAsking(t, 100, 40)
	review := a.c.Prompter(Asker{Label: "learn-review", Phase: 12})
	done := make(chan []bool, 1)
	go func() {
		var got []bool
		for _, q := range []string{"Apply the first?", "Apply the second?"} {
			v, err := review.Confirm(context.Background(), tasks.Question[bool]{Text: q})
			if err != nil {
				panic(err)
			}
			got = append(got, v)
		}
		done <- got
	}()
	a.waitFrame(t, "Apply the first?")
	caches := a.confirm(Asker{Label: "caches", Phase: 11}, tasks.Question[bool]{Text: "Clean?"})
	eventually(t, "caches waiting", func() bool { return a.waiting() == 1 })
	a.typeLine(t, "y\r")
	f := a.waitFrame(t, "Apply the second?")
	if strings.Contains(f, "Clean?") {
		t.Errorf("caches' question came between the review's:\n%s", f)
	}
	a.typeLine(t, "n\r")
	a.waitFrame(t, "caches ›", "Clean?")
	a.typeLine(t, "y\r")
	if !answerOf(t, "caches", caches) {
		t.Error("caches: answered y, got no")
	}
	if got := <-done; len(got) != 2 || !got[0] || got[1] {
		t.Errorf("the review's answers %v, want [true false]", got)
	}
}
