package proc

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/rebuild-nixos/rebuild/internal/ansi"
	"github.com/rebuild-nixos/rebuild/internal/tail"
)

// drainBuf is the size of a drain's chunks.
const drainBuf = 64 * 1024

// drain copies r to dst until EOF, reading in fixed chunks, so memory
// stays flat whatever the child prints and the child never blocks on a
// full pipe. onLine, when set, sees every complete line (capped at tail.MaxLine
// bytes, ANSI stripped); afterChunk, when set, runs after each chunk. buf
// is the chunk buffer (drainBuf bytes): dst, as any io.Writer, keeps none
// of it.
func drain(r io.Reader, dst io.Writer, onLine func(string), afterChunk func(), buf []byte) {
	var line []byte
	truncated := false
	flush := func() {
		onLine(ansi.Strip(strings.TrimRight(string(line), "\r")))
		line = line[:0]
		truncated = false
	}
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if dst != nil {
				_, _ = dst.Write(chunk)
			}
			for onLine != nil && len(chunk) > 0 {
				i := bytes.IndexByte(chunk, '\n')
				part := chunk
				if i >= 0 {
					part = chunk[:i]
				}
				if !truncated {
					room := tail.MaxLine - len(line)
					if len(part) > room {
						line = append(line, part[:room]...)
						truncated = true
					} else {
						line = append(line, part...)
					}
				}
				if i < 0 {
					break
				}
				flush()
				chunk = chunk[i+1:]
			}
			if afterChunk != nil {
				afterChunk()
			}
		}
		if err != nil {
			if onLine != nil && len(line) > 0 {
				flush()
			}
			return
		}
	}
}

// lockedWriter serialises writes from the stdout and stderr drains.
type lockedWriter struct {
	mu interface {
		Lock()
		Unlock()
	}
	w io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// drainBuffers hands out the drains' chunk buffers, reused from command
// to command: zeroing a fresh 64 KiB buffer for each of a command's drains
// was a visible share of running a short command.
type drainBuffers struct{ pool sync.Pool }

func (d *drainBuffers) get() *[]byte {
	if b, ok := d.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, drainBuf)
	return &b
}

func (d *drainBuffers) put(b *[]byte) { d.pool.Put(b) }

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		if f != nil {
			_ = f.Close()
		}
	}
}
