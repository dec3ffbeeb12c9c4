package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxLogLine is how much of a line a task log holds before passing it on
// to run.log: a longer line goes there in pieces, so a task printing a
// gigabyte without a newline costs 64 KiB, not a gigabyte.
const maxLogLine = 64 << 10

// runIDLayout formats run IDs; in UTC so names sort by time across
// daylight-saving changes.
const runIDLayout = "20060102-150405.000"

// runIDRE matches the directory names Prune may remove: run IDs, with an
// optional -N that OpenLogs adds when two runs share a millisecond.
var runIDRE = regexp.MustCompile(`^\d{8}-\d{6}\.\d{3}(-\d+)?$`)

// NewRunID returns a run ID such as 20261125-171502.123 (UTC): run
// directories sort by name in the order the runs started.
func NewRunID(now time.Time) string { return now.UTC().Format(runIDLayout) }

// Logs is one run's log directory, <root>/<runID>/: a <task>.log per task
// and run.log with every task's lines prefixed [task]. Safe for concurrent
// use by any number of tasks.
type Logs struct {
	root string
	dir  string
	keep int

	mu      sync.Mutex // orders whole lines into run.log and verbose
	run     *os.File
	verbose io.Writer
	closed  bool
}

// OpenLogs creates <root>/<runID>/ and its run.log. keep is how many run
// directories Prune leaves (at least 1: this run's). verbose, when not
// nil, receives every prefixed line as well (one line per Write; pass a
// Renderer's VerboseWriter so the live area is not broken).
func OpenLogs(root, runID string, keep int, verbose io.Writer) (*Logs, error) {
	if !runIDRE.MatchString(runID) {
		return nil, fmt.Errorf("logs: %q is not a run ID (want e.g. %s)", runID, NewRunID(time.Unix(0, 0)))
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	dir := filepath.Join(root, runID)
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return nil, fmt.Errorf("logs: %w", err)
		}
		dir = filepath.Join(root, fmt.Sprintf("%s-%d", runID, i))
	}
	run, err := os.OpenFile(filepath.Join(dir, "run.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	return &Logs{root: root, dir: dir, keep: max(keep, 1), run: run, verbose: verbose}, nil
}

// Dir is this run's log directory.
func (l *Logs) Dir() string { return l.dir }

// Open creates <task>.log and returns a writer to it that also copies each
// line, prefixed "[task] ", to run.log (and verbose), and the file's path.
// It fits schedule.LogOpener. Close the writer when the task is done; a
// last line without a newline is passed on then.
func (l *Logs) Open(task string) (io.WriteCloser, string, error) {
	if task == "" || task == "run" || task == "." || task == ".." || strings.ContainsAny(task, `/\`+"\x00") {
		return nil, "", fmt.Errorf("logs: %q cannot be a log file name", task)
	}
	path := filepath.Join(l.dir, task+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("logs: %w", err)
	}
	prefix := "[" + task + "] "
	return &taskLog{f: f, l: l, prefix: prefix, line: make([]byte, 0, len(prefix)+512)}, path, nil
}

// line writes whole prefixed lines (each ending in '\n') to run.log in one
// write and to verbose one line per write, under the lock, so lines of
// parallel tasks never interleave.
func (l *Logs) line(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	_, _ = l.run.Write(b)
	if l.verbose != nil {
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			_, _ = l.verbose.Write(b[:i+1])
			b = b[i+1:]
		}
	}
}

// Close closes run.log; later lines from task writers are dropped.
func (l *Logs) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.run.Close()
}

// Prune removes the oldest run directories under root so that keep remain,
// this run's included. Only real directories named like run IDs are
// touched: not other names, not symlinks (nor what they point to).
func (l *Logs) Prune() error {
	entries, err := os.ReadDir(l.root)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	var runs []string
	for _, e := range entries {
		// ReadDir reports the entry itself, so a symlink is never a dir here.
		if e.Type().IsDir() && runIDRE.MatchString(e.Name()) {
			runs = append(runs, e.Name())
		}
	}
	sort.Strings(runs)
	var errs []error
	for i := 0; i < len(runs)-l.keep; i++ {
		p := filepath.Join(l.root, runs[i])
		if p == l.dir {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("logs: prune: %w", err)
	}
	return nil
}

// taskLog is one task's log writer. The raw bytes go to <task>.log as they
// come; run.log gets whole prefixed lines.
type taskLog struct {
	mu     sync.Mutex
	f      *os.File
	l      *Logs
	prefix string
	line   []byte // prefix + the current line so far, at most maxLogLine of it
	batch  []byte // whole prefixed lines not yet passed to run.log
	closed bool
}

// batchSize bounds the whole lines a task log gathers before passing them
// to run.log in one write: a line per syscall made a task printing a
// gigabyte of short lines take minutes.
const batchSize = 64 * 1024

func (t *taskLog) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, os.ErrClosed
	}
	n, err := t.f.Write(p)
	for len(p) > 0 {
		if len(t.line) == 0 {
			t.line = append(t.line, t.prefix...)
		}
		room := len(t.prefix) + maxLogLine - len(t.line)
		if room == 0 {
			// A full piece goes on as a line of its own; its newline, if
			// it is the next byte, goes with it.
			if p[0] == '\n' {
				p = p[1:]
			}
			t.line = append(t.line, '\n')
			t.flush()
			continue
		}
		if i := bytes.IndexByte(p[:min(room, len(p))], '\n'); i >= 0 {
			t.line = append(t.line, p[:i+1]...)
			t.flush()
			p = p[i+1:]
			continue
		}
		take := min(room, len(p))
		t.line = append(t.line, p[:take]...)
		p = p[take:]
	}
	t.pass()
	return n, err
}

// flush moves the finished line to the batch.
func (t *taskLog) flush() {
	t.batch = append(t.batch, t.line...)
	t.line = t.line[:0]
	if len(t.batch) >= batchSize {
		t.pass()
	}
}

// pass hands the batch of whole lines to run.log.
func (t *taskLog) pass() {
	if len(t.batch) > 0 {
		t.l.line(t.batch)
		t.batch = t.batch[:0]
	}
}

// Close passes on a last unterminated line and closes <task>.log.
func (t *taskLog) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if len(t.line) > len(t.prefix) {
		t.line = append(t.line, '\n')
		t.flush()
	}
	t.pass()
	return t.f.Close()
}
