package render

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gatedWriter holds every Write until open is closed: a display, or a
// disk, that does not keep up.
type gatedWriter struct {
	open chan struct{}
	buf  syncBuf
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	<-g.open
	return g.buf.Write(p)
}

// A task's Write returns without waiting for its log to be written: a
// stalled verbose display (or disk) holds the log writer, not the task
// nor a command's output drain. Its Close waits until everything is in
// the files, in order, lines of several tasks never mixed.
func TestTaskWritesDoNotWaitForTheLogs(t *testing.T) {
	gate := &gatedWriter{open: make(chan struct{})}
	l, err := OpenLogs(t.TempDir(), NewRunID(time.Now()), 1, gate)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	wrote := make(chan error, 1)
	var closers []func() error
	go func() {
		for _, name := range []string{"a", "b"} {
			w, path, err := l.Open(name)
			if err != nil {
				wrote <- err
				return
			}
			paths = append(paths, path)
			closers = append(closers, w.Close)
			for i := range 100 {
				if _, err := fmt.Fprintf(w, "%s %d\n", name, i); err != nil {
					wrote <- err
					return
				}
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		close(gate.open)
		t.Fatal("a task's Write waited for the display")
	}
	close(gate.open)
	for _, c := range closers {
		if err := c(); err != nil {
			t.Fatal(err)
		}
	}
	for k, name := range []string{"a", "b"} {
		var want strings.Builder
		for i := range 100 {
			fmt.Fprintf(&want, "%s %d\n", name, i)
		}
		if b, err := os.ReadFile(paths[k]); err != nil || string(b) != want.String() {
			t.Errorf("%s.log: %v\n%s", name, err, b)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(l.Dir(), "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	if gate.buf.String() != string(b) {
		t.Errorf("verbose and run.log differ:\n%s\n---\n%s", gate.buf.String(), b)
	}
	next := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var task, name string
		var i int
		if _, err := fmt.Sscanf(line, "[%1s] %s %d", &task, &name, &i); err != nil || task != name || i != next[name] {
			t.Fatalf("run.log line %q out of place", line)
		}
		next[name]++
	}
	if next["a"] != 100 || next["b"] != 100 {
		t.Errorf("run.log has %v lines", next)
	}
}

// Once the Logs are closed, a task still writing writes its own log
// itself; run.log takes no more lines, as before.
func TestTaskLogAfterLogsClose(t *testing.T) {
	l, err := OpenLogs(t.TempDir(), NewRunID(time.Now()), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, path, err := l.Open("late")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "before\n")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "after\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "before\nafter\n" {
		t.Errorf("late.log = %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(l.Dir(), "run.log")); err != nil || string(b) != "[late] before\n" {
		t.Errorf("run.log = %q, %v", b, err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("a closed task log took a write")
	}
}
