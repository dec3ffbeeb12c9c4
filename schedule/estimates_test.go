package schedule

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// sameEstimates fails unless the summary gives, for every host asked,
// what reading the history gives.
func sameEstimates(t *testing.T, path, when string) {
	t.Helper()
	for _, host := range []string{"", "a", "b", "c"} {
		want, err := RecentEstimates(path, host)
		if err != nil {
			t.Fatal(err)
		}
		got, err := LoadEstimates(path, host)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s, host %q: estimates from the summary %v, from the history %v", when, host, got, want)
		}
	}
}

// A run i on host a, b or none, with tasks that succeed, fail or wait.
func runN(i int) RunRecord {
	hosts := []string{"a", "b", ""}
	r := RunRecord{RunID: fmt.Sprint(i), Host: hosts[i%3], Tasks: map[string]TaskRecord{
		"build": {State: Succeeded, DurationMS: int64(100 + i%17*10), WaitMS: int64(i % 5)},
		"flaky": {State: []State{Succeeded, Failed}[i%2], DurationMS: int64(i)},
	}}
	if i <= 20 {
		r.Tasks["early"] = TaskRecord{State: Succeeded, DurationMS: int64(i)}
	}
	if i%7 == 0 {
		r.Tasks["ask"] = TaskRecord{State: Succeeded, DurationMS: 5000, WaitMS: 4900 + int64(i%3)}
	}
	return r
}

