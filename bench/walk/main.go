// Command walk compares the housekeeping tasks' directory walker with
// `du -sb` on one tree of many files, from one run: it builds the tree under
// the temporary directory, sizes it with each tool in turn (interleaved, so
// both see the same page cache), each as a child process, prints the wall
// and CPU time (user+sys, from the child's rusage) of every run, the median
// and best of each and their ratios, the walker's peak memory, and removes
// the tree.
//
//	go run ./bench/walk                      # 200,000 files, 3 runs each
//	go run ./bench/walk -files 500000 -runs 5 -workers 4
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

	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

func main() {
	files := flag.Int("files", 200_000, "files in the tree (at least 1,000)")
	runs := flag.Int("runs", 3, "runs of each tool")
	workers := flag.Int("workers", 0, "walker goroutines (0: 2×GOMAXPROCS)")
	keep := flag.Bool("keep", false, "keep the tree and print its path")
	measure := flag.String("measure", "", "internal: size this tree once and print the result (run as a child to measure time and peak memory)")
	quiet := flag.Bool("quiet", false, "internal: with -measure, print only the byte count")
	flag.Parse()
	if *measure != "" {
		os.Exit(measureOnce(*measure, *workers, *quiet))
	}
	if err := run(*files, *runs, *workers, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "walk:", err)
		os.Exit(1)
	}
}

func run(files, runs, workers int, keep bool) error {
	if files < 1000 || runs < 1 {
		return errors.New("-files must be at least 1000 and -runs at least 1")
	}
	du, err := exec.LookPath("du")
	if err != nil {
		return errors.New("du is not installed")
	}
	root, err := os.MkdirTemp("", "rebuild-bench-walk-")
	if err != nil {
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
	fmt.Printf("cpus: %d, GOMAXPROCS %d, walker workers %d\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), effectiveWorkers(workers))

	if err := compareTimes(root, du, runs, workers); err != nil {
		return err
	}
	if err := comparePeakMemory(root, du, workers); err != nil {
		return err
	}
	if keep {
		fmt.Println("kept:", root)
	}
	return nil
}

// sample is one run of one tool as a whole process: its wall time, its
// CPU time (user+sys from its rusage) and the bytes it counted.
type sample struct {
	wall, cpu time.Duration
	bytes     int64
}

// compareTimes sizes root with the walker and with du, each a child process
// (so both are measured the same way, start-up included), interleaved,
// runs times each; it prints each run and the median and best of each,
// wall and CPU, and fails if their sizes differ.
func compareTimes(root, du string, runs, workers int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var walks, dus []sample
	fmt.Printf("%-6s %12s %12s %12s %12s\n", "run", "walker wall", "walker cpu", "du wall", "du cpu")
	for i := 1; i <= runs; i++ {
		w, err := timeChild(exec.Command(self, "-measure", root, "-workers", strconv.Itoa(workers), "-quiet"))
		if err != nil {
			return fmt.Errorf("walker: %w", err)
		}
		d, err := timeChild(exec.Command(du, "-sb", root))
		if err != nil {
			return fmt.Errorf("du -sb: %w", err)
		}
		if w.bytes != d.bytes {
			return fmt.Errorf("sizes differ: walker %d bytes, du -sb %d", w.bytes, d.bytes)
		}
		walks, dus = append(walks, w), append(dus, d)
		fmt.Printf("%-6d %12s %12s %12s %12s\n", i, ms(w.wall), ms(w.cpu), ms(d.wall), ms(d.cpu))
	}
	for _, pick := range []struct {
		name string
		f    func([]time.Duration) time.Duration
	}{{"median", median}, {"best", slices.Min[[]time.Duration]}} {
		ww, wc := pick.f(field(walks, false)), pick.f(field(walks, true))
		dw, dc := pick.f(field(dus, false)), pick.f(field(dus, true))
		fmt.Printf("%-6s %12s %12s %12s %12s   du÷walker: wall %.2f×, cpu %.2f×\n",
			pick.name, ms(ww), ms(wc), ms(dw), ms(dc), float64(dw)/float64(ww), float64(dc)/float64(wc))
	}
	fmt.Printf("(both counted %d bytes; du÷walker > 1 means the walker is faster or cheaper)\n\n", walks[0].bytes)
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
	return sample{wall: wall, cpu: cpu, bytes: n}, nil
}

func field(s []sample, cpu bool) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, x := range s {
		out[i] = x.wall
		if cpu {
			out[i] = x.cpu
		}
	}
	return out
}

func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	if len(d)%2 == 1 {
		return d[len(d)/2]
	}
	return (d[len(d)/2-1] + d[len(d)/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

// comparePeakMemory prints the walker's peak memory, from a child that
// does one walk and nothing else: its VmHWM, which starts afresh at exec
// (getrusage's maxrss does not: a child forked from this process inherits
// its high-water mark). du's is printed too when GNU time is installed.
func comparePeakMemory(root, du string, workers int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-measure", root, "-workers", strconv.Itoa(workers))
	child.Stderr = os.Stderr
	out, err := child.Output()
	if err != nil {
		return fmt.Errorf("measuring child: %w", err)
	}
	fmt.Printf("walker: %s", out)
	if kib, ok := duPeakKiB(du, root); ok {
		fmt.Printf("du -sb: peak RSS %s (GNU time)\n", fsutil.FormatBytes(kib*1024))
	}
	return nil
}

// duPeakKiB is du -sb's peak RSS as GNU time reports it; false when
// /usr/bin/time is missing or says nothing readable.
func duPeakKiB(du, root string) (int64, bool) {
	tm, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		return 0, false
	}
	out, err := exec.Command(tm, "-f", "%M", du, "-sb", root).CombinedOutput()
	if err != nil {
		return 0, false
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	return kib, err == nil
}

func effectiveWorkers(w int) int {
	if w > 0 {
		return w
	}
	return 2 * runtime.GOMAXPROCS(0)
}

// peakRSS reads this process's resident-set high-water mark.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if kib, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return fsutil.FormatBytes(kib * 1024)
			}
		}
	}
	return "unknown"
}

// measureOnce sizes root once and prints the byte count, then (unless
// quiet) the Go heap figures. Any unreadable path fails it, since the
// sizes would then not compare with du's.
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
		fmt.Println(u.Bytes)
		return 0
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("%d bytes, %d files, %d folders; peak RSS %s; Go heap obtained from the OS %s, allocated in total %s in %d allocations\n",
		u.Bytes, u.Files, u.Dirs, peakRSS(), fsutil.FormatBytes(int64(ms.HeapSys)),
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
