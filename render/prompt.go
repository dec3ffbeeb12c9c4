package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/rebuild-nixos/rebuild/internal/termtext"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// attempts is how many bad answers a question takes before it settles on
// its default.
const attempts = 3

// pollMS is how long one wait for input lasts before the context is
// checked again.
const pollMS = 100

// maxAnswer caps one answer line; a paste of a megabyte is not an answer.
const maxAnswer = 64 << 10

// Prompter asks questions on a terminal, line by line. It implements
// tasks.Prompter.
//
// It reads whole lines from in (the terminal in its normal, cooked mode:
// no raw mode to restore if the process dies) and waits for them with
// poll(2) in short slices, so a question is canceled as soon as its
// context is: the goroutine never stays blocked in a read. pterm's
// interactive printers are not used: they read os.Stdin through a global
// keyboard listener that cannot be stopped from outside, exit the
// process on Ctrl-C, and draw on os.Stdout.
//
// Answers:
//   - Confirm: y, yes, n, no (any case); Enter = Default.
//   - Choose: a choice's key or its whole label (a key's case matters only
//     when two keys differ by case alone); Enter = Default, if it is a key.
//   - Input: the line, spaces trimmed; Enter = Default.
//   - MultiSelect: numbers and ranges from the numbered list, separated by
//     spaces or commas ("1 3 5", "2-4", "1,6-7"), "all", or "none"; Enter
//     keeps the preselected Default (marked [x]).
//
// A bad answer is asked again, at most 3 times in all; then Default is
// taken (NonInteractive for a Choose whose Default is not a key). End of
// input (Ctrl-D, a closed terminal) gives NonInteractive.
type Prompter struct {
	in, out     *os.File
	pause       Pauser
	pal         palette
	interactive bool

	qmu sync.Mutex // one question at a time; guards buf
	buf []byte     // input read past the last answer
	wmu sync.Mutex // whole writes to out
}

var _ tasks.Prompter = (*Prompter)(nil)

// NewPrompter returns a Prompter asking on in and out. It is interactive
// only when both are terminals; pass nil for in (plain and json output,
// --yes) to make it never ask. p, when not nil, is paused while a
// question or a Println is on screen.
func NewPrompter(in, out *os.File, p Pauser, color bool) *Prompter {
	return &Prompter{
		in: in, out: out, pause: p, pal: palette{on: color},
		interactive: isTerminal(in) && isTerminal(out),
	}
}

// isTerminal asks without f.Fd(), which would switch f to blocking mode.
func isTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	if err := rc.Control(func(fd uintptr) { ok = term.IsTerminal(int(fd)) }); err != nil {
		return false
	}
	return ok
}

// Interactive reports whether questions are really asked.
func (p *Prompter) Interactive() bool { return p.interactive }

// Confirm asks a yes/no question.
func (p *Prompter) Confirm(ctx context.Context, q tasks.Question[bool]) (bool, error) {
	hint := "[y/N]"
	if q.Default {
		hint = "[Y/n]"
	}
	return ask(p, ctx, q, true, cleanText(q.Text)+" "+p.pal.dim(hint), "please answer y or n", func(s string) (bool, bool) {
		switch strings.ToLower(s) {
		case "y", "yes":
			return true, true
		case "n", "no":
			return false, true
		}
		return false, false
	})
}

// Choose asks for one key among choices.
func (p *Prompter) Choose(ctx context.Context, q tasks.Question[rune], choices []tasks.Choice) (rune, error) {
	keys := make([]string, len(choices))
	for i, c := range choices {
		keys[i] = termtext.Escape(string(c.Key) + "=" + c.Label)
	}
	text := cleanText(q.Text) + " " + p.pal.dim("["+strings.Join(keys, " ")+"]")
	hasDefault := valid(q.Default, choices)
	if hasDefault {
		text += " " + p.pal.dim("(Enter: "+termtext.Escape(string(q.Default))+")")
	}
	return ask(p, ctx, q, hasDefault, text, "please answer with one of the keys", func(s string) (rune, bool) {
		if r, size := utf8.DecodeRuneInString(s); size == len(s) {
			for _, c := range choices {
				if c.Key == r {
					return r, true
				}
			}
			for _, c := range choices {
				if unicode.ToLower(c.Key) == unicode.ToLower(r) {
					return c.Key, true
				}
			}
		}
		for _, c := range choices {
			if strings.EqualFold(c.Label, s) {
				return c.Key, true
			}
		}
		return 0, false
	})
}

func valid(k rune, choices []tasks.Choice) bool {
	for _, c := range choices {
		if c.Key == k {
			return true
		}
	}
	return false
}

// Input asks for a line of text.
func (p *Prompter) Input(ctx context.Context, q tasks.Question[string]) (string, error) {
	text := cleanText(q.Text)
	if q.Default != "" {
		text += " " + p.pal.dim("["+termtext.Escape(q.Default)+"]")
	}
	return ask(p, ctx, q, true, text+":", "", func(s string) (string, bool) { return s, true })
}

