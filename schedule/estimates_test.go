package schedule

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
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
	// file, same size) does not change the estimates.
	want, _ := LoadEstimates(path, "a")
	b, err := os.ReadFile(path)
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
