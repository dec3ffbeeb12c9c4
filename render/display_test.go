package render

import (
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
)

// brokenPipe accepts ok writes, then fails every one with EPIPE, as a pipe
// whose reader was killed does; it counts the attempts.
type brokenPipe struct {
	mu       sync.Mutex
	ok       int
	attempts int
}

func (b *brokenPipe) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.attempts++
	if b.attempts > b.ok {
		return 0, syscall.EPIPE
	}
	return len(p), nil
}

func (b *brokenPipe) tries() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.attempts
}

// Once a write to the display fails, every mode stops writing to it and
// goes on: events, verbose lines, the summary and Close all work, and
// nothing more reaches the broken writer.
func TestDisplayGoneAfterTheFirstFailedWrite(t *testing.T) {
	for _, mode := range []string{ModeTTY, ModePlain, ModeJSON, ModeQuiet} {
		t.Run(mode, func(t *testing.T) {
			out, errw := &brokenPipe{ok: 1}, &brokenPipe{ok: 0}
			c := newClock()
			r, err := New(mode, Options{Out: out, Err: errw, Now: c.Now, Verbose: true, Tasks: testTasks})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range runEvents(c) {
				r.Emit(e)
				if vw := r.VerboseWriter(); vw != nil {
					if n, err := io.WriteString(vw, "[build] a line\n"); n != 15 || err != nil {
						t.Errorf("verbose write: %d, %v", n, err)
					}
				}
				r.Println("a line among the output")
			}
			time.Sleep(3 * refresh) // tty: let the ticker draw
			r.Summary(&schedule.Summary{Results: map[string]*schedule.Result{}}, "/logs")
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if n := out.tries(); n > 2 {
				t.Errorf("out: %d writes, want at most the one that worked and the one that failed", n)
			}
			if n := errw.tries(); n > 1 {
				t.Errorf("err: %d writes after the first failed", n)
			}
		})
	}
}

func TestDisplayReportsEveryWriteWritten(t *testing.T) {
	b := &brokenPipe{ok: 1}
	d := newDisplay(b).(*display)
	for i := range 3 {
		if n, err := d.Write([]byte("abc")); n != 3 || err != nil {
			t.Errorf("write %d: %d, %v", i, n, err)
		}
	}
	if d.gone() != syscall.EPIPE || b.tries() != 2 {
		t.Errorf("gone %v after %d tries", d.gone(), b.tries())
	}
	if newDisplay(d) != d || newDisplay(nil) != nil {
		t.Error("wrapping twice or wrapping nil")
	}
}
