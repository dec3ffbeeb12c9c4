package config

import (
	"fmt"
	"strings"
	"testing"
)

// manyTasks is a user file of n tasks, each after another, as bench/plan
// writes it.
func manyTasks(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[task.t%04d]\nrun = \"true\"\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "after = [\"t%04d\"]\n", i/2)
		}
	}
	return b.String()
}

// BenchmarkLoad is config loading on a file of 30 and of 1,000 tasks:
// the file alone, as `rebuild plan` loads it (no REBUILD_* variable, no
// flag: the file is the last layer), and with a variable and a flag, so
// every layer is merged.
func BenchmarkLoad(b *testing.B) {
	for _, bc := range []struct {
		name    string
		tasks   int
		environ []string
		flags   map[string]any
	}{
		{"30-tasks-file", 30, nil, nil},
		{"1000-tasks-file", 1000, nil, nil},
		{"1000-tasks-env-flag", 1000, []string{"REBUILD_JOBS=2"}, map[string]any{"task.t0001.timeout": "1m"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b)
			e.user(manyTasks(bc.tasks))
			o := e.opts()
			o.Environ = append(o.Environ, bc.environ...)
			o.Flags = bc.flags
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Load(o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
