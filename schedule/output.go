package schedule

import (
	"io"
	"sync"

	"github.com/rebuild-nixos/rebuild/internal/tail"
)

// output is a running task's log writer: every byte goes to the log, and
// the tail keeps the last lines for a failure's screen. The tail is made
// at the first write, as the log file is: most tasks print nothing, and
// then cost neither.
type output struct {
	log   io.Writer
	lines int // the tail's length (Options.TailLines)
	once  sync.Once
	tail  *tail.Tail
}

func (o *output) Write(p []byte) (int, error) { return o.write(o.log.Write, p) }

// WriteCommandLine is Write for a command's line (proc's "$ …"): the tail
// sees it as it did, and the log, when it can, holds it without making a
// file until the task prints or fails (render's task log).
func (o *output) WriteCommandLine(p []byte) (int, error) {
	cl, ok := o.log.(interface {
		WriteCommandLine(p []byte) (int, error)
	})
	if !ok {
		return o.Write(p)
	}
	return o.write(cl.WriteCommandLine, p)
}

// write is Write through the log's method logWrite. As io.MultiWriter
// did: the log first, and the tail only what the log took.
func (o *output) write(logWrite func([]byte) (int, error), p []byte) (int, error) {
	o.once.Do(func() { o.tail = tail.New(o.lines) })
	n, err := logWrite(p)
	if err != nil {
		return n, err
	}
	if n != len(p) {
		return n, io.ErrShortWrite
	}
	_, _ = o.tail.Write(p)
	return len(p), nil
}

// lastLines returns the tail's lines, the unterminated last one included.
func (o *output) lastLines() []string {
	o.once.Do(func() { o.tail = tail.New(o.lines) })
	o.tail.Flush()
	return o.tail.Lines()
}
