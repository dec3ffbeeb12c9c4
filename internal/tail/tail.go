// Package tail keeps the last lines of a stream: what a failed command or
// a failed task printed last, to be shown with its error. It is a leaf
// (it imports only internal/ansi), so the command runner (tasks/proc), the
// scheduler and the task families share one ring instead of each keeping
// its own.
package tail

import (
	"bytes"
	"strings"
	"sync"

	"github.com/rebuild-nixos/rebuild/internal/ansi"
)

// MaxLine caps how much of one line is kept; the whole line still reaches
// the log. A child printing a gigabyte without a newline must not make us
// hold a gigabyte.
const MaxLine = 4096

// Tail keeps the last N lines written to it, each capped at MaxLine bytes
// and ANSI stripped. It is an io.Writer that is cheap on huge output: of
// each write it looks only at the lines it will keep. Safe for concurrent
// use.
type Tail struct {
	mu      sync.Mutex
	n       int
	lines   []string // a ring: lines[next] is the oldest once full
	next    int
	full    bool
	partial []byte // an unfinished last line, at most MaxLine+1 bytes
}

// New returns a Tail holding at most n lines.
func New(n int) *Tail {
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
	if len(line) > MaxLine {
		line = line[:MaxLine] + "…"
	}
	t.lines[t.next] = ansi.Strip(strings.TrimRight(line, "\r"))
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
	for len(segs) < t.n {
		start := bytes.LastIndexByte(p[:pos], '\n')
		if start < 0 {
			seg := p[:pos]
			if len(t.partial) > 0 {
				seg = append(append([]byte(nil), t.partial...), capBytes(seg, MaxLine)...)
			}
			segs = append(segs, seg)
			break
		}
		segs = append(segs, p[start+1:pos])
		pos = start
	}
	for i := len(segs) - 1; i >= 0; i-- {
		t.add(string(capBytes(segs[i], MaxLine+1)))
	}
	t.partial = t.partial[:0]
	t.appendPartial(p[end+1:])
	return len(p), nil
}

func (t *Tail) appendPartial(b []byte) {
	if room := MaxLine + 1 - len(t.partial); room > 0 {
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
