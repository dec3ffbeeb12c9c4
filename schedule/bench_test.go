package schedule

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// BenchmarkOverheadPerTask runs random DAGs of no-op tasks; ns/op is the
// scheduler's cost per task (graph building excluded), and cpu-ns/op the
// CPU time the process spent per task meanwhile (every goroutine's and
// the collector's): on a shared machine the wall time also holds the
// waits for a core, the CPU time much less so.
func BenchmarkOverheadPerTask(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			specs := make([]tasks.Spec, n)
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			for i := range specs {
				specs[i] = tasks.Spec{Name: fmt.Sprintf("t%05d", i), Task: ok()}
				for k := rng.IntN(4); k > 0 && i > 0; k-- {
					specs[i].Needs = append(specs[i].Needs, fmt.Sprintf("t%05d", rng.IntN(i)))
				}
			}
			g, byName, err := Graph(specs)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i += n {
				r, _ := New(g, byName, Options{Jobs: 4})
				if s := r.Execute(context.Background()); s.ExitCode(true) != 0 {
					b.Fatal("run failed")
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
