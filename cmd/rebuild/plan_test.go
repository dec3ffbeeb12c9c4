package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeCounter counts the writes it is given.
type writeCounter struct {
	bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// `rebuild plan` writes its plan at once: on a pipe or a terminal each
// write is a system call, and a plan has a line per task.
func TestPlanIsOneWrite(t *testing.T) {
	var cfg strings.Builder
	dir := t.TempDir()
	fmt.Fprintf(&cfg, "state_dir = %q\n", filepath.Join(dir, "state"))
	var names []string
	for i := range 50 {
		names = append(names, fmt.Sprintf("t%02d", i))
		fmt.Fprintf(&cfg, "[task.t%02d]\nrun = \"true\"\n", i)
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out writeCounter
	var errOut bytes.Buffer
	sys := testSystem(t, nil, &errOut)
	sys.IO = testIO(&out, &errOut)
	if code := Run(sys, []string{"plan", "--config", path, "--only", strings.Join(names, ",")}); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "  t49 ") || !strings.Contains(out.String(), "critical path:") {
		t.Fatalf("plan printed:\n%s", out.String())
	}
	if out.writes != 1 {
		t.Errorf("plan of 50 tasks took %d writes, want 1", out.writes)
	}
}
