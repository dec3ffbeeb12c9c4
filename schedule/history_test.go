package schedule

import (
	"errors"
	"os"
	"path/filepath"
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
