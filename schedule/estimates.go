package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
)

// EstimatesFile is the compact summary of history.jsonl kept beside it:
// per host and task, the newest successful durations Estimates would use,
// updated after each run, so that start-up (and `rebuild plan`) reads a
// few kilobytes instead of the last EstimateWindow runs of the history.
const EstimatesFile = "estimates.json"

// estimateSummary is EstimatesFile's content.
type estimateSummary struct {
	Version int `json:"version"`
	// History is the history file it accounts for, as it was when the
	// summary was written: another size, file or modification time means
	// runs were added, dropped or changed behind the summary's back, and
	// it is built again.
	History historyMark `json:"history"`
	// Runs counts the runs summarised; each sample carries the number of
	// its run, so the window (the newest EstimateWindow runs) holds.
	Runs int64 `json:"runs"`
	// Hosts: host ("" for runs recorded without one) → task → its newest
	// estimateKeep successful durations, newest first.
	Hosts map[string]map[string][]estimateSample `json:"hosts"`
}

type historyMark struct {
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
	Size int64  `json:"size"`
	// MTime (nanoseconds) catches a history rewritten in place to the
	// same size; a summary written before it had one is built again once.
	MTime int64 `json:"mtime"`
}

type estimateSample struct {
	Run int64 `json:"run"`
	MS  int64 `json:"ms"`
}

// estimateKeep is how many durations Estimates takes the median of.
const estimateKeep = 10

const estimateVersion = 1

// add counts one run, the newest.
func (s *estimateSummary) add(r RunRecord) {
	if r.Tasks == nil {
		return // not read back as a run (see parseRecord)
	}
	s.Runs++
	if s.Hosts == nil {
		s.Hosts = map[string]map[string][]estimateSample{}
	}
	tasks := s.Hosts[r.Host]
	if tasks == nil {
		tasks = map[string][]estimateSample{}
		s.Hosts[r.Host] = tasks
	}
	for name, t := range r.Tasks {
		if t.State != Succeeded {
			continue
		}
		v := append([]estimateSample{{Run: s.Runs, MS: max(0, t.DurationMS-t.WaitMS)}}, tasks[name]...)
		if len(v) > estimateKeep {
			v = v[:estimateKeep]
		}
		tasks[name] = v
	}
}

// estimates is Estimates over the newest EstimateWindow runs summarised.
func (s *estimateSummary) estimates(host string) map[string]time.Duration {
	from := s.Runs - EstimateWindow // runs numbered above from are in the window
	merged := map[string][]estimateSample{}
	for h, tasks := range s.Hosts {
		if host != "" && h != "" && h != host {
			continue
		}
		for name, v := range tasks {
			merged[name] = append(merged[name], v...)
		}
	}
	out := make(map[string]time.Duration, len(merged))
	for name, v := range merged {
		slices.SortFunc(v, func(a, b estimateSample) int { return int(b.Run - a.Run) })
		var ms []int64
		for _, x := range v {
			if x.Run > from && len(ms) < estimateKeep {
				ms = append(ms, x.MS)
			}
		}
		if len(ms) > 0 {
			out[name] = time.Duration(median(ms)) * time.Millisecond
		}
	}
	return out
}

// markOf is the mark of the history file at path (zero when it is absent).
func markOf(path string) (historyMark, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return historyMark{}, nil
	}
	if err != nil {
		return historyMark{}, err
	}
	m := historyMark{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		m.Dev, m.Ino = uint64(st.Dev), uint64(st.Ino)
	}
	return m, nil
}

func estimatesPath(historyPath string) string {
	return filepath.Join(filepath.Dir(historyPath), EstimatesFile)
}

// loadSummary reads the summary kept beside historyPath; nil when there is
// none, it cannot be read, or it no longer accounts for the history.
func loadSummary(historyPath string) *estimateSummary {
	d, err := safefile.OpenDir(filepath.Dir(historyPath))
	if err != nil {
		return nil
	}
	defer d.Close()
	f, err := d.OpenFile(EstimatesFile, os.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil
	}
	var s estimateSummary
	if json.Unmarshal(b, &s) != nil || s.Version != estimateVersion {
		return nil
	}
	if m, err := markOf(historyPath); err != nil || m != s.History {
		return nil
	}
	return &s
}

// summarise builds the summary from the newest EstimateWindow runs of the
// history, read from its end.
func summarise(historyPath string) (*estimateSummary, error) {
	mark, err := markOf(historyPath)
	if err != nil {
		return nil, err
	}
	var runs []RunRecord
	if _, err := ReadHistoryBackward(historyPath, func(r RunRecord) bool {
		runs = append(runs, r)
		return len(runs) < EstimateWindow
	}); err != nil {
		return nil, err
	}
	s := &estimateSummary{Version: estimateVersion}
	for i := len(runs) - 1; i >= 0; i-- {
		s.add(runs[i])
	}
	// A run appended while reading is not in it: the mark taken before
	// makes the next load see the file grew and build it again.
	s.History = mark
	return s, nil
}

// saveSummary writes s beside historyPath through a temporary file.
func saveSummary(historyPath string, s *estimateSummary) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	d, err := safefile.OpenDirAll(filepath.Dir(historyPath), 0o755)
	if err != nil {
		return err
	}
	defer d.Close()
	tmp := fmt.Sprintf(".%s.%d", EstimatesFile, os.Getpid())
	_ = d.Remove(tmp) // left by a crash
	f, err := d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.Rename(tmp, EstimatesFile)
	}
	if err != nil {
		_ = d.Remove(tmp)
		return fmt.Errorf("writing %s: %w", filepath.Join(d.Path(), EstimatesFile), err)
	}
	return nil
}

// LoadEstimates returns what RecentEstimates would, from the summary kept
// beside the history at historyPath; when the summary is missing or stale
// (the history was changed by something else than RecordRun), it is built
// again from the history's end and kept.
func LoadEstimates(historyPath, host string) (map[string]time.Duration, error) {
	if s := loadSummary(historyPath); s != nil {
		return s.estimates(host), nil
	}
	s, err := summarise(historyPath)
	if err != nil {
		return nil, err
	}
	if s.History != (historyMark{}) {
		_ = saveSummary(historyPath, s) // not kept: built again next time
	}
	return s.estimates(host), nil
}

// RecordRun appends rec to the history at historyPath (AppendHistory),
// keeps it under maxBytes (CompactHistory), and brings the summary up to
// date: the run added to it when it accounted for the history as it was,
// else built again from the history. The caller holds the run lock.
func RecordRun(historyPath string, rec RunRecord, maxBytes int64) error {
	before, _ := markOf(historyPath)
	s := loadSummary(historyPath)
	if err := AppendHistory(historyPath, rec); err != nil {
		return err
	}
	var errs []error
	dropped, err := CompactHistory(historyPath, maxBytes)
	if err != nil {
		errs = append(errs, &CompactError{err})
	}
	if s != nil && s.History == before && dropped == 0 {
		s.add(rec)
		if s.History, err = markOf(historyPath); err != nil {
			s = nil
		}
	} else {
		s = nil
	}
	if s == nil {
		if s, err = summarise(historyPath); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	if err := saveSummary(historyPath, s); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CompactError is RecordRun's error when the run was recorded but the
// history could not be kept under its size.
type CompactError struct{ Err error }

func (e *CompactError) Error() string { return "compacting history (history_max): " + e.Err.Error() }
func (e *CompactError) Unwrap() error { return e.Err }
