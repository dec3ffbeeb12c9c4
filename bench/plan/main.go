// Command plan measures `rebuild plan` as a whole process on a history of
// many runs, side by side in one run: with the estimates' summary kept
// beside the history (as every run leaves it), with the summary gone (so
// the newest runs of history.jsonl are read, as before there was one, and
// the summary is built again), and with no history at all (the floor).
//
//	go run ./bench/plan                      # 10,000 runs of 30 tasks
//	go run ./bench/plan -runs 1000 -rounds 21
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
)

func main() {
	runs := flag.Int("runs", 10000, "runs of history")
	ntasks := flag.Int("tasks", 30, "tasks in the configuration and in each run")
	rounds := flag.Int("rounds", 15, "measured rounds of each mode (the median is reported)")
	flag.Parse()

	root, err := os.MkdirTemp("", "bench-plan-")
	check(err)
	defer os.RemoveAll(root)
	bin := filepath.Join(root, "rebuild")
	build := exec.Command("go", "build", "-o", bin, "./cmd/rebuild")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	check(build.Run())

	var cfg strings.Builder
	var names []string
	for i := range *ntasks {
		name := fmt.Sprintf("t%02d", i)
		names = append(names, name)
		fmt.Fprintf(&cfg, "[task.%s]\nrun = \"true\"\n", name)
		if i > 0 {
			fmt.Fprintf(&cfg, "after = [\"t%02d\"]\n", i/2)
		}
	}
	withState := filepath.Join(root, "with")
	empty := filepath.Join(root, "empty")
	check(os.MkdirAll(empty, 0o755))
	cfgWith, cfgEmpty := filepath.Join(root, "with.toml"), filepath.Join(root, "empty.toml")
	check(os.WriteFile(cfgWith, []byte(fmt.Sprintf("state_dir = %q\n", withState)+cfg.String()), 0o644))
	check(os.WriteFile(cfgEmpty, []byte(fmt.Sprintf("state_dir = %q\n", empty)+cfg.String()), 0o644))
	hist := filepath.Join(withState, "history.jsonl")
	start := time.Now()
	check(os.MkdirAll(withState, 0o755))
	// Written in one go (AppendHistory syncs each line); RecordRun for
	// the last one leaves the summary as a run does.
	var lines []byte
	for i := range *runs - 1 {
		b, err := json.Marshal(record(i, names))
		check(err)
		lines = append(append(lines, b...), '\n')
	}
	check(os.WriteFile(hist, lines, 0o644))
	check(schedule.RecordRun(hist, record(*runs, names), 0))
	fi, err := os.Stat(hist)
	check(err)
	fmt.Printf("history: %d runs of %d tasks, %.1f MB (written in %v)\n\n", *runs, *ntasks, float64(fi.Size())/(1<<20), time.Since(start).Round(time.Millisecond))

	run := func(cfg string) time.Duration {
		cmd := exec.Command(bin, "plan", "--config", cfg, "--only", strings.Join(names, ","))
		t := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(t)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench/plan: %v\n%s", err, out)
			os.Exit(1)
		}
		return d
	}
	summary := filepath.Join(withState, schedule.EstimatesFile)
	var kept, gone, floor []time.Duration
	run(cfgWith)
	for range *rounds {
		kept = append(kept, run(cfgWith))
		check(os.Remove(summary))
		gone = append(gone, run(cfgWith)) // builds it again
		floor = append(floor, run(cfgEmpty))
	}
	// In process, the estimates alone: what start-up spends on them.
	var fromSummary, fromHistory []time.Duration
	for range *rounds {
		t := time.Now()
		a, err := schedule.LoadEstimates(hist, "bench")
		check(err)
		fromSummary = append(fromSummary, time.Since(t))
		t = time.Now()
		b, err := schedule.RecentEstimates(hist, "bench")
		check(err)
		fromHistory = append(fromHistory, time.Since(t))
		if !maps.Equal(a, b) {
			check(fmt.Errorf("estimates differ: summary %v, history %v", a, b))
		}
	}
	k, g, e := median(kept), median(gone), median(floor)
	fmt.Printf("`rebuild plan`, medians of %d rounds, side by side:\n", *rounds)
	fmt.Printf("no history (floor):                   %v\n", e.Round(10*time.Microsecond))
	fmt.Printf("%d runs, estimates from the summary: %v  (floor + %v)\n", *runs, k.Round(10*time.Microsecond), (k - e).Round(10*time.Microsecond))
	fmt.Printf("%d runs, summary gone (history read): %v  (%.1f× the summary's)\n", *runs, g.Round(10*time.Microsecond), float64(g)/float64(k))
	s, h := median(fromSummary), median(fromHistory)
	fmt.Printf("\nthe estimates alone, in process (same results checked):\n")
	fmt.Printf("from the summary:                     %v\n", s.Round(time.Microsecond))
	fmt.Printf("from the history (newest %d runs):  %v  (%.0f× the summary's)\n", schedule.EstimateWindow, h.Round(time.Microsecond), float64(h)/float64(s))
}

func record(i int, names []string) schedule.RunRecord {
	r := schedule.RunRecord{RunID: fmt.Sprintf("run-%06d", i), Start: time.Unix(1.7e9+int64(i)*3600, 0).UTC(),
		WallMS: 60000, Host: "bench", Tasks: map[string]schedule.TaskRecord{}}
	for j, n := range names {
		r.Tasks[n] = schedule.TaskRecord{State: schedule.Succeeded, Start: r.Start, DurationMS: int64(100 + (i*7+j*13)%900)}
	}
	return r
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/plan:", err)
		os.Exit(1)
	}
}
