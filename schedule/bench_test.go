package schedule

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// BenchmarkOverheadPerTask runs random DAGs of no-op tasks; ns/op is the
// scheduler's cost per task (graph building excluded).
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
			for i := 0; i < b.N; i += n {
				r, _ := New(g, byName, Options{Jobs: 4})
				if s := r.Execute(context.Background()); s.ExitCode(true) != 0 {
					b.Fatal("run failed")
				}
			}
		})
	}
}
