package schedule

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
)

// RunRecord is one line of history.jsonl: one whole run.
type RunRecord struct {
	RunID    string                `json:"run_id"`
	Start    time.Time             `json:"start"`
	WallMS   int64                 `json:"wall_ms"`
	Host     string                `json:"host,omitempty"`
	ExitCode int                   `json:"exit_code"`
	Tasks    map[string]TaskRecord `json:"tasks"`
	// Values are the strings tasks handed on, keyed "task.key" (the built
	// store path is "build.out").
	Values map[string]string `json:"values,omitempty"`
}

// TaskRecord is one task of a RunRecord.
type TaskRecord struct {
	State      State     `json:"state"`
	Start      time.Time `json:"start"`
	DurationMS int64     `json:"duration_ms"`
	Reason     string    `json:"reason,omitempty"`
	// WaitMS is the part of DurationMS spent waiting for the person's
	// answers; Estimates leave it out.
	WaitMS int64 `json:"wait_ms,omitempty"`
	// Host is the host of a per-host task (build@web1 is recorded under
	// its full name, with "web1" here), so that a reader need not parse
	// names; absent for a task of the whole run.
	Host string `json:"host,omitempty"`
}

// NewRunRecord builds the history record of a finished run.
func NewRunRecord(runID, host string, s *Summary, exit int, values map[string]any) RunRecord {
	rec := RunRecord{RunID: runID, Start: s.Start, WallMS: s.Wall.Milliseconds(), Host: host,
		ExitCode: exit, Tasks: map[string]TaskRecord{}}
	for name, r := range s.Results {
		rec.Tasks[name] = TaskRecord{State: r.State, Start: r.Start, DurationMS: r.Duration.Milliseconds(),
			WaitMS: r.Wait.Milliseconds(), Reason: r.Reason, Host: r.Host}
	}
	for k, v := range values {
		if str, ok := v.(string); ok {
			if rec.Values == nil {
				rec.Values = map[string]string{}
			}
			rec.Values[k] = str
		}
	}
	return rec
}

// MaxHistoryLine is the longest history line read back: a longer one
// (a damaged file, a runaway value) is skipped and counted, never an
// error, so it cannot hide the runs recorded after it.
const MaxHistoryLine = 16 << 20

