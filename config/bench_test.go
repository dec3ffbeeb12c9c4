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

// BenchmarkLoad1000Tasks is config loading on a configuration of 1,000
// tasks (the part of `rebuild plan` and of a 1,000-task run that grows
// with it), with a variable and a flag, so every layer is merged.
func BenchmarkLoad1000Tasks(b *testing.B) {
	e := newEnv(b)
	e.user(manyTasks(1000))
	o := e.opts()
	o.Environ = append(o.Environ, "REBUILD_JOBS=2")
	o.Flags = map[string]any{"task.t0001.timeout": "1m"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad1000TasksFile is the same file alone, as `rebuild plan`
// loads it: no REBUILD_* variable, no flag, so the file is the last layer.
func BenchmarkLoad1000TasksFile(b *testing.B) {
	e := newEnv(b)
	e.user(manyTasks(1000))
	o := e.opts()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(o); err != nil {
			b.Fatal(err)
		}
	}
}
