package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
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
//
// Everything is created relative to pinned directories and never through
// a link (package safefile): run as root with a user's state directory, a
// link planted as logs or in place of a run cannot send the logs, or
// Prune's removals, anywhere else, and what is created is that user's.
type Logs struct {
	root   string
	dir    string
	keep   int
	runDir *safefile.Dir

	// outMu orders the writes to run.log and verbose (flushRun); mu
	// guards the rest. outMu is taken first.
	outMu    sync.Mutex
	mu       sync.Mutex
	run      *os.File
	verbose  io.Writer
	runBuf   []byte // whole prefixed lines not yet written to run.log and verbose
	runSpare []byte // runBuf's next buffer
	closed   bool
	max      int64
	cuts     []Cut

	w logWriter // writes every task log, off the tasks' goroutines (logwriter.go)
}

// OpenLogs creates <root>/<runID>/ and its run.log. keep is how many run
// directories Prune leaves (at least 1: this run's). verbose, when not
// nil, receives every prefixed line as well (one line per Write; pass a
// Renderer's VerboseWriter so the live area is not broken). root's parent
// is created when missing; root itself must not be a link.
func OpenLogs(root, runID string, keep int, verbose io.Writer) (*Logs, error) {
	if !runIDRE.MatchString(runID) {
		return nil, fmt.Errorf("logs: %q is not a run ID (want e.g. %s)", runID, NewRunID(time.Unix(0, 0)))
	}
	logsDir, err := openLogsRoot(root, true)
	if err != nil {
		return nil, err
	}
	defer logsDir.Close()
	name := runID
	for i := 2; ; i++ {
		err := logsDir.Mkdir(name, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return nil, fmt.Errorf("logs: %w", err)
		}
		name = fmt.Sprintf("%s-%d", runID, i)
	}
	runDir, err := logsDir.Subdir(name)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	run, err := runDir.OpenFile("run.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		runDir.Close()
		return nil, fmt.Errorf("logs: %w", err)
	}
	l := &Logs{root: root, dir: filepath.Join(root, name), runDir: runDir, keep: max(keep, 1), run: run, verbose: verbose}
	l.w.start(l)
	return l, nil
}

// openLogsRoot opens root (creating it, and its parent, when create is
// set) without following a link in root's place.
func openLogsRoot(root string, create bool) (*safefile.Dir, error) {
	root = filepath.Clean(root)
	var parent *safefile.Dir
	var err error
	if create {
		parent, err = safefile.OpenDirAll(filepath.Dir(root), 0o755)
	} else {
		parent, err = safefile.OpenDir(filepath.Dir(root))
	}
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	defer parent.Close()
	var d *safefile.Dir
	if create {
		d, err = parent.EnsureSubdir(filepath.Base(root), 0o700)
	} else {
		d, err = parent.Subdir(filepath.Base(root))
	}
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	return d, nil
}

// CapTasks caps each task's log at max bytes (0: no cap). A task that
// prints more keeps the first and the last half of max in its log, with
// a line between them saying how much was cut; run.log and the verbose
// stream get the same. Call it before the first Open.
func (l *Logs) CapTasks(max int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max = max
}

// Cut is a task log that reached its cap.
type Cut struct {
	Task        string
	Total, Kept int64 // bytes the task printed, bytes its log kept
	Max         int64
}

// String is the warning the summary shows for the task.
func (c Cut) String() string {
	return fmt.Sprintf("it printed %s; its log keeps the first %s and the last %s (log_max = %s)",
		formatSize(c.Total), formatSize(c.Max-c.Max/2), formatSize(c.Max/2), formatSize(c.Max))
}

// Cuts returns the task logs that reached their cap, once their writers
// are closed, in the order they were closed.
func (l *Logs) Cuts() []Cut {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Cut(nil), l.cuts...)
}

// Dir is this run's log directory.
func (l *Logs) Dir() string { return l.dir }

