package render

import (
	"io"
	"sync"
)

// display stands between a renderer and the terminal or pipe it draws on.
// The first write that fails means the display is gone — the terminal
// was closed (EIO after a hang-up), or the reader of a pipe went away
// (EPIPE: `rebuild | tee log`, and the Ctrl-C that was held back during
// activation killed tee) — and from then on everything written to it is
// dropped and reported written. The run goes on as if someone were
// watching: its tasks, their logs and the history do not depend on the
// display, and nothing the renderers do can fail because of it.
//
// It drops, it does not queue: a display that is there but slow still
// slows the renderers down, as a terminal always has.
type display struct {
	mu  sync.Mutex
	w   io.Writer
	err error // the write that failed; nil while the display is there
}

// newDisplay wraps w; nil stays nil.
func newDisplay(w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	if d, ok := w.(*display); ok {
		return d
	}
	return &display{w: w}
}

func (d *display) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return len(p), nil
	}
	if _, err := d.w.Write(p); err != nil {
		d.err = err
	}
	return len(p), nil
}

// gone returns the write error that ended the display, nil while it is
// there.
func (d *display) gone() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}
