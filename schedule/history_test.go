package schedule

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHistoryAppendSurvivesTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec := func(id string, ms int64) RunRecord {
		return RunRecord{RunID: id, Tasks: map[string]TaskRecord{"build": {State: Succeeded, DurationMS: ms}}}
	}
	if err := AppendHistory(path, rec("1", 100)); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of the next write leaves a torn line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"run_id":"2","tasks":{"bu`)
	f.Close()
	if err := AppendHistory(path, rec("3", 300)); err != nil {
		t.Fatal(err)
	}
	runs, skipped, err := ReadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].RunID != "1" || runs[1].RunID != "3" || skipped != 1 {
		t.Fatalf("runs %+v skipped %d", runs, skipped)
	}
}

func TestEstimatesMedianOfLastTenSuccesses(t *testing.T) {
	var runs []RunRecord
	for i := 1; i <= 15; i++ {
		st := Succeeded
		if i == 14 {
			st = Failed
		}
		runs = append(runs, RunRecord{Tasks: map[string]TaskRecord{"build": {State: st, DurationMS: int64(i * 1000)}}})
	}
	// Last ten successes: 15, 13, 12, …, 5 → median of 5..13,15 = (9+10)/2.
	if got := Estimates(runs, "")["build"]; got != 9500*time.Millisecond {
		t.Errorf("estimate %s", got)
	}
}

func TestLockSecondHolderNamesFirst(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1764090000, 0)
	l, err := AcquireLock(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLock(dir, now)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || !le.Since.Equal(now) {
		t.Fatalf("err = %v", err)
	}
	l.Release()
	l2, err := AcquireLock(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	l2.Release()
}

func writeRaw(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

func record(id string, ms int64) RunRecord {
	return RunRecord{RunID: id, Tasks: map[string]TaskRecord{"build": {State: Succeeded, DurationMS: ms}}}
}

// A line over the limit (17 MB here) is skipped and counted: the runs
// after it are read, and so are their durations for the ETAs.
func TestHistoryOverlongLineIsSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	if err := AppendHistory(path, record("1", 100)); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, path, `{"run_id":"2","tasks":{},"values":{"x":"`+strings.Repeat("y", 17<<20)+`"}}`)
	for i := 3; i <= 4; i++ {
		if err := AppendHistory(path, record(strconv.Itoa(i), int64(i)*100)); err != nil {
			t.Fatal(err)
		}
	}
	runs, skipped, err := ReadHistory(path)
	if err != nil {
		t.Fatalf("ReadHistory: %v", err)
	}
	if len(runs) != 3 || runs[0].RunID != "1" || runs[1].RunID != "3" || runs[2].RunID != "4" || skipped != 1 {
		t.Fatalf("forward: %d runs, skipped %d", len(runs), skipped)
	}

	var ids []string
	skipped, err = ReadHistoryBackward(path, func(r RunRecord) bool { ids = append(ids, r.RunID); return true })
	if err != nil || skipped != 1 || strings.Join(ids, ",") != "4,3,1" {
		t.Fatalf("backward: %v, skipped %d, err %v", ids, skipped, err)
	}
	est, err := RecentEstimates(path, "")
	if err != nil || est["build"] != 300*time.Millisecond {
		t.Errorf("estimate %v, err %v; want the median of 100, 300, 400", est["build"], err)
	}
}

// Reading backward stops where the caller does, and handles lines that
// straddle the blocks it reads, a torn last line and blank lines.
func TestHistoryBackwardReadsOnlyWhatItNeeds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	var want []string
	for i := 1; i <= 300; i++ {
		r := record(strconv.Itoa(i), int64(i))
		r.Values = map[string]string{"pad": strings.Repeat("p", i*7)} // lines of many lengths, across 64 KiB blocks
		if err := AppendHistory(path, r); err != nil {
			t.Fatal(err)
		}
		want = append(want, strconv.Itoa(i))
	}
	writeRaw(t, path, "")
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"run_id":"torn","tasks":{"bu`)
	f.Close()

	var got []string
	skipped, err := ReadHistoryBackward(path, func(r RunRecord) bool { got = append(got, r.RunID); return true })
	if err != nil || skipped != 1 || len(got) != 300 {
		t.Fatalf("got %d runs, skipped %d, err %v", len(got), skipped, err)
	}
	slices.Reverse(got)
	if !slices.Equal(got, want) {
		t.Fatalf("order: %v", got)
	}
	got = nil
	ReadHistoryBackward(path, func(r RunRecord) bool { got = append(got, r.RunID); return len(got) < 2 })
	if strings.Join(got, ",") != "300,299" {
		t.Errorf("stopped at %v", got)
	}
	if _, err := ReadHistoryBackward(filepath.Join(t.TempDir(), "none", "history.jsonl"), func(RunRecord) bool { return true }); err != nil {
		t.Errorf("missing history: %v", err)
	}
}

// Past max, the oldest runs go and about half of max is left, whole
// lines only; below it nothing changes.
func TestCompactHistoryKeepsTheNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	for i := 1; i <= 1000; i++ {
		if err := AppendHistory(path, record(strconv.Itoa(i), int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := os.Stat(path)
	size := st.Size()
	if dropped, err := CompactHistory(path, size); err != nil || dropped != 0 {
		t.Fatalf("at the limit: dropped %d, %v", dropped, err)
	}
	max := size / 4
	dropped, err := CompactHistory(path, max)
	if err != nil {
		t.Fatal(err)
	}
	st, _ = os.Stat(path)
	if st.Size() > max/2 || st.Size() < max/2-200 || dropped != size-st.Size() {
		t.Errorf("size %d after compacting to half of %d (dropped %d of %d)", st.Size(), max, dropped, size)
	}
	runs, skipped, err := ReadHistory(path)
	if err != nil || skipped != 0 || len(runs) == 0 || runs[len(runs)-1].RunID != "1000" {
		t.Fatalf("after compaction: %d runs, skipped %d, err %v", len(runs), skipped, err)
	}
	first, _ := strconv.Atoi(runs[0].RunID)
	if first+len(runs)-1 != 1000 {
		t.Errorf("kept runs %s..%s: not the newest, in order", runs[0].RunID, runs[len(runs)-1].RunID)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	if err := AppendHistory(path, record("1001", 1)); err != nil {
		t.Fatal(err)
	}
}

// A link planted where the lock or the history should be is refused and
// what it points to stays as it was (the attack is a root run in a state
// directory another user can write; the refusal does not depend on who
// runs).
func TestLockAndHistoryNeverFollowLinks(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	os.Symlink(victim, filepath.Join(dir, "lock"))
	os.Symlink(victim, filepath.Join(dir, "history.jsonl"))
	if l, err := AcquireLock(dir, time.Now()); err == nil {
		l.Release()
		t.Errorf("lock taken through a link")
	}
	if err := AppendHistory(filepath.Join(dir, "history.jsonl"), record("1", 1)); err == nil {
		t.Errorf("history appended through a link")
	}
	if _, err := CompactHistory(filepath.Join(dir, "history.jsonl"), 1); err == nil {
		t.Errorf("history compacted through a link")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("victim now %q", b)
	}
}
