package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/bench/internal/stats"
	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
	"github.com/rebuild-nixos/rebuild/tasks/shell"
)

// spawnBench runs one random DAG of n user tasks, each `run = "/bin/true"`,
// through the scheduler with a real runner and per-task logs, then the same
// DAG as a Makefile with make -j, then n spawns of /bin/true one after
// another from Go, and does so reps times, the three interleaved, so that
// a shared machine's load falls on all of them alike. It prints each
// one's median and minimum wall time and CPU time (its own and its
// children's) per task, and the ratios against make and the floor taken
// within each round. profile, when set, runs the scheduler's rounds alone
// and writes their CPU profile there.
func spawnBench(n int, seed uint64, jobs, reps int, profile string) error {
	truePath, err := exec.LookPath("true")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "rebuild-bench-spawn-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dag := randomDAG(n, seed, false)

	specs := make([]tasks.Spec, n)
	for i, s := range dag {
		s.Spec.Task = shell.Task{Command: truePath, Dir: dir}
		specs[i] = s.Spec
	}
	// As cmd/rebuild does: what the commands leave behind is re-parented
	// to us, and the runner knows it; its environment is read once.
	runner := &proc.Runner{Environ: os.Environ(), Subreaper: proc.BecomeSubreaper() == nil}
	round := 0
	ours := func() error {
		round++
		logs, err := render.OpenLogs(filepath.Join(dir, "logs"), fmt.Sprintf("20260101-000000.%03d", round%1000), 1, nil)
		if err != nil {
			return err
		}
		defer logs.Close()
		g, byName, err := schedule.Graph(specs)
		if err != nil {
			return err
		}
		r, err := schedule.New(g, byName, schedule.Options{Jobs: jobs, Logs: logs.Open,
			Env: func(env *tasks.Env, _ bool) { env.Runner = runner }})
		if err != nil {
			return err
		}
		sum := r.Execute(context.Background())
		for name, res := range sum.Results {
			if res.State != schedule.Succeeded {
				return fmt.Errorf("%s ended %s: %s", name, res.State, res.Reason)
			}
		}
		return nil
	}
	runs := []*spawnRun{{name: fmt.Sprintf("rebuild's scheduler, jobs %d", jobs), f: ours}}

	if makePath, err := exec.LookPath("make"); err == nil {
		var mk strings.Builder
		fmt.Fprintf(&mk, ".PHONY: all")
		for _, s := range dag {
			fmt.Fprintf(&mk, " %s", s.Name)
		}
		fmt.Fprintf(&mk, "\nall:")
		for _, s := range dag {
			fmt.Fprintf(&mk, " %s", s.Name)
		}
		mk.WriteString("\n")
		for _, s := range dag {
			fmt.Fprintf(&mk, "%s: %s\n\t@%s\n", s.Name, strings.Join(append(append([]string(nil), s.Needs...), s.After...), " "), truePath)
		}
		if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(mk.String()), 0o644); err != nil {
			return err
		}
		runs = append(runs, &spawnRun{name: fmt.Sprintf("make -j%d", jobs), f: func() error {
			c := exec.Command(makePath, "-s", fmt.Sprintf("-j%d", jobs), "-C", dir)
			c.Stdout, c.Stderr = os.Stderr, os.Stderr
			return c.Run()
		}})
	} else {
		fmt.Printf("(no make on PATH)\n")
	}

	runs = append(runs, &spawnRun{name: "Go spawn floor, serial", f: func() error {
		for range n {
			if err := exec.Command(truePath).Run(); err != nil {
				return err
			}
		}
		return nil
	}})

	if profile != "" {
		// The profile is of our rounds alone: make's and the floor's
		// spawning would be in it too.
		runs = runs[:1]
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for range reps {
		for _, r := range runs {
			if err := r.once(n); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
		}
	}

	fmt.Printf("%d tasks, %d rounds interleaved; per task, median (min):\n", n, reps)
	fmt.Printf("%-30s %22s %22s\n", "run", "wall/task", "cpu/task")
	for _, r := range runs {
		fmt.Printf("%-30s %22s %22s\n", r.name, medMin(r.wall), medMin(r.cpu))
	}
	for _, r := range runs[1:] {
		ratio := make([]time.Duration, reps)
		for i := range ratio {
			ratio[i] = time.Duration(float64(time.Millisecond) * float64(runs[0].wall[i]) / float64(r.wall[i]))
		}
		med, low := stats.MedianMin(ratio)
		fmt.Printf("ours ÷ %-23s %.3f× (min %.3f×), same round\n", r.name, float64(med)/float64(time.Millisecond), float64(low)/float64(time.Millisecond))
	}
	return nil
}

// spawnRun is one contender of the spawn bench and its rounds' figures,
// per task.
type spawnRun struct {
	name      string
	f         func() error
	wall, cpu []time.Duration
}

func (r *spawnRun) once(n int) error {
	before := cpuNow()
	start := time.Now()
	if err := r.f(); err != nil {
		return err
	}
	r.wall = append(r.wall, time.Since(start)/time.Duration(n))
	r.cpu = append(r.cpu, (cpuNow()-before)/time.Duration(n))
	return nil
}

func medMin(ds []time.Duration) string {
	med, low := stats.MedianMin(ds)
	return fmt.Sprintf("%s (%s)", med.Round(time.Microsecond), low.Round(time.Microsecond))
}

// cpuNow is the CPU time this process and its waited-for children used.
func cpuNow() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}
