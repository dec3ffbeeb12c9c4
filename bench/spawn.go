package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
	"github.com/rebuild-nixos/rebuild/tasks/shell"
)

// spawnBench runs one random DAG of n user tasks, each `run = "/bin/true"`,
// through the scheduler with a real runner and per-task logs, then the same
// DAG as a Makefile with make -j, then n spawns of /bin/true one after
// another from Go: per task wall time and CPU time (ours and our
// children's) side by side.
func spawnBench(n int, seed uint64, jobs int) error {
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

	fmt.Printf("%-34s %6s %10s %12s %12s\n", "run", "tasks", "wall", "wall/task", "cpu/task")
	line := func(name string, f func() error) error {
		before := cpuNow()
		start := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		wall := time.Since(start)
		cpu := cpuNow() - before
		fmt.Printf("%-34s %6d %10s %12s %12s\n", name, n, round(wall), wall/time.Duration(n), cpu/time.Duration(n))
		return nil
	}

	specs := make([]tasks.Spec, n)
	for i, s := range dag {
		s.Spec.Task = shell.Task{Command: truePath, Dir: dir}
		specs[i] = s.Spec
	}
	runner := &proc.Runner{}
	err = line(fmt.Sprintf("rebuild's scheduler, jobs %d", jobs), func() error {
		logs, err := render.OpenLogs(filepath.Join(dir, "logs"), "20260101-000000.000", 1, nil)
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
	})
	if err != nil {
		return err
	}

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
		err = line(fmt.Sprintf("make -j%d", jobs), func() error {
			c := exec.Command(makePath, "-s", fmt.Sprintf("-j%d", jobs), "-C", dir)
			c.Stdout, c.Stderr = os.Stderr, os.Stderr
			return c.Run()
		})
		if err != nil {
			return err
		}
	} else {
		fmt.Printf("%-34s (no make on PATH)\n", "make")
	}

	return line("Go spawn floor, serial", func() error {
		for range n {
			if err := exec.Command(truePath).Run(); err != nil {
				return err
			}
		}
		return nil
	})
}

// cpuNow is the CPU time this process and its waited-for children used.
func cpuNow() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}