// AppendHistory appends rec as one line with a single write to a file
// opened O_APPEND, then syncs. A crash mid-write can at worst leave a torn
// last line, which ReadHistory skips; earlier runs are never rewritten
// (CompactHistory drops the oldest ones past a size). The file is never
// followed if it is a link, and run as root in a state directory of
// another user it stays that user's (see package safefile).
func AppendHistory(path string, rec RunRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if len(b) >= MaxHistoryLine {
		// The values tasks hand on are what can grow without bound; the
		// states and durations the ETAs need are small.
		rec.Values = nil
		if b, err = json.Marshal(rec); err != nil {
			return err
		}
		if len(b) >= MaxHistoryLine {
			return fmt.Errorf("history: the record of run %s is %d bytes, over the %d a line may have", rec.RunID, len(b), MaxHistoryLine)
		}
	}
	d, err := safefile.OpenDirAll(filepath.Dir(path), 0o755)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.CheckOwner(os.Geteuid()); err != nil {
		return err
	}
	f, err := d.OpenFile(filepath.Base(path), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	// A torn line from a crash has no newline: start ours on a fresh line.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			b = append([]byte{'\n'}, b...)
		}
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// openHistory opens path for reading, never through a link; a missing
// file (or folder) is (nil, nil).
func openHistory(path string) (*os.File, error) {
	d, err := safefile.OpenDir(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	f, err := d.OpenFile(filepath.Base(path), os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

// parseRecord decodes one history line; false for a torn or foreign one.
func parseRecord(line []byte) (RunRecord, bool) {
	var rec RunRecord
	if json.Unmarshal(line, &rec) != nil || rec.Tasks == nil {
		return rec, false
	}
	return rec, true
}

// ReadHistory returns every run recorded in path, oldest first. Lines that
// do not parse (a torn write) or are longer than MaxHistoryLine are skipped
// and counted. A missing file is an empty history. For the newest runs
// only, ReadHistoryBackward costs what it reads.
func ReadHistory(path string) (runs []RunRecord, skipped int, err error) {
	f, err := openHistory(path)
	if f == nil || err != nil {
		return nil, 0, err
	}
	defer f.Close()
	err = forwardLines(f, func(line []byte, tooLong bool) {
		if tooLong {
			skipped++
			return
		}
		if rec, ok := parseRecord(line); ok {
			runs = append(runs, rec)
		} else {
			skipped++
		}
	})
	return runs, skipped, err
}

// forwardLines calls fn with each non-empty line of r, without its
// newline; a line longer than MaxHistoryLine is passed as (nil, true)
// and never held in memory whole.
func forwardLines(r io.Reader, fn func(line []byte, tooLong bool)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !tooLong {
				long = append(long, chunk...)
				if len(long) > MaxHistoryLine {
					tooLong, long = true, nil
				}
			}
			continue
		}
		line := chunk
		if len(long) > 0 || tooLong {
			if !tooLong {
				long = append(long, chunk...)
				tooLong = len(long) > MaxHistoryLine+1
			}
			line = long
		}
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		switch {
		case tooLong:
			fn(nil, true)
		case len(line) > 0:
			fn(line, false)
		}
		long, tooLong = long[:0], false
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// ReadHistoryBackward calls fn with the runs recorded in path, newest
// first, until fn returns false, and returns how many lines it skipped on
// the way (torn, or longer than MaxHistoryLine). It reads the file from
// its end in blocks, so looking at the last runs of a history of any size
// costs what those runs cost. A missing file is an empty history.
func ReadHistoryBackward(path string, fn func(RunRecord) bool) (skipped int, err error) {
	f, err := openHistory(path)
	if f == nil || err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	err = backwardLines(f, st.Size(), func(_ int64, line []byte, tooLong bool) bool {
		if tooLong {
			skipped++
			return true
		}
		rec, ok := parseRecord(line)
		if !ok {
			skipped++
			return true
		}
		return fn(rec)
	})
	return skipped, err
}

// backwardLines calls fn with each non-empty line of the first size bytes
// of f, last line first, with the offset where it starts, until fn returns
// false. A line longer than MaxHistoryLine is passed as (off, nil, true)
// and never held in memory whole.
func backwardLines(f io.ReaderAt, size int64, fn func(off int64, line []byte, tooLong bool) bool) error {
	const block = 64 << 10
	buf := make([]byte, block)
	var parts [][]byte // the current line's pieces seen so far, last piece first
	partLen := 0
	tooLong := false
	emit := func(off int64) bool {
		if tooLong {
			parts, partLen, tooLong = parts[:0], 0, false
			return fn(off, nil, true)
		}
		if partLen == 0 {
			return true
		}
		line := make([]byte, 0, partLen)
		for i := len(parts) - 1; i >= 0; i-- {
			line = append(line, parts[i]...)
		}
		parts, partLen = parts[:0], 0
		return fn(off, line, false)
	}
	add := func(p []byte) {
		if tooLong || len(p) == 0 {
			return
		}
		partLen += len(p)
		if partLen > MaxHistoryLine {
			parts, partLen, tooLong = parts[:0], 0, true
			return
		}
		parts = append(parts, append([]byte(nil), p...))
	}
	pos := size
	for pos > 0 {
		n := int64(block)
		if pos < n {
			n = pos
		}
		pos -= n
		b := buf[:n]
		if _, err := f.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		for {
			i := bytes.LastIndexByte(b, '\n')
			if i < 0 {
				add(b)
				break
			}
			add(b[i+1:])
			if !emit(pos + int64(i) + 1) {
				return nil
			}
			b = b[:i]
		}
	}
	emit(0)
	return nil
}

// CompactHistory keeps the history at path under max bytes: once it is
// larger, the oldest runs are dropped so that the newest half of max is
// left (so a run does not rewrite it every time), through a temporary
// file renamed into place. It returns how many bytes were dropped. The
// caller holds the lock, so no run appends meanwhile; a reader sees the
// old file or the new one. max <= 0 keeps everything.
func CompactHistory(path string, max int64) (dropped int64, err error) {
	if max <= 0 {
		return 0, nil
	}
	d, err := safefile.OpenDir(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer d.Close()
	name := filepath.Base(path)
	f, err := d.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() <= max {
		return 0, err
	}
	// The newest lines that fit in half of max; cut where one starts.
	keepFrom := st.Size()
	err = backwardLines(f, st.Size(), func(off int64, _ []byte, _ bool) bool {
		if st.Size()-off > max/2 && keepFrom < st.Size() {
			return false // the newest run is always kept
		}
		keepFrom = off
		return true
	})
	if err != nil {
		return 0, err
	}
	tmpName := fmt.Sprintf(".%s.compact-%d", name, os.Getpid())
	_ = d.Remove(tmpName) // left by a crash
	tmp, err := d.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return 0, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			_ = d.Remove(tmpName)
		}
	}()
	if _, err := io.Copy(tmp, io.NewSectionReader(f, keepFrom, st.Size()-keepFrom)); err != nil {
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := d.Rename(tmpName, name); err != nil {
		return 0, err
	}
	ok = true
	return keepFrom, nil
}

// EstimateWindow is how many of the newest runs RecentEstimates looks at:
// a duration older than that says little about the machine as it is now.
const EstimateWindow = 1000

// RecentEstimates returns Estimates over the newest EstimateWindow runs
// recorded in path, reading only those.
func RecentEstimates(path, host string) (map[string]time.Duration, error) {
	var runs []RunRecord
	_, err := ReadHistoryBackward(path, func(r RunRecord) bool {
		runs = append(runs, r)
		return len(runs) < EstimateWindow
	})
	slices.Reverse(runs)
	return Estimates(runs, host), err
}

// Estimates returns, per task, the median of its last 10 successful
// durations in runs (oldest first) on host ("" matches every host),
// without the time each run waited for answers: how long a person takes
// to read a question says nothing about the next run.
func Estimates(runs []RunRecord, host string) map[string]time.Duration {
	last := map[string][]int64{}
	for i := len(runs) - 1; i >= 0; i-- {
		if host != "" && runs[i].Host != "" && runs[i].Host != host {
			continue
		}
		for name, t := range runs[i].Tasks {
			if t.State == Succeeded && len(last[name]) < 10 {
				last[name] = append(last[name], max(0, t.DurationMS-t.WaitMS))
			}
		}
	}
	out := make(map[string]time.Duration, len(last))
	for name, ds := range last {
		out[name] = time.Duration(median(ds)) * time.Millisecond
	}
	return out
}

func median(v []int64) int64 {
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
