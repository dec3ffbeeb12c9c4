// Command walk compares the housekeeping tasks' directory walker with
// `du -sb` on one tree of many files, from one run: it builds the tree under
// the temporary directory (or takes one given with -tree), sizes it with
// each tool in turn, each as a child process, interleaved and in a
// rotating order (so all see the same page cache and the same load),
// prints the wall and CPU time (user+sys, from the child's rusage) of
// every run, the median and best of each and their ratios to du's, the
// peak memory of each, and removes the tree it built.
//
// With -baseline, another build of this command — from main, say — is
// measured the same way in the same run, so a change's before and after
// stand side by side:
//
//	go run ./bench/walk                      # 200,000 files, 5 runs each
//	go run ./bench/walk -files 500000 -runs 7 -workers 1,2,4
//	(cd ../main && go build -o /tmp/walk-main ./bench/walk)  # or any checkout
//	go run ./bench/walk -runs 7 -baseline /tmp/walk-main
//
// A list of worker counts makes each count a contestant of its own (and
// of the baseline too), to see what parallelism buys on this machine.
// The load averages before and after are printed: on a shared machine a
// parallel walker's wall time depends on whether a core is free.
//
// The tree is in the page cache for every run (it was just written); this
// measures the walk, not the disk.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rebuild-nixos/rebuild/bench/internal/stats"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

func main() {
	files := flag.Int("files", 200_000, "files in the tree (at least 1,000)")
	runs := flag.Int("runs", 5, "runs of each tool")
	workers := flag.String("workers", "0", "walker goroutines (0: the walker's default); a comma-separated list measures each count as its own contestant")
	keep := flag.Bool("keep", false, "keep the tree and print its path")
	tree := flag.String("tree", "", "size this existing tree instead of building one (one -keep left, say)")
	baseline := flag.String("baseline", "", "another build of this command (from main, say) to measure beside this one")
	measure := flag.String("measure", "", "internal: size this tree once and print the result (run as a child to measure time and peak memory)")
	quiet := flag.Bool("quiet", false, "internal: with -measure, print only the byte count")
	flag.Parse()
	counts, err := parseWorkers(*workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "walk:", err)
		os.Exit(2)
	}
	if *measure != "" {
		os.Exit(measureOnce(*measure, counts[0], *quiet))
	}
	if err := run(*files, *runs, counts, *keep, *tree, *baseline); err != nil {
		fmt.Fprintln(os.Stderr, "walk:", err)
		os.Exit(1)
	}
}

