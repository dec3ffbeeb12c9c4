// Command plan measures `rebuild plan` (and `rebuild graph`) as whole
// processes, side by side in one run, on the start-ups the issue names:
// no history, 1,000 and 10,000 runs of history (with the estimates'
// summary a run leaves beside it, and with that summary gone so it is
// built again from history.jsonl), and a configuration of 1,000 tasks.
// Every scenario runs once per round for each binary, interleaved, so
// all see the same machine; the medians and the best of the wall time and
// of the CPU time (user+sys, from the child's rusage) are reported, and
// the output of every binary is compared with ours.
//
//	go run ./bench/plan                          # this tree only
//	go run ./bench/plan -anchor main             # beside main, built from git
//	go run ./bench/plan -anchor main,HEAD~3 -rounds 9
//	go run ./bench/plan -only '^plan, (no history|1,000 runs|10,000 runs)$' -rounds 25
//	go run ./bench/plan -only '1,000 tasks' -keep   # then profile what it kept
//
// An anchor is any git revision of this repository: its cmd/rebuild is
// built from `git archive` in a temporary folder (the module cache must
// hold its modules). Each binary keeps its own state folders, so a newer
// summary format never meets an older binary.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/bench/internal/stats"
	"github.com/rebuild-nixos/rebuild/schedule"
)

// scenario is one start-up measured.
type scenario struct {
	name  string
	cmd   string // plan or graph
	tasks int
	runs  int  // runs of history
	gone  bool // the estimates' summary is removed before each run
}

var scenarios = []scenario{
	{name: "plan, no history", cmd: "plan", tasks: 30},
	{name: "plan, 1,000 runs", cmd: "plan", tasks: 30, runs: 1000},
	{name: "plan, 10,000 runs", cmd: "plan", tasks: 30, runs: 10000},
	{name: "plan, 10,000 runs, summary gone", cmd: "plan", tasks: 30, runs: 10000, gone: true},
	{name: "plan, 1,000 tasks", cmd: "plan", tasks: 1000},
	{name: "graph, 1,000 tasks", cmd: "graph", tasks: 1000},
}

// binary is one rebuild measured: ours or an anchor.
type binary struct {
	name, path, root string
}

func main() {
	rounds := flag.Int("rounds", 7, "measured rounds (at least 5; the median and the best are reported)")
	anchors := flag.String("anchor", "", "comma-separated git revisions to measure beside this tree, e.g. main")
	only := flag.String("only", "", "measure only the scenarios whose name matches this regular expression")
	keep := flag.Bool("keep", false, "keep the binaries, configurations and state folders (to profile them) and print where")
	flag.Parse()
	if err := run(*rounds, *anchors, *only, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench/plan:", err)
		os.Exit(1)
	}
}

