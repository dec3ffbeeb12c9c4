package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
)

// A task that waited 30 s for an answer does not add 30 s to its next
// ETA: plan, which says its numbers are estimates, expects 2.5 s of the 32.5 s
// the last run took, and history shows the wait beside the duration.
func TestPlanEstimatesLeaveOutWaitsForAnswers(t *testing.T) {
	dir := t.TempDir()
	w := newWorld(t, dir)
	writeFile(t, filepath.Join(dir, "cfg.toml"), "[task.ask]\nrun = \"true\"\n")
	rec := schedule.RunRecord{RunID: "20261125-170211.000", Start: time.Now().Add(-time.Hour), WallMS: 32500,
		Tasks: map[string]schedule.TaskRecord{"ask": {State: schedule.Succeeded, DurationMS: 32500, WaitMS: 30000}}}
	if err := schedule.AppendHistory(filepath.Join(dir, "state", "rebuild", "history.jsonl"), rec); err != nil {
		t.Fatal(err)
	}
	r := w.run(nil, nil, "plan", "--config", "cfg.toml", "--only=ask")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`(?m)^\s+·\s+ask\s+~2\.5s$`).MatchString(r.stdout) {
		t.Errorf("plan does not expect 2.5s of ask:\n%s", r.stdout)
	}
	for _, want := range []string{"critical path: ask (~2.5s, from estimates)", "time waiting for answers left out"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	r = w.run(nil, nil, "history", "--task", "ask")
	if !strings.Contains(r.stdout, "32.5s (30s waiting for answers)") || !strings.Contains(r.stdout, "ETA (median of the last 10 successes): 2.5s") {
		t.Errorf("history:\n%s%s", r.stdout, r.stderr)
	}
}