// Open returns a writer to <task>.log that also copies each line,
// prefixed "[task] ", to run.log (and verbose), and the file's path. It
// fits schedule.LogOpener. The file is created at the first write of
// output: a task that prints nothing, having at most run commands that
// printed nothing (WriteCommandLine), leaves no file (Empty says so).
// Close the writer
// when the task is done; a last line without a newline is passed on then.
func (l *Logs) Open(task string) (io.WriteCloser, string, error) {
	if task == "" || task == "run" || task == "." || task == ".." || strings.ContainsAny(task, `/\`+"\x00") {
		return nil, "", fmt.Errorf("logs: %q cannot be a log file name", task)
	}
	l.mu.Lock()
	capped := l.max
	l.mu.Unlock()
	prefix := "[" + task + "] "
	t := &taskLog{l: l, task: task, prefix: prefix, max: capped, runStop: -1}
	t.room.L = &t.mu
	return t, filepath.Join(l.dir, task+".log"), nil
}

// create opens <task>.log on the first output, and writes the command
// lines held until then; a file already there (the same task logged twice
// in a run) is written on after its end.
func (t *taskLog) create() error {
	if t.f != nil || t.openErr != nil {
		return t.openErr
	}
	// Nearly always the file is new: made in one system call. One already
	// there is checked and opened as before.
	f, err := t.l.runDir.CreateNew(t.task+".log", os.O_RDWR, 0o600)
	if err == nil {
		t.f, t.pos = f, 0
	} else if errors.Is(err, fs.ErrExist) {
		f, err = t.l.runDir.OpenFile(t.task+".log", os.O_CREATE|os.O_RDWR, 0o600)
	}
	if err == nil && t.f == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err != nil {
			f.Close()
		} else {
			t.f, t.pos = f, st.Size()
		}
	}
	if err != nil {
		t.openErr = fmt.Errorf("logs: %w", err)
	}
	if t.line == nil {
		t.line = make([]byte, 0, len(t.prefix)+512)
	}
	if t.f != nil && len(t.held) > 0 {
		// The command lines that came first: run.log has them already.
		t.store(t.held, false)
	}
	t.held = nil
	return t.openErr
}

// line gathers whole prefixed lines (each ending in '\n') for run.log and
// verbose, under the lock, so lines of parallel tasks never interleave.
// The writer passes them on once per round (flushRun), or here when they
// fill a batch.
func (l *Logs) line(b []byte) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.runBuf = append(l.runBuf, b...)
	full := len(l.runBuf) >= batchSize
	l.mu.Unlock()
	if full {
		l.flushRun()
	}
}

// flushRun writes the gathered lines to run.log in one write and to
// verbose one line per write. It holds outMu, not mu, while it writes: a
// display that is slow to take its lines holds no task's Open.
func (l *Logs) flushRun() {
	l.outMu.Lock()
	defer l.outMu.Unlock()
	l.mu.Lock()
	b := l.runBuf
	l.runBuf = l.runSpare[:0]
	closed := l.closed
	l.mu.Unlock()
	if len(b) == 0 || closed {
		return
	}
	l.writeRun(b)
	l.mu.Lock()
	if cap(b) <= 4*batchSize { // one burst does not keep its memory
		l.runSpare = b[:0]
	}
	l.mu.Unlock()
}

// writeRun writes b, whole lines, to run.log and verbose. outMu is held.
func (l *Logs) writeRun(b []byte) {
	_, _ = l.run.Write(b)
	if l.verbose != nil {
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			_, _ = l.verbose.Write(b[:i+1])
			b = b[i+1:]
		}
	}
}

// Close waits for the writer to finish what the task logs handed it and
// closes run.log; later lines from task writers are dropped (their own
// logs are still written, by the tasks themselves).
func (l *Logs) Close() error {
	l.w.stop()
	l.flushRun()
	l.outMu.Lock()
	defer l.outMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.runDir.Close()
	return l.run.Close()
}

// Prune removes the oldest run directories under root so that keep remain,
// this run's included. Only real directories named like run IDs are
// touched: not other names, not symlinks (nor what they point to), and
// nothing is followed inside them.
func (l *Logs) Prune() error {
	root, err := openLogsRoot(l.root, false)
	if err != nil {
		return fmt.Errorf("logs: prune: %w", err)
	}
	defer root.Close()
	names, err := root.Names()
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	var runs []string
	for _, n := range names {
		if !runIDRE.MatchString(n) {
			continue
		}
		// Lstat: a symlink is never a directory here.
		if st, err := root.Lstat(n); err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			runs = append(runs, n)
		}
	}
	sort.Strings(runs)
	var errs []error
	for i := 0; i < len(runs)-l.keep; i++ {
		if filepath.Join(l.root, runs[i]) == l.dir {
			continue
		}
		if err := root.RemoveAll(runs[i]); err != nil {
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
//
// With a cap (max > 0), the log is written as it comes up to max bytes.
// Past that its first max-max/2 bytes stay and the rest of the file is a
// ring of the last max/2 bytes, written in place, so a task printing a
// gigabyte costs neither disk nor memory beyond the cap. Close puts the
// ring in order behind a line saying what was cut. run.log (and the
// verbose stream) take the task's lines until they hold max-max/2 bytes
// of it; Close then passes on its last lines, up to max/2 bytes, with a
// line saying what run.log leaves out.
//
// A task's writes are handed to the Logs' writer (logwriter.go): the
// fields under mu are that hand-over; the rest are the writer's, touched
// only under wmu.
type taskLog struct {
	l      *Logs
	task   string
	prefix string

	mu      sync.Mutex
	room    sync.Cond  // on mu: pend was taken
	pend    []byte     // written, not yet taken by the writer
	spare   []byte     // pend's next buffer
	queued  bool       // the writer has t to take (or a caller does, once the writer stopped)
	pendOut bool       // pend holds output, not only command lines
	closed  bool       // Close was called: no more writes
	closing chan error // Close's answer, once everything before it is written

	wmu      sync.Mutex
	f        *os.File // nil until the first output (create)
	openErr  error    // why create failed; later writes only go to run.log
	held     []byte   // command lines written before the file was made, its first bytes once it is
	writeErr error    // the first write to the file that failed
	line     []byte   // prefix + the current line so far, at most maxLogLine of it
	batch    []byte   // whole prefixed lines not yet passed to run.log

	pos     int64 // where the next byte of the head goes
	max     int64 // the cap; 0 = none
	total   int64 // bytes written to the log, cut ones included
	cutting bool  // past the head: bytes go to the ring
	ringAt  int64 // the ring's first byte in the file
	ringPos int64 // the next write's place in the ring
	ringLen int64 // bytes in the ring (up to its size)

	// run.log's share, capped the same way in its own bytes (prefixes
	// included: a task printing short lines would otherwise fill run.log
	// several times over).
	raw      int64 // output bytes turned into run.log lines so far
	runBytes int64 // bytes of those lines passed to run.log
	runStop  int64 // raw offset where run.log stopped taking lines; -1 while it takes them
	tailing  bool  // Close is passing the tail: no cap
}

// batchSize bounds the whole lines a task log gathers before passing them
// to run.log in one write: a line per syscall made a task printing a
// gigabyte of short lines take minutes.
const batchSize = 64 * 1024

// holdMax bounds the command lines a task log holds while it has no file:
// a task running thousands of silent commands gets its file instead.
const holdMax = 4 << 10

// write puts p, the task's output, in its log and run.log's batch; with
// output unset p is only command lines (WriteCommandLine), held while
// there is no file. The writer calls it, under wmu.
func (t *taskLog) write(p []byte, output bool) {
	t.total += int64(len(p))
	if !output && t.f == nil && t.openErr == nil && len(t.held)+len(p) <= holdMax {
		t.held = append(t.held, p...)
		t.split(p)
		return
	}
	if t.create() != nil {
		// No file: run.log still gets the lines, and Close reports why.
		t.split(p)
		return
	}
	t.store(p, true)
}

// store writes p at the log's end, into the ring once past the cap; pass
// says its lines go to run.log too (not the held command lines, which
// went there when they came).
func (t *taskLog) store(p []byte, pass bool) {
	var err error
	if t.max > 0 && !t.cutting && t.pos+int64(len(p)) > t.max {
		k := max(t.max-t.pos, 0)
		err = t.writeHead(p[:k], pass)
		p = p[k:]
		t.startCut()
	}
	if t.cutting {
		err = errors.Join(err, t.writeRing(p))
	} else {
		err = errors.Join(err, t.writeHead(p, pass))
	}
	if err != nil && t.writeErr == nil {
		t.writeErr = err
	}
}

// head is how many bytes of a capped log are kept from its start.
func (t *taskLog) head() int64 { return t.max - t.max/2 }

// ringSize is how many bytes of a capped log are kept from its end.
func (t *taskLog) ringSize() int64 { return t.max / 2 }

// writeHead writes p where the log goes on and, with pass, passes its
// lines on.
func (t *taskLog) writeHead(p []byte, pass bool) error {
	if len(p) == 0 {
		return nil
	}
	k, err := t.f.WriteAt(p, t.pos)
	t.pos += int64(k)
	if pass {
		t.split(p)
	}
	return err
}

// split turns p, output of the task, into prefixed lines for run.log.
func (t *taskLog) split(p []byte) {
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
				t.raw++
			}
			t.line = append(t.line, '\n')
			t.flush()
			continue
		}
		if i := bytes.IndexByte(p[:min(room, len(p))], '\n'); i >= 0 {
			t.line = append(t.line, p[:i+1]...)
			t.raw += int64(i + 1)
			t.flush()
			p = p[i+1:]
			continue
		}
		take := min(room, len(p))
		t.line = append(t.line, p[:take]...)
		t.raw += int64(take)
		p = p[take:]
	}
	t.pass()
}

// note passes a line of rebuild's own to run.log, outside the cap.
func (t *taskLog) note(text string) {
	t.endLine()
	t.batch = append(append(append(t.batch, t.prefix...), text...), '\n')
	t.pass()
}

// startCut is called when the log is full: its second half becomes the
// ring, full, its oldest byte first.
func (t *taskLog) startCut() {
	t.cutting = true
	t.ringAt, t.ringPos, t.ringLen = t.head(), 0, t.ringSize()
}

// endLine finishes an unterminated line for run.log.
func (t *taskLog) endLine() {
	if len(t.line) > len(t.prefix) {
		t.line = append(t.line, '\n')
		t.flush()
	}
	t.line = t.line[:0]
	t.pass()
}

// writeRing keeps the last ringSize bytes of what comes after the head.
func (t *taskLog) writeRing(p []byte) error {
	size := t.ringSize()
	if size == 0 {
		return nil
	}
	if int64(len(p)) > size {
		p = p[int64(len(p))-size:]
	}
	var errs error
	for len(p) > 0 {
		k := min(int64(len(p)), size-t.ringPos)
		if _, err := t.f.WriteAt(p[:k], t.ringAt+t.ringPos); err != nil {
			errs = err
		}
		p = p[k:]
		t.ringPos = (t.ringPos + k) % size
		t.ringLen = min(t.ringLen+k, size)
	}
	return errs
}

// flush moves the finished line to the batch, until run.log holds its
// share of a capped task's output.
func (t *taskLog) flush() {
	if t.max > 0 && !t.tailing {
		if t.runStop >= 0 {
			t.line = t.line[:0]
			return
		}
		t.runBytes += int64(len(t.line))
		if t.runBytes >= t.head() {
			t.runStop = t.raw
		}
	}
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

// finish passes on a last unterminated line and closes <task>.log; a
// capped log gets its tail put in order first. The writer calls it, under
// wmu, once everything written before Close is in.
func (t *taskLog) finish() error {
	if t.f == nil {
		// Nothing was written (no file, nothing to pass on), or the file
		// could not be created and only run.log has the lines.
		t.endLine()
		return t.openErr
	}
	err := t.writeErr
	if t.cutting {
		err = errors.Join(err, t.finishCut())
	}
	t.endLine()
	if t.runStop >= 0 {
		err = errors.Join(err, t.passTail())
	}
	return errors.Join(err, t.f.Close())
}

// finishCut lays the log out as head, a line saying what was cut, then
// the ring from its oldest byte. It reads and writes in blocks: memory
// stays flat.
func (t *taskLog) finishCut() error {
	kept := t.ringAt + t.ringLen
	cut := t.total - kept
	note := t.cutNote(cut)
	m := int64(len(note))
	if t.ringLen == t.ringSize() && t.ringPos != 0 {
		// The ring wrapped: its oldest byte is at ringPos. Copy it, in
		// order, past its end, then down behind the note.
		scratch := t.ringAt + t.ringLen
		if err := copyWithin(t.f, scratch, t.ringAt+t.ringPos, t.ringLen-t.ringPos); err != nil {
			return err
		}
		if err := copyWithin(t.f, scratch+t.ringLen-t.ringPos, t.ringAt, t.ringPos); err != nil {
			return err
		}
		if err := copyWithin(t.f, t.ringAt+m, scratch, t.ringLen); err != nil {
			return err
		}
	} else if err := copyWithin(t.f, t.ringAt+m, t.ringAt, t.ringLen); err != nil {
		return err
	}
	if _, err := t.f.WriteAt([]byte(note), t.ringAt); err != nil {
		return err
	}
	t.pos = t.ringAt + m + t.ringLen
	if err := t.f.Truncate(t.pos); err != nil {
		return err
	}
	t.l.mu.Lock()
	t.l.cuts = append(t.l.cuts, Cut{Task: t.task, Total: t.total, Kept: kept, Max: t.max})
	t.l.mu.Unlock()
	return nil
}

// cutNote is the line a capped log holds where its output was cut.
func (t *taskLog) cutNote(cut int64) string {
	return fmt.Sprintf("\n[rebuild: %s of output cut here; this log keeps the first %s and the last %s of %s (log_max = %s)]\n",
		formatSize(cut), formatSize(t.ringAt), formatSize(t.ringLen), formatSize(t.total), formatSize(t.max))
}

// passTail gives run.log, which stopped taking lines at runStop, the last
// lines of the log that fit in max/2 bytes of it, after a line saying
// what it leaves out. It reads the finished log file in blocks.
func (t *taskLog) passTail() error {
	end := t.pos
	start, err := t.tailStart(end, t.ringSize())
	if err != nil {
		return err
	}
	had := t.runStop // where run.log stopped, in the file
	if t.cutting {
		had = min(had, t.ringAt) // past the head the file is the ring
	}
	if start <= had {
		start = had // never what run.log has
	} else {
		shown := end - start
		if t.cutting && start <= t.ringAt {
			shown -= int64(len(t.cutNote(t.total - t.ringAt - t.ringLen))) // the note is not output
		}
		t.note(fmt.Sprintf("[rebuild: %s of this task's output left out of run.log here (log_max = %s); %s.log has %s]",
			formatSize(max(t.total-t.runStop-shown, 0)), formatSize(t.max), t.task, keptWords(t.cutting)))
	}
	t.tailing = true
	defer func() { t.tailing = false }()
	buf := make([]byte, 64<<10)
	for off := start; off < end; {
		k, err := t.f.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		t.split(buf[:k])
		off += int64(k)
		if err != nil {
			break
		}
	}
	t.endLine()
	return nil
}

func keptWords(cut bool) string {
	if cut {
		return "its first and last part"
	}
	return "all of it"
}

// tailStart is where the last lines of the log's first end bytes begin
// that, prefixed, fit in budget bytes (end when not even the last one
// does).
func (t *taskLog) tailStart(end, budget int64) (int64, error) {
	buf := make([]byte, 64<<10)
	start, lines := end, int64(1)
	for pos := end; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		b := buf[:n]
		if _, err := t.f.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
			return start, err
		}
		for i := n - 1; i >= 0; i-- {
			if b[i] != '\n' || pos+i+1 >= end {
				continue
			}
			ls := pos + i + 1 // a line starts here
			if end-ls+lines*int64(len(t.prefix)) > budget {
				return start, nil
			}
			start = ls
			lines++
		}
	}
	if end+lines*int64(len(t.prefix)) <= budget {
		start = 0
	}
	return start, nil
}

// copyWithin copies n bytes of f from src to dst, in blocks, in the order
// that is safe when the two overlap (as memmove does).
func copyWithin(f *os.File, dst, src, n int64) error {
	if n <= 0 || dst == src {
		return nil
	}
	buf := make([]byte, min(n, 1<<20))
	size := int64(len(buf))
	for done := int64(0); done < n; {
		k := min(size, n-done)
		var at int64
		if dst < src {
			at = done // front to back
		} else {
			at = n - done - k // back to front
		}
		if _, err := f.ReadAt(buf[:k], src+at); err != nil {
			return err
		}
		if _, err := f.WriteAt(buf[:k], dst+at); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// formatSize shows n bytes in binary units, as du -h and the summary do:
// "512 B", "1.2 KiB", "50 MiB".
func formatSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v >= 100 || v == float64(int64(v)) {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