func run(rounds int, anchors, only string, keep bool) error {
	if rounds < 5 {
		return errors.New("-rounds must be at least 5")
	}
	root, err := os.MkdirTemp("", "bench-plan-")
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Printf("\nkept in %s\n", root)
	} else {
		defer os.RemoveAll(root)
	}

	bins := []binary{{name: "this tree", path: filepath.Join(root, "rebuild")}}
	if err := goBuild(".", bins[0].path); err != nil {
		return err
	}
	for _, rev := range strings.Split(anchors, ",") {
		if rev = strings.TrimSpace(rev); rev == "" {
			continue
		}
		path, err := buildRevision(root, rev)
		if err != nil {
			return err
		}
		bins = append(bins, binary{name: rev, path: path})
	}
	pick, err := regexp.Compile(only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	var picked []scenario
	for _, s := range scenarios {
		if pick.MatchString(s.name) {
			picked = append(picked, s)
		}
	}

	// Histories: made once per size, copied into each binary's state
	// folder, and left with the summary a run leaves (RecordRun for the
	// last run, as every run since the summary does; an older binary
	// just reads the history).
	hist := map[int][]byte{}
	for _, s := range picked {
		if _, ok := hist[s.runs]; !ok && s.runs > 0 {
			t := time.Now()
			if hist[s.runs], err = history(s.runs-1, taskNames(s.tasks)); err != nil {
				return err
			}
			fmt.Printf("history: %d runs of %d tasks, %.1f MB (made in %v)\n", s.runs, s.tasks, float64(len(hist[s.runs]))/(1<<20), time.Since(t).Round(time.Millisecond))
		}
	}
	for i := range bins {
		bins[i].root = filepath.Join(root, fmt.Sprintf("b%d", i))
		for _, s := range picked {
			if err := s.setup(bins[i].root, hist[s.runs]); err != nil {
				return err
			}
		}
	}

	// Each binary once on each scenario before measuring (the page
	// cache, and the summary a binary builds for itself).
	for _, s := range picked {
		for _, b := range bins {
			if _, _, err := s.run(b); err != nil {
				return err
			}
		}
	}
	results := map[string]map[string][]sample{}
	differ := map[string]bool{}
	for range rounds {
		for _, s := range picked {
			var ours []byte
			for i, b := range bins {
				smp, out, err := s.run(b)
				if err != nil {
					return err
				}
				if results[s.name] == nil {
					results[s.name] = map[string][]sample{}
				}
				results[s.name][b.name] = append(results[s.name][b.name], smp)
				if i == 0 {
					ours = out
				} else if !bytes.Equal(out, ours) {
					differ[s.name+" / "+b.name] = true
				}
			}
		}
	}

	fmt.Printf("\nwhole process, %d rounds, binaries interleaved; wall and cpu (user+sys) in ms\n", rounds)
	fmt.Printf("%-34s %-12s %9s %9s %9s %9s %9s\n", "scenario", "binary", "wall med", "wall min", "cpu med", "cpu min", "÷ ours")
	for _, s := range picked {
		base := stats.Median(stats.Each(results[s.name][bins[0].name], wallOf))
		for _, b := range bins {
			r := results[s.name][b.name]
			w, c := stats.Each(r, wallOf), stats.Each(r, cpuOf)
			fmt.Printf("%-34s %-12s %9s %9s %9s %9s %8.2f×\n", s.name, b.name, ms(stats.Median(w)), ms(slices.Min(w)), ms(stats.Median(c)), ms(slices.Min(c)),
				float64(stats.Median(w))/float64(base))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(differ)) {
		fmt.Printf("output differs from this tree's: %s\n", k)
	}
	if len(differ) == 0 && len(bins) > 1 {
		fmt.Println("every binary printed the same output on every scenario")
	}

	// In process, the estimates alone: what start-up spends on them.
	if h, ok := hist[10000]; ok {
		return estimatesInProcess(root, h, rounds)
	}
	return nil
}

func taskNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("t%04d", i)
	}
	return names
}

// setup writes the scenario's configuration and state under root.
func (s scenario) setup(root string, hist []byte) error {
	dir := s.dir(root)
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		return err
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "state_dir = %q\nhost = \"bench\"\n", state)
	for i, name := range taskNames(s.tasks) {
		fmt.Fprintf(&cfg, "[task.%s]\nrun = \"true\"\n", name)
		if i > 0 {
			fmt.Fprintf(&cfg, "after = [\"t%04d\"]\n", i/2)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg.String()), 0o644); err != nil {
		return err
	}
	if s.runs == 0 {
		return nil
	}
	path := filepath.Join(state, "history.jsonl")
	if err := os.WriteFile(path, hist, 0o644); err != nil {
		return err
	}
	return schedule.RecordRun(path, record(s.runs-1, taskNames(s.tasks)), 0)
}

func (s scenario) dir(root string) string {
	return filepath.Join(root, strings.NewReplacer(" ", "", ",", "-").Replace(s.name))
}

