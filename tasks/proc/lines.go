package proc

import (
	"bytes"
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
func StripANSI(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 && strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return ansiRE.ReplaceAllString(s, "")
}

// Tail keeps the last N lines written to it, each capped at maxLine bytes
// and ANSI stripped. It is an io.Writer that is cheap on huge output: of
// each write it looks only at the lines it will keep. Safe for concurrent
// use.
type Tail struct {
	mu      sync.Mutex
	n       int
	lines   []string
	next    int
	full    bool
	partial []byte
	cut     bool // the partial line is longer than maxLine
}

// NewTail returns a Tail holding at most n lines.
func NewTail(n int) *Tail {
	if n < 1 {
		n = 1
	}
	return &Tail{n: n, lines: make([]string, n)}
}

// Add records one complete line.
func (t *Tail) Add(line string) {
	t.mu.Lock()
	t.add(line)
	t.mu.Unlock()
}

func (t *Tail) add(line string) {
	if len(line) > maxLine {
		line = line[:maxLine] + "…"
	}
	t.lines[t.next] = StripANSI(strings.TrimRight(line, "\r"))
	t.next = (t.next + 1) % t.n
	if t.next == 0 {
		t.full = true
	}
}

// Write records the complete lines of p (and keeps an unfinished last line
// for the next write). Only the last n lines of p are examined.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	end := bytes.LastIndexByte(p, '\n')
	if end < 0 {
		t.appendPartial(p)
		return len(p), nil
	}
	// Walk back over at most n complete lines ending at end.
	var segs [][]byte
	pos := end
	usedPartial := false
	for len(segs) < t.n {
		start := bytes.LastIndexByte(p[:pos], '\n')
		if start < 0 {
			seg := p[:pos]
			if len(t.partial) > 0 {
				seg = append(append([]byte(nil), t.partial...), capBytes(seg, maxLine)...)
				usedPartial = true
			}
			segs = append(segs, seg)
			break
		}
		segs = append(segs, p[start+1:pos])
		pos = start
	}
	_ = usedPartial
	for i := len(segs) - 1; i >= 0; i-- {
		t.add(string(capBytes(segs[i], maxLine+1)))
	}
	t.partial = t.partial[:0]
	t.cut = false
	t.appendPartial(p[end+1:])
	return len(p), nil
}

func (t *Tail) appendPartial(b []byte) {
	if room := maxLine + 1 - len(t.partial); room > 0 {
		t.partial = append(t.partial, capBytes(b, room)...)
	}
}

func capBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// Flush records an unfinished last line, if any.
func (t *Tail) Flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.partial) > 0 {
		t.add(string(t.partial))
		t.partial = t.partial[:0]
	}
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

// LastMeaningful returns the newest kept line worth showing as a status.
func (t *Tail) LastMeaningful() (string, bool) {
	lines := t.Lines()
	for i := len(lines) - 1; i >= 0; i-- {
		if Meaningful(lines[i]) {
			return strings.TrimSpace(lines[i]), true
		}
	}
	return "", false
}

// Meaningful reports whether a line is worth showing as a status: not
// blank, not only punctuation.
func Meaningful(line string) bool {
	return strings.IndexFunc(line, func(r rune) bool {
		return r > ' ' && !strings.ContainsRune("-=*#.~_|", r)
	}) >= 0
}
