package proc

import (
	"regexp"
	"strings"
	"sync"
)

// maxLine caps how much of one line is kept for status and tail; the
// whole line still reaches the log. A child printing a gigabyte without a
// newline must not make us hold a gigabyte.
const maxLine = 4096

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\r`)

// StripANSI removes terminal escape sequences and carriage returns.
func StripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

// Tail keeps the last N lines written to it, each capped at maxLine bytes.
// It is safe for concurrent use.
type Tail struct {
	mu    sync.Mutex
	n     int
	lines []string
	next  int
	full  bool
}

// NewTail returns a Tail holding at most n lines.
func NewTail(n int) *Tail {
	if n < 1 {
		n = 1
	}
	return &Tail{n: n, lines: make([]string, n)}
}

// Add records one line.
func (t *Tail) Add(line string) {
	if len(line) > maxLine {
		line = line[:maxLine] + "…"
	}
	t.mu.Lock()
	t.lines[t.next] = line
	t.next = (t.next + 1) % t.n
	if t.next == 0 {
		t.full = true
	}
	t.mu.Unlock()
}

// Lines returns the kept lines, oldest first.
func (t *Tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.full {
		return append([]string(nil), t.lines[:t.next]...)
	}
	out := make([]string, 0, t.n)
	out = append(out, t.lines[t.next:]...)
	return append(out, t.lines[:t.next]...)
}

// Meaningful reports whether a line is worth showing as a status: not
// blank, not only punctuation.
func Meaningful(line string) bool {
	return strings.IndexFunc(line, func(r rune) bool {
		return r > ' ' && !strings.ContainsRune("-=*#.~_|", r)
	}) >= 0
}
