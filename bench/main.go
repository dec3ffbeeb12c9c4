// Command bench measures whole runs of the scheduler on graphs of sleeping
// tasks and prints, from one run, the makespan, the critical path and the
// sequential sum side by side, with makespan ÷ critical path and the
// scheduler's overhead per task.
//
//	go run ./bench                 # the 14-phase shape and random DAGs
//	go run ./bench -total 20s -build 0.6 -jobs 4 -sizes 1000,10000
//	go run ./bench -spawn 1000     # a DAG of `run = "/bin/true"` tasks vs make -j4, 5 rounds interleaved
//	go run ./bench -spawn 1000 -reps 3 -profile cpu.out   # our rounds alone, profiled
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

func main() {
	total := flag.Duration("total", 10*time.Second, "sequential sum of the 14-phase shape")
	build := flag.Float64("build", 0.6, "share of the sequential sum spent in build")
	jobs := flag.Int("jobs", max(4, runtime.NumCPU()), "concurrency slots")
	sizes := flag.String("sizes", "1000,10000", "random DAG sizes")
	seed := flag.Uint64("seed", 1, "random seed")
	spawn := flag.Int("spawn", 0, "instead: a random DAG of this many user tasks running /bin/true, with their logs, beside make -j and the serial spawn floor")
	reps := flag.Int("reps", 5, "with -spawn: rounds of the three, interleaved")
	profile := flag.String("profile", "", "with -spawn: run only the scheduler's rounds and write their CPU profile to this file")
	flag.Parse()

	if *spawn > 0 {
		if err := spawnBench(*spawn, *seed, *jobs, max(*reps, 1), *profile); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}

	fmt.Printf("%-26s %6s %10s %10s %10s %9s %13s\n", "graph", "tasks", "makespan", "crit.path", "seq.sum", "mk÷cp", "(mk−cp)/task")
	specs := phaseShape(*total, *build)
	report("14-phase shape", specs, *jobs)

	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: bad size %q\n", s)
			os.Exit(2)
		}
		// Sleeping tasks with as many slots as tasks: the makespan should
		// meet the critical path, and what is left over is the scheduler.
		report(fmt.Sprintf("random DAG, 1–5ms sleeps"), randomDAG(n, *seed, true), n)
		report(fmt.Sprintf("random DAG, no-op, jobs %d", *jobs), randomDAG(n, *seed, false), *jobs)
	}
}

type sleepSpec struct {
	tasks.Spec
	d time.Duration
}

func sleeper(d time.Duration) tasks.Task {
	return tasks.Func(func(ctx context.Context, _ *tasks.Env) error {
		if d == 0 {
			return nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

func report(name string, ss []sleepSpec, jobs int) {
	specs := make([]tasks.Spec, len(ss))
	dur := map[string]time.Duration{}
	var seq time.Duration
	for i, s := range ss {
		s.Spec.Task = sleeper(s.d)
		s.Spec.Estimate = s.d
		specs[i] = s.Spec
		dur[s.Name] = s.d
		seq += s.d
	}
	g, byName, err := schedule.Graph(specs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	_, cp := g.CriticalPath(func(n string) time.Duration { return dur[n] })
	r, err := schedule.New(g, byName, schedule.Options{Jobs: jobs, Estimate: func(n string) time.Duration { return dur[n] }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	start := time.Now()
	sum := r.Execute(context.Background())
	wall := time.Since(start)
	for n, res := range sum.Results {
		if res.State != schedule.Succeeded {
			fmt.Fprintf(os.Stderr, "bench: %s ended %s: %s\n", n, res.State, res.Reason)
			os.Exit(1)
		}
	}
	ratio := "-"
	if cp > 0 {
		ratio = fmt.Sprintf("%.3f", float64(wall)/float64(cp))
	}
	// What the run took beyond the critical path, per task: for no-op
	// tasks this is the scheduler's overhead; for sleeping ones it also
	// holds waits the critical path does not know of (the tty resource).
	over := (wall - cp) / time.Duration(len(ss))
	fmt.Printf("%-26s %6d %10s %10s %10s %9s %13s\n", name, len(ss), round(wall), round(cp), round(seq), ratio, over)
}

func round(d time.Duration) string {
	if d > time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}

// phaseShape is DESIGN.md's default graph with durations: build takes the
// given share of the sequential sum, the rest is split by weight.
func phaseShape(total time.Duration, buildShare float64) []sleepSpec {
	type t struct {
		name        string
		seed        int
		weight      float64
		needs       []string
		after       []string
		interactive bool
	}
	learn := []string{"learn-permissions", "learn-mcp", "learn-context", "learn-workflows", "learn-instructions", "learn-cross-project", "learn-meta"}
	shape := []t{
		{"flake-update", 1, 3, nil, nil, false},
		{"build", 2, 0, []string{"flake-update"}, nil, false},
		{"diff", 0, 1, []string{"build"}, nil, false},
		{"activate", 3, 6, []string{"build"}, []string{"diff"}, false},
		{"claude-config", 4, 3, []string{"activate"}, nil, false},
		{"mcp-analytics", 5, 2, nil, []string{"claude-config"}, false},
		{"tool-analytics", 6, 2, nil, []string{"claude-config"}, false},
	}
	for _, l := range learn {
		shape = append(shape, t{l, 7, 2.5, nil, nil, false})
	}
	shape = append(shape,
		t{"learn-review", 7, 1, nil, learn, true},
		t{"accept", 8, 1, []string{"activate"}, []string{"claude-config", "mcp-analytics", "tool-analytics", "learn-review"}, true},
		t{"generations", 9, 2, []string{"accept"}, nil, true},
		t{"disk", 10, 3, nil, nil, false},
		t{"caches", 11, 2, nil, nil, true},
		t{"sessions", 12, 1, nil, []string{"mcp-analytics", "learn-review"}, true},
		t{"backups", 13, 1, nil, []string{"claude-config"}, true},
		t{"push", 14, 1, []string{"accept"}, nil, true},
	)
	var w float64
	for _, s := range shape {
		w += s.weight
	}
	rest := float64(total) * (1 - buildShare)
	out := make([]sleepSpec, len(shape))
	for i, s := range shape {
		d := time.Duration(rest * s.weight / w)
		if s.name == "build" {
			d = time.Duration(float64(total) * buildShare)
		}
		out[i] = sleepSpec{Spec: tasks.Spec{Name: s.name, Phase: s.seed, Needs: s.needs, After: s.after, Interactive: s.interactive}, d: d}
	}
	return out
}

// randomDAG has n tasks, each with up to three edges to earlier ones.
func randomDAG(n int, seed uint64, sleep bool) []sleepSpec {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	out := make([]sleepSpec, n)
	for i := range out {
		s := sleepSpec{Spec: tasks.Spec{Name: fmt.Sprintf("t%05d", i)}}
		for k := rng.IntN(4); k > 0 && i > 0; k-- {
			j := rng.IntN(i)
			name := fmt.Sprintf("t%05d", j)
			if rng.IntN(2) == 0 {
				s.Needs = append(s.Needs, name)
			} else {
				s.After = append(s.After, name)
			}
		}
		if sleep {
			s.d = time.Duration(1+rng.IntN(5)) * time.Millisecond
		}
		out[i] = s
	}
	return out
}
