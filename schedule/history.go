package schedule

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
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
}

// NewRunRecord builds the history record of a finished run.
func NewRunRecord(runID, host string, s *Summary, exit int, values map[string]any) RunRecord {
	rec := RunRecord{RunID: runID, Start: s.Start, WallMS: s.Wall.Milliseconds(), Host: host,
		ExitCode: exit, Tasks: map[string]TaskRecord{}}
	for name, r := range s.Results {
		rec.Tasks[name] = TaskRecord{State: r.State, Start: r.Start, DurationMS: r.Duration.Milliseconds(),
			WaitMS: r.Wait.Milliseconds(), Reason: r.Reason}
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

// AppendHistory appends rec as one line with a single write to a file
// opened O_APPEND, then syncs. A crash mid-write can at worst leave a torn
// last line, which ReadHistory skips; earlier runs are never rewritten.
func AppendHistory(path string, rec RunRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	// A torn line from a crash has no newline: start ours on a fresh line.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		if last, err := lastByte(path); err == nil && last != '\n' {
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

func lastByte(path string) (byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return '\n', err
	}
	b := make([]byte, 1)
	_, err = f.ReadAt(b, st.Size()-1)
	return b[0], err
}

// ReadHistory returns every run recorded in path, oldest first. Lines that
// do not parse (a torn write) are skipped and counted. A missing file is
// an empty history.
func ReadHistory(path string) (runs []RunRecord, skipped int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var rec RunRecord
		if json.Unmarshal(line, &rec) != nil || rec.Tasks == nil {
			skipped++
			continue
		}
		runs = append(runs, rec)
	}
	return runs, skipped, sc.Err()
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