func TestEstimatesFromTheSummaryEqualTheHistorys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.jsonl")
	sameEstimates(t, path, "no history")
	if _, err := os.Stat(filepath.Join(dir, EstimatesFile)); !os.IsNotExist(err) {
		t.Fatalf("a summary was written without a history: %v", err)
	}
	// Past the window: "early" succeeded only in the first runs and must
	// drop out of both once EstimateWindow newer runs were recorded.
	n := EstimateWindow + 30
	for i := 1; i <= n; i++ {
		if err := RecordRun(path, runN(i), 0); err != nil {
			t.Fatal(err)
		}
		if i == 15 || i == EstimateWindow+10 || i == n {
			sameEstimates(t, path, fmt.Sprintf("after %d runs", i))
		}
	}
	if est, _ := LoadEstimates(path, ""); est["early"] != 0 || est["build"] == 0 {
		t.Fatalf("estimates after %d runs: %v", n, est)
	}

	// The summary alone is read: the history spoiled in place (same
	// file, same size, its modification time put back) does not change
	// the estimates.
	want, _ := LoadEstimates(path, "a")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		if b[i] != '\n' {
			b[i] = 'x'
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got, _ := LoadEstimates(path, "a"); !maps.Equal(got, want) {
		t.Fatalf("estimates read the history: %v, want %v", got, want)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}

	// A history changed behind the summary's back (appended by an older
	// rebuild, compacted, replaced) is summarised again.
	for i := 1; i <= 40; i++ {
		if err := RecordRun(path, runN(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := AppendHistory(path, runN(41)); err != nil {
		t.Fatal(err)
	}
	sameEstimates(t, path, "after a run appended behind the summary")
	if err := RecordRun(path, runN(42), 2000); err != nil { // compacted to ~1000 bytes
		t.Fatal(err)
	}
	sameEstimates(t, path, "after compaction")
	if err := os.WriteFile(filepath.Join(dir, EstimatesFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	sameEstimates(t, path, "with a damaged summary")
}

// wholeHistoryEstimates is what the estimates are by definition:
// Estimates over the newest EstimateWindow runs of history.jsonl, read
// from its first line to its last (ReadHistory), not from its end.
func wholeHistoryEstimates(t *testing.T, path, host string) map[string]time.Duration {
	t.Helper()
	runs, _, err := ReadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) > EstimateWindow {
		runs = runs[len(runs)-EstimateWindow:]
	}
	return Estimates(runs, host)
}

// sameAsWholeHistory fails unless LoadEstimates gives, for every host,
// what reading the whole history gives, and leaves a summary behind.
func sameAsWholeHistory(t *testing.T, path, when string) {
	t.Helper()
	for _, host := range []string{"", "a", "b", "web1", "elsewhere"} {
		want := wholeHistoryEstimates(t, path, host)
		got, err := LoadEstimates(path, host)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s, host %q: estimates from the summary %v, from the whole history %v", when, host, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), EstimatesFile)); err != nil {
		t.Fatalf("%s: no summary left: %v", when, err)
	}
}

// hostRun is run i of a run over hosts: recorded on host a, b or none,
// with per-host tasks (build@web1, build@web2, activate@web1: their
// TaskRecord.Host set; build@old only in the first runs), a task of the
// whole run, one that waits for answers and one that fails now and then.
func hostRun(i int) RunRecord {
	r := RunRecord{RunID: fmt.Sprintf("run-%05d", i), Host: []string{"a", "b", ""}[i%3], Tasks: map[string]TaskRecord{
		"flake-update":  {State: Succeeded, DurationMS: int64(200 + i%13*7)},
		"build@web1":    {State: Succeeded, DurationMS: int64(1000 + i%29*11), Host: "web1"},
		"build@web2":    {State: []State{Succeeded, Failed, Succeeded}[i%3], DurationMS: int64(900 + i%31*5), Host: "web2"},
		"activate@web1": {State: Succeeded, DurationMS: int64(3000 + i%7*100), WaitMS: int64(i % 11 * 90), Host: "web1"},
	}}
	if i%5 == 0 {
		r.Tasks["accept"] = TaskRecord{State: Succeeded, DurationMS: 60000, WaitMS: 59000 + int64(i%4)}
	}
	if i <= 20 { // a host since retired: out of the window later on
		r.Tasks["build@old"] = TaskRecord{State: Succeeded, DurationMS: int64(i), Host: "old"}
	}
	return r
}

// The summary is a faster way to the estimates the whole history gives:
// past the window, with hosts and per-host tasks, through compactions
// (history_max), and when it is missing, stale or damaged it is built
// again from history.jsonl.
func TestEstimatesFromTheSummaryEqualTheWholeHistory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.jsonl")
	summary := filepath.Join(dir, EstimatesFile)
	i := 0
	record := func(maxBytes int64) {
		t.Helper()
		i++
		if err := RecordRun(path, hostRun(i), maxBytes); err != nil {
			t.Fatal(err)
		}
	}
	for i < EstimateWindow+50 {
		record(0)
		if i == 1 || i == 300 || i == EstimateWindow || i == EstimateWindow+50 {
			sameAsWholeHistory(t, path, fmt.Sprintf("after %d runs", i))
		}
	}

	// history_max: every few runs the oldest go; the summary follows.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	maxBytes := fi.Size() / 3
	compactions := 0
	for range 400 {
		before, _ := os.Stat(path)
		record(maxBytes)
		after, _ := os.Stat(path)
		if after.Size() < before.Size() {
			compactions++
			sameAsWholeHistory(t, path, fmt.Sprintf("after a compaction at run %d", i))
		}
	}
	if compactions < 2 {
		t.Fatalf("%d compactions in 400 runs with history_max %d: the test did not test them", compactions, maxBytes)
	}
	sameAsWholeHistory(t, path, "after compactions")

	// Missing: built again, and kept.
	if err := os.Remove(summary); err != nil {
		t.Fatal(err)
	}
	sameAsWholeHistory(t, path, "with the summary removed")

	// Stale: runs appended by a rebuild that keeps no summary.
	for range 3 {
		i++
		if err := AppendHistory(path, hostRun(i)); err != nil {
			t.Fatal(err)
		}
	}
	sameAsWholeHistory(t, path, "after runs appended behind the summary")

	// Stale: the history rewritten in place to the same size, later
	// (the newest runs' lines swapped, so the estimates move).
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := wholeHistoryEstimates(t, path, "a")
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	n := len(lines)
	if n < 100 {
		t.Fatalf("%d runs left after compaction: too few to rewrite", n)
	}
	for k := range 20 {
		lines[n-1-k], lines[n/2-k] = lines[n/2-k], lines[n-1-k]
	}
	swapped := append(bytes.Join(lines, []byte("\n")), '\n')
	if len(swapped) != len(b) {
		t.Fatalf("rewritten history has %d bytes, want %d", len(swapped), len(b))
	}
	fi, _ = os.Stat(path)
	if err := os.WriteFile(path, swapped, 0o644); err != nil {
		t.Fatal(err)
	}
	later := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if maps.Equal(old, wholeHistoryEstimates(t, path, "a")) {
		t.Fatal("the rewritten history gives the same estimates: the test does not test it")
	}
	sameAsWholeHistory(t, path, "after the history was rewritten in place to the same size")

	// Stale: replaced by another file of the same size (a new inode).
	lines = bytes.Split(bytes.TrimSuffix(swapped, []byte("\n")), []byte("\n"))
	for k := range 20 {
		lines[n-1-k], lines[n/3-k] = lines[n/3-k], lines[n-1-k]
	}
	other := filepath.Join(dir, "other.jsonl")
	if err := os.WriteFile(other, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(other, later, later); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	sameAsWholeHistory(t, path, "after the history was replaced by another of the same size")

	// Damaged, or of another version.
	if err := os.WriteFile(summary, []byte(`{"version":1,"hosts":`), 0o644); err != nil {
		t.Fatal(err)
	}
	sameAsWholeHistory(t, path, "with a damaged summary")
	if err := os.WriteFile(summary, []byte(`{"version":99,"runs":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	sameAsWholeHistory(t, path, "with a summary of another version")

	// A torn last line (a crash mid-append), then a run.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"run_id":"torn","tasks":{"build@web1":{"sta`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sameAsWholeHistory(t, path, "after a torn line")
	record(0)
	sameAsWholeHistory(t, path, "after a run recorded past a torn line")
}
