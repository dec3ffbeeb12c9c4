package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A user task whose command prints nothing and succeeds costs no log
// file: its command line is in run.log. One that prints, or fails, has
// its <task>.log starting with the command line, as before.
func TestSilentUserTaskHasNoLogFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cfg.toml"), `
[task.quiet]
groups = ["mine"]
run = "true"
[task.loud]
groups = ["mine"]
run = "echo hello"
[task.broken]
groups = ["mine"]
run = "false"
`)
	cmd := rebuildCmd(t, dir, "--config", "cfg.toml", "--only=mine", "--output", "plain")
	// A user task's failure is a warning: the exit code is not looked at.
	out, _ := hardRun(t, cmd)
	runs, _ := filepath.Glob(filepath.Join(dir, "state", "rebuild", "logs", "*"))
	if len(runs) != 1 {
		t.Fatalf("run directories: %v\n%s", runs, out)
	}
	if _, err := os.Stat(filepath.Join(runs[0], "quiet.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("quiet.log: %v, want no file", err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(runs[0], name))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return string(b)
	}
	// echo is the shell's: the line runs under sh -c.
	if got := read("loud.log"); !strings.HasPrefix(got, "$ ") || !strings.HasSuffix(got, "echo hello'\nhello\n") || strings.Count(got, "\n") != 2 {
		t.Errorf("loud.log = %q", got)
	}
	if got := read("broken.log"); !strings.HasPrefix(got, "$ false\n") || !strings.Contains(got, "broken failed: ") {
		t.Errorf("broken.log = %q", got)
	}
	if run := read("run.log"); !strings.Contains(run, "[quiet] $ true\n") {
		t.Errorf("run.log lacks quiet's command line:\n%s", run)
	}
	if strings.Contains(out, "quiet.log") {
		t.Errorf("the output points at quiet.log, which is not there:\n%s", out)
	}
}