// run runs b on the scenario once.
func (s scenario) run(b binary) (sample, []byte, error) {
	dir := s.dir(b.root)
	if s.gone {
		if err := os.Remove(filepath.Join(dir, "state", schedule.EstimatesFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return sample{}, nil, err
		}
	}
	cmd := exec.Command(b.path, s.cmd, "--config", filepath.Join(dir, "config.toml"), "--only", strings.Join(taskNames(s.tasks), ","))
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t := time.Now()
	err := cmd.Run()
	wall := time.Since(t)
	if err != nil {
		return sample{}, nil, fmt.Errorf("%s on %s: %v\n%s", b.name, s.name, err, out.Bytes())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, nil, errors.New("no rusage for the child")
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// The state folder differs between binaries; the rest must not.
	return sample{wall: wall, cpu: cpu}, bytes.ReplaceAll(out.Bytes(), []byte(dir), []byte("DIR")), nil
}

// history is n runs of history.jsonl, oldest first.
func history(n int, names []string) ([]byte, error) {
	var lines []byte
	for i := range n {
		b, err := json.Marshal(record(i, names))
		if err != nil {
			return nil, err
		}
		lines = append(append(lines, b...), '\n')
	}
	return lines, nil
}

func record(i int, names []string) schedule.RunRecord {
	r := schedule.RunRecord{RunID: fmt.Sprintf("run-%06d", i), Start: time.Unix(1.7e9+int64(i)*3600, 0).UTC(),
		WallMS: 60000, Host: "bench", Tasks: map[string]schedule.TaskRecord{}}
	for j, n := range names {
		r.Tasks[n] = schedule.TaskRecord{State: schedule.Succeeded, Start: r.Start, DurationMS: int64(100 + (i*7+j*13)%900)}
	}
	return r
}

// estimatesInProcess times LoadEstimates (the summary) against
// RecentEstimates (the history's newest runs) in this process, and checks
// they agree.
func estimatesInProcess(root string, hist []byte, rounds int) error {
	dir := filepath.Join(root, "inprocess")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "history.jsonl")
	if err := os.WriteFile(path, hist, 0o644); err != nil {
		return err
	}
	if err := schedule.RecordRun(path, record(10000, taskNames(30)), 0); err != nil {
		return err
	}
	var fromSummary, fromHistory []time.Duration
	for range rounds {
		t := time.Now()
		a, err := schedule.LoadEstimates(path, "bench")
		if err != nil {
			return err
		}
		fromSummary = append(fromSummary, time.Since(t))
		t = time.Now()
		b, err := schedule.RecentEstimates(path, "bench")
		if err != nil {
			return err
		}
		fromHistory = append(fromHistory, time.Since(t))
		if !maps.Equal(a, b) {
			return fmt.Errorf("estimates differ: summary %v, history %v", a, b)
		}
	}
	s, h := stats.Median(fromSummary), stats.Median(fromHistory)
	fmt.Printf("\nthe estimates alone, in process, 10,000 runs (same results checked):\n")
	fmt.Printf("from the summary:                     %v\n", s.Round(time.Microsecond))
	fmt.Printf("from the history (newest %d runs):  %v  (%.0f× the summary's)\n", schedule.EstimateWindow, h.Round(time.Microsecond), float64(h)/float64(s))
	return nil
}

// buildRevision builds cmd/rebuild of a git revision of this repository.
func buildRevision(root, rev string) (string, error) {
	src := filepath.Join(root, "src-"+strings.NewReplacer("/", "_", "~", "_", "^", "_").Replace(rev))
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	archive := exec.Command("sh", "-c", `git archive --format=tar "$1" | tar -x -C "$2"`, "sh", rev, src)
	archive.Stderr = os.Stderr
	if err := archive.Run(); err != nil {
		return "", fmt.Errorf("git archive %s: %w", rev, err)
	}
	bin := filepath.Join(root, "rebuild-"+filepath.Base(src))
	return bin, goBuild(src, bin)
}

func goBuild(dir, out string) error {
	build := exec.Command("go", "build", "-o", out, "./cmd/rebuild")
	build.Dir = dir
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building %s: %w", dir, err)
	}
	return nil
}

type sample struct{ wall, cpu time.Duration }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func wallOf(s sample) time.Duration { return s.wall }
func cpuOf(s sample) time.Duration  { return s.cpu }