// MultiSelect shows options as a numbered list and reads the numbers.
func (p *Prompter) MultiSelect(ctx context.Context, q tasks.Question[[]int], options []string) ([]int, error) {
	if !p.interactive {
		return q.NonInteractive, nil
	}
	if len(options) == 0 {
		return nil, nil
	}
	var list strings.Builder
	pre := map[int]bool{}
	for _, i := range q.Default {
		pre[i] = true
	}
	w := len(strconv.Itoa(len(options)))
	for i, o := range options {
		mark := "[ ]"
		if pre[i] {
			mark = "[x]"
		}
		fmt.Fprintf(&list, "  %*d %s %s\n", w, i+1, mark, clean(o))
	}
	text := cleanText(q.Text) + "\n" + list.String() + p.pal.dim("numbers or ranges (1 3 5, 2-4), all, none; Enter keeps the [x] ones") + ":"
	return ask(p, ctx, q, true, text, "", func(s string) ([]int, bool) { return parseSelection(s, len(options)) })
}

// parseSelection reads "1 3 5", "2-4", "1,6-7", "all" or "none" against n
// options; the result is 0-based, sorted, without duplicates.
func parseSelection(s string, n int) ([]int, bool) {
	switch strings.ToLower(s) {
	case "all", "*":
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all, true
	case "none", "-":
		return []int{}, true
	}
	seen := map[int]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, false
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, false
			}
		}
		if a < 1 || b > n || a > b {
			return nil, false
		}
		for i := a; i <= b; i++ {
			seen[i-1] = true
		}
	}
	if len(seen) == 0 {
		return nil, false
	}
	out := make([]int, 0, len(seen))
	for i := range seen {
		out = append(out, i)
	}
	sort.Ints(out)
	return out, true
}

// Println shows text to the person above the paused live area; dropped
// when not interactive.
func (p *Prompter) Println(text string) {
	if !p.interactive {
		return
	}
	p.pauseDisplay()
	defer p.resumeDisplay()
	p.write(cleanText(strings.TrimSuffix(text, "\n")) + "\n")
}

func (p *Prompter) pauseDisplay() {
	if p.pause != nil {
		p.pause.Pause()
	}
}

func (p *Prompter) resumeDisplay() {
	if p.pause != nil {
		p.pause.Resume()
	}
}

func (p *Prompter) write(s string) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, _ = io.WriteString(p.out, s)
}

// ask is the loop every question shares: not interactive → NonInteractive
// at once; else pause the display, ask, read a line, parse, ask again on
// a bad answer, settle on Default after attempts.
// An empty answer is Default when hasDefault, else a bad answer.
func ask[T any](p *Prompter, ctx context.Context, q tasks.Question[T], hasDefault bool, text, again string, parse func(string) (T, bool)) (T, error) {
	if !p.interactive {
		return q.NonInteractive, nil
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	p.qmu.Lock()
	defer p.qmu.Unlock()
	p.pauseDisplay()
	defer p.resumeDisplay()
	prompt := p.pal.bold(p.pal.cyan("?")) + " " + text + " "
	for try := 1; ; try++ {
		p.write(prompt)
		line, err := p.readLine(ctx)
		switch {
		case errors.Is(err, io.EOF):
			p.write("\n")
			return q.NonInteractive, nil
		case err != nil:
			p.write("\n")
			var zero T
			return zero, err
		}
		if line == "" && hasDefault {
			return q.Default, nil
		}
		if v, ok := parse(line); ok && line != "" {
			return v, nil
		}
		if try == attempts {
			if !hasDefault {
				p.write(p.pal.yellow("no valid answer: taking the answer for no terminal") + "\n")
				return q.NonInteractive, nil
			}
			p.write(p.pal.yellow("no valid answer: taking the default") + "\n")
			return q.Default, nil
		}
		if again == "" {
			again = "that is not a valid answer"
		}
		p.write(p.pal.yellow(again) + "\n")
	}
}

// readLine returns the next line of input, spaces trimmed. It waits in
// slices of pollMS so that ctx ends the wait; io.EOF when input ends.
func (p *Prompter) readLine(ctx context.Context) (string, error) {
	chunk := make([]byte, 4096)
	for {
		if i := bytes.IndexByte(p.buf, '\n'); i >= 0 || len(p.buf) >= maxAnswer {
			if i < 0 {
				i = len(p.buf) - 1
			}
			line := string(p.buf[:i])
			p.buf = append(p.buf[:0], p.buf[i+1:]...)
			return strings.TrimSpace(line), nil
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		ready, err := waitReadable(p.in)
		if err != nil {
			return "", err
		}
		if !ready {
			continue
		}
		n, err := p.in.Read(chunk)
		p.buf = append(p.buf, chunk[:n]...)
		if err != nil || n == 0 {
			if len(p.buf) > 0 {
				line := string(p.buf)
				p.buf = p.buf[:0]
				return strings.TrimSpace(line), nil
			}
			// EOF, or EIO from a terminal whose other side is gone.
			return "", io.EOF
		}
	}
}

// waitReadable waits up to pollMS for f to have input (or to end).
func waitReadable(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	ready := false
	var perr error
	cerr := rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, pollMS)
		if err != nil && !errors.Is(err, unix.EINTR) {
			perr = err
			return
		}
		ready = n > 0
	})
	if cerr != nil {
		return false, cerr
	}
	return ready, perr
}