// parseWorkers reads -workers: one count or a comma-separated list.
func parseWorkers(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-workers: %q is not a count of goroutines", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(files, runs int, workers []int, keep bool, tree, baseline string) error {
	if files < 1000 || runs < 1 {
		return errors.New("-files must be at least 1000 and -runs at least 1")
	}
	du, err := exec.LookPath("du")
	if err != nil {
		return errors.New("du is not installed")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	root := tree
	if root == "" {
		if root, err = os.MkdirTemp("", "rebuild-bench-walk-"); err != nil {
			return err
		}
		if !keep {
			defer os.RemoveAll(root)
		}
		start := time.Now()
		shape, err := build(root, files)
		if err != nil {
			return err
		}
		fmt.Printf("tree: %s — %s, built in %s\n", root, shape, time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Printf("tree: %s (given)\n", root)
	}
	fmt.Printf("cpus: %d, GOMAXPROCS %d; load before: %s\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())

	// The walker first and du second: the ratios are against index 1.
	name := func(prefix string, w int) string {
		if len(workers) == 1 {
			return prefix
		}
		return fmt.Sprintf("%s w=%d", prefix, w)
	}
	tools := []tool{
		{name: name("walker", workers[0]), argv: []string{self, "-measure", root, "-workers", strconv.Itoa(workers[0])}, walker: true},
		{name: "du -sb", argv: []string{du, "-sb", root}},
	}
	for _, w := range workers[1:] {
		tools = append(tools, tool{name: name("walker", w), argv: []string{self, "-measure", root, "-workers", strconv.Itoa(w)}, walker: true})
	}
	if baseline != "" {
		for _, w := range workers {
			tools = append(tools, tool{name: name("baseline", w), argv: []string{baseline, "-measure", root, "-workers", strconv.Itoa(w)}, walker: true})
		}
		fmt.Printf("baseline: %s\n\n", baseline)
	}
	if err := compareTimes(tools, runs); err != nil {
		return err
	}
	if err := comparePeakMemory(tools); err != nil {
		return err
	}
	fmt.Printf("load after: %s\n", loadAvg())
	if keep && tree == "" {
		fmt.Println("kept:", root)
	}
	return nil
}

// tool is one contestant: its command line, and whether it is a build of
// this command (which takes -quiet and reports its own peak memory).
type tool struct {
	name   string
	argv   []string
	walker bool
}

func (t tool) command(quiet bool) *exec.Cmd {
	argv := t.argv
	if quiet && t.walker {
		argv = append(slices.Clip(argv), "-quiet")
	}
	return exec.Command(argv[0], argv[1:]...)
}

// sample is one run of one tool as a whole process: its wall time, its
// CPU time (user+sys from its rusage), the bytes it counted and, for a
// walker that reports it, its peak RSS in KiB (0: not reported).
type sample struct {
	wall, cpu time.Duration
	bytes     int64
	rssKiB    int64
}

// compareTimes runs every tool runs times, each as a child process (so
// all are measured the same way, start-up included), interleaved, the
// order rotating from one run to the next; it prints each run, then the
// median and best wall and CPU time of each with their ratios to du's,
// and fails if the sizes differ.
func compareTimes(tools []tool, runs int) error {
	samples := make([][]sample, len(tools))
	fmt.Printf("%-6s %5s", "run", "runq")
	for _, t := range tools {
		fmt.Printf(" %13s %13s", t.name+" wall", t.name+" cpu")
	}
	fmt.Println()
	var runqs []int
	for i := range runs {
		runq := runnable()
		runqs = append(runqs, runq)
		row := make([]sample, len(tools))
		for k := range tools {
			j := (i + k) % len(tools)
			s, err := timeChild(tools[j].command(true))
			if err != nil {
				return fmt.Errorf("%s: %w", tools[j].name, err)
			}
			row[j] = s
		}
		fmt.Printf("%-6d %5d", i+1, runq)
		for j, s := range row {
			if s.bytes != row[0].bytes {
				return fmt.Errorf("sizes differ: %s %d bytes, %s %d", tools[0].name, row[0].bytes, tools[j].name, s.bytes)
			}
			samples[j] = append(samples[j], s)
			fmt.Printf(" %13s %13s", ms(s.wall), ms(s.cpu))
		}
		fmt.Println()
	}
	const du = 1 // the anchor's index in tools
	for _, pick := range []struct {
		name string
		f    func([]time.Duration) time.Duration
	}{{"median", stats.Median}, {"best", slices.Min[[]time.Duration]}} {
		fmt.Printf("%-6s %5s", pick.name, "")
		for j := range tools {
			fmt.Printf(" %13s %13s", ms(pick.f(stats.Each(samples[j], wallOf))), ms(pick.f(stats.Each(samples[j], cpuOf))))
		}
		fmt.Println()
		dw, dc := pick.f(stats.Each(samples[du], wallOf)), pick.f(stats.Each(samples[du], cpuOf))
		for j, t := range tools {
			if j == du {
				continue
			}
			w, c := pick.f(stats.Each(samples[j], wallOf)), pick.f(stats.Each(samples[j], cpuOf))
			fmt.Printf("       du÷%s (%s): wall %.2f×, cpu %.2f×\n", t.name, pick.name, float64(dw)/float64(w), float64(dc)/float64(c))
		}
	}
	for j, t := range tools {
		if rss := maxRSS(samples[j]); rss > 0 {
			fmt.Printf("%s: peak RSS over its %d runs at most %s\n", t.name, runs, fsutil.FormatBytes(rss*1024))
		}
	}
	slices.Sort(runqs)
	fmt.Printf("runq: tasks runnable on the machine as each run began (this bench included), median %d, min %d, on %d CPUs\n", runqs[len(runqs)/2], runqs[0], runtime.NumCPU())
	fmt.Printf("(all counted %d bytes; du÷x > 1 means x is faster or cheaper than du)\n\n", samples[0][0].bytes)
	return nil
}

// timeChild runs cmd, which prints a byte count as its first field, and
// measures its wall time and, from its rusage, its CPU time.
func timeChild(cmd *exec.Cmd) (sample, error) {
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	out, err := cmd.Output()
	wall := time.Since(t0)
	if err != nil {
		return sample{}, err
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return sample{}, fmt.Errorf("printed nothing")
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return sample{}, fmt.Errorf("printed %q", out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, errors.New("no rusage for the child")
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var rss int64
	if len(f) > 1 {
		rss, _ = strconv.ParseInt(f[1], 10, 64)
	}
	return sample{wall: wall, cpu: cpu, bytes: n, rssKiB: rss}, nil
}

// runnable is the number of tasks runnable on the machine now, from
// /proc/loadavg's fourth field (this process among them): with fewer
// than the CPUs, a parallel walker has a core to itself. -1 if unknown.
func runnable() int {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return -1
	}
	cur, _, _ := strings.Cut(f[3], "/")
	n, err := strconv.Atoi(cur)
	if err != nil {
		return -1
	}
	return n
}

// maxRSS is the largest peak RSS among s, in KiB; 0 if none was reported.
func maxRSS(s []sample) int64 {
	var m int64
	for _, x := range s {
		m = max(m, x.rssKiB)
	}
	return m
}

// loadAvg is /proc/loadavg's three load averages, to say how busy the
// shared machine was while the figures were taken.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

// comparePeakMemory prints each walker build's peak memory, from a
// child that does one walk and nothing else: its VmHWM, which starts
// afresh at exec (getrusage's maxrss does not: a child forked from this
// process inherits its high-water mark). du's is printed too when GNU time
// is installed.
func comparePeakMemory(tools []tool) error {
	for _, t := range tools {
		if !t.walker {
			if kib, ok := duPeakKiB(t.argv); ok {
				fmt.Printf("%s: peak RSS %s (GNU time)\n", t.name, fsutil.FormatBytes(kib*1024))
			}
			continue
		}
		child := t.command(false)
		child.Stderr = os.Stderr
		out, err := child.Output()
		if err != nil {
			return fmt.Errorf("measuring %s: %w", t.name, err)
		}
		fmt.Printf("%s: %s", t.name, out)
	}
	return nil
}

// duPeakKiB is du -sb's peak RSS as GNU time reports it; false when
// /usr/bin/time is missing or says nothing readable.
func duPeakKiB(argv []string) (int64, bool) {
	tm, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		return 0, false
	}
	out, err := exec.Command(tm, append([]string{"-f", "%M"}, argv...)...).CombinedOutput()
	if err != nil {
		return 0, false
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	return kib, err == nil
}

// peakRSSKiB reads this process's resident-set high-water mark in KiB (0
// when /proc does not say).
func peakRSSKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if kib, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return kib
			}
		}
	}
	return 0
}

