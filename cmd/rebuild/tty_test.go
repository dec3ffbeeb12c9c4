package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const ttyConfig = `
[task.fetch]
run = "for i in 1 2 3 4 5 6 7 8 9 10; do echo fetching part $i; [ -f go ] && break; sleep 0.2; done"
[task.index]
run = "for i in 1 2 3 4 5 6 7 8 9 10; do echo indexing $i; [ -f go ] && break; sleep 0.2; done"
[task.ask]
run = "printf 'your name? '; read n; echo \"hello $n\" > answer"
interactive = true
needs = ["fetch"]
[task.later]
run = "for i in 1 2 3 4 5 6 7 8 9 10; do echo finishing $i; [ -f done ] && break; sleep 0.2; done"
needs = ["ask"]
`

// In a real pseudo-terminal: parallel spinners appear, the interactive
// task gets the terminal and the typed input reaches it, and the live area
// comes back after it.
func TestTTYLiveAreaAndInteractiveTask(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cfg.toml"), ttyConfig)
	w := newWorld(t, dir)
	tr := w.tty("--config", "cfg.toml", "--only=fetch,index,ask,later")
	scr := tr.screen

	// Both read-only tasks are on screen at once, each with a spinner line.
	at := scr.waitText(t, 0, "fetching part")
	scr.waitText(t, 0, "indexing")
	frame := scr.String()
	if !strings.Contains(frame, "fetch ") || !strings.Contains(frame, "index ") || !strings.Contains(frame, "tasks ·") {
		t.Errorf("live area lacks the running tasks or the overall line:\n%s", frame)
	}
	writeFile(t, filepath.Join(dir, "go"), "")

	// The question reaches the terminal; what we type reaches the task.
	at = scr.waitText(t, at, "your name? ")
	tr.answer("world")
	// After the interactive task, the live area is back for "later".
	at = scr.waitText(t, at, "✔ ask")
	scr.waitText(t, at, "finishing")
	scr.waitText(t, at, "tasks ·")
	writeFile(t, filepath.Join(dir, "done"), "")
	if code := tr.exit(); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, scr.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "answer"))
	if err != nil || string(b) != "hello world\n" {
		t.Errorf("answer = %q, %v", b, err)
	}
}

// The same run with stdin from /dev/null and stdout a pipe: no hang, no
// crash, no escape codes, the interactive task skipped with its reason.
func TestNoTerminalNeitherHangsNorCrashes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cfg.toml"), ttyConfig)
	writeFile(t, filepath.Join(dir, "go"), "")
	writeFile(t, filepath.Join(dir, "done"), "")
	cmd := rebuildCmd(t, dir, "--config", "cfg.toml", "--only=fetch,index,ask,later")
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	cmd.Stdin = devnull
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if bytes.IndexByte(out, 0x1b) >= 0 {
		t.Errorf("escape codes in plain output:\n%q", out)
	}
	for _, want := range []string{"skipped ask", "no terminal", "✔ done  later"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
