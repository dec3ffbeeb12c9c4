package proc

import (
	"bytes"
	"io"
	"os"
	"strings"
)

// drain copies r to dst until EOF, calling onLine for each complete line
// (capped at maxLine bytes, ANSI stripped). It reads in fixed chunks, so
// memory stays flat whatever the child prints. dst may be nil.
func drain(r io.Reader, dst io.Writer, onLine func(string)) {
	buf := make([]byte, 32*1024)
	var line []byte
	truncated := false
	flush := func() {
		if onLine != nil {
			onLine(StripANSI(strings.TrimRight(string(line), "\r")))
		}
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
			for len(chunk) > 0 {
				i := bytes.IndexByte(chunk, '\n')
				part := chunk
				if i >= 0 {
					part = chunk[:i]
				}
				if !truncated {
					room := maxLine - len(line)
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
		}
		if err != nil {
			if len(line) > 0 {
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

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		if f != nil {
			_ = f.Close()
		}
	}
}