// measureOnce sizes root once and prints the byte count, then (unless
// quiet) the Go heap figures. Any unreadable path fails it, since the
// sizes would then not compare with du's. Quiet, it prints the byte
// count and its peak RSS in KiB.
func measureOnce(root string, workers int, quiet bool) int {
	u, res, err := fsutil.Size(context.Background(), root, fsutil.Options{Workers: workers})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if res.ErrorCount > 0 {
		fmt.Fprintf(os.Stderr, "walker met %d errors, first: %v\n", res.ErrorCount, res.Errors[0])
		return 1
	}
	if quiet {
		fmt.Println(u.Bytes, peakRSSKiB())
		return 0
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("%d bytes, %d files, %d folders; peak RSS %s; Go heap obtained from the OS %s, allocated in total %s in %d allocations\n",
		u.Bytes, u.Files, u.Dirs, fsutil.FormatBytes(peakRSSKiB()*1024), fsutil.FormatBytes(int64(ms.HeapSys)),
		fsutil.FormatBytes(int64(ms.TotalAlloc)), ms.Mallocs)
	return 0
}

// build makes a tree of about n entries shaped like a home directory's
// caches: many folders of a few dozen files, a few big folders, some deep
// paths, and a sprinkling of symlinks and hard links. Files are sparse.
func build(root string, n int) (string, error) {
	const perDir = 50
	dirs := n / perDir
	var g errgroup.Group
	g.SetLimit(4)
	for d := range dirs {
		g.Go(func() error {
			dir := filepath.Join(root, fmt.Sprintf("p%03d", d%100), fmt.Sprintf("q%02d", (d/100)%40), fmt.Sprintf("r%d", d/4000))
			if d%97 == 0 {
				dir = filepath.Join(dir, "deep", "deeper", "deepest")
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for f := range perDir {
				p := filepath.Join(dir, fmt.Sprintf("file-%03d.bin", f))
				switch {
				case f == 0 && d%50 == 1:
					if err := os.Symlink("file-001.bin", p); err != nil {
						return err
					}
					continue
				case f == 2 && d%50 == 3:
					if err := os.Link(filepath.Join(dir, "file-001.bin"), p); err != nil {
						return err
					}
					continue
				}
				fh, err := os.Create(p)
				if err != nil {
					return err
				}
				if err := fh.Truncate(int64((d*perDir + f) % 65536)); err != nil {
					fh.Close()
					return err
				}
				if err := fh.Close(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d files in %d leaf folders", dirs*perDir, dirs), nil
}

func wallOf(s sample) time.Duration { return s.wall }
func cpuOf(s sample) time.Duration  { return s.cpu }
