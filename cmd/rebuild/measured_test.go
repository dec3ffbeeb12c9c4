package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
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

// `--only=system,caches` with a build slower than the caches: the summary
// names the system chain as the critical path, as it happened, although
// the estimates (a history where caches took 100 s) say caches.
func TestSummaryCriticalPathIsMeasured(t *testing.T) {
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	n := newNixOS(t, "")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(n.Home, ".cache", "uv", "wheel.bin"), strings.Repeat("x", 4096))
	ms := map[string]int64{"flake-update": 1000, "build": 1000, "diff": 1000, "activate": 1000, "caches": 100000}
	rec := schedule.RunRecord{RunID: "20261125-170211.000", Start: time.Now().Add(-time.Hour), Tasks: map[string]schedule.TaskRecord{}}
	for task, d := range ms {
		rec.Tasks[task] = schedule.TaskRecord{State: schedule.Succeeded, DurationMS: d}
	}
	if err := schedule.AppendHistory(filepath.Join(n.Root, "state", "history.jsonl"), rec); err != nil {
		t.Fatal(err)
	}
	// The build takes two seconds more than Nix needs: a nix in front of
	// the real one sleeps before `nix build`.
	realNix, err := exec.LookPath("nix")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(n.Root, "slow-bin")
	writeFile(t, filepath.Join(bin, "nix"), "#!/bin/sh\ncase \"$1\" in build) sleep 2 ;; esac\nexec "+realNix+" \"$@\"\n")
	if err := os.Chmod(filepath.Join(bin, "nix"), 0o755); err != nil {
		t.Fatal(err)
	}
	evs, stderr, code := n.runJSON([]string{"PATH=" + bin + ":" + os.Getenv("PATH")}, "--only=system,caches", "--yes")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, evs, stderr)
	}
	if s := evs.states()["caches"]; s != "succeeded" {
		t.Fatalf("caches %s: the test needs it to have run\n%s", s, evs)
	}
	cp := strings.Join(evs.summary.CriticalPath, " → ")
	// The system group ends with the health gate, after activate.
	if !strings.HasPrefix(cp, "flake-update → build → ") || !strings.HasSuffix(cp, "activate → health") || strings.Contains(cp, "caches") {
		t.Errorf("critical path %q, want flake-update → build → … → activate → health", cp)
	}
	if b, c := evs.finish("build").DurationMS, evs.finish("caches").DurationMS; b <= c {
		t.Errorf("build took %d ms, caches %d ms: the build was meant to be slower", b, c)
	}
}

// In a real terminal, the time accept waits for the person is recorded
// apart from its duration (history's wait_ms, which ETAs leave out).
func TestWaitForAnswerRecordedApart(t *testing.T) {
	n := newNixOS(t, "")
	if err := n.SetVersion("1.2"); err != nil {
		t.Fatal(err)
	}
	scr := n.w.tty("--only=system,accept")
	scr.wait("Keep this configuration?")
	const think = 1500 * time.Millisecond
	time.Sleep(think)
	scr.answer("n")
	if code := scr.exit(); code != 0 {
		t.Fatalf("exit %d\n%s", code, scr.String())
	}
	rec := n.lastRun().Tasks["accept"]
	if rec.WaitMS < think.Milliseconds() || rec.WaitMS > rec.DurationMS {
		t.Fatalf("accept took %d ms and waited %d ms; it waited at least %d ms", rec.DurationMS, rec.WaitMS, think.Milliseconds())
	}
}
