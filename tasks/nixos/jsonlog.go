package nixos

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// jsonLogWriter is where a Nix command's internal-json log goes: it cuts
// the stream into lines for a parser (BuildLog for nix build, CopyLog for
// nix copy), writes each line's readable text to the task's log, and then
// lets the task say what changed (progress, under the same lock).
type jsonLogWriter struct {
	env *tasks.Env
	// parse reads one line and returns its readable text ("" for none).
	parse func(line string) string
	// progress is called after every line and, final, at the end.
	progress func(final bool)

	mu  sync.Mutex
	buf []byte
}

func (w *jsonLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 1<<20 { // a line this long is not Nix's JSON; keep it moving
		w.line(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

// flush reads what is left after the command ended and sends the final
// progress.
func (w *jsonLogWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(string(w.buf))
		w.buf = nil
	}
	w.progress(true)
}

func (w *jsonLogWriter) line(l string) {
	if text := w.parse(strings.TrimRight(l, "\r")); text != "" {
		fmt.Fprintln(w.env.Log, text)
	}
	w.progress(false)
}
