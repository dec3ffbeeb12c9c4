package schedule

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// lazyLog stands for render's task log: it knows whether it was written.
type lazyLog struct {
	mu      sync.Mutex
	written bool
}

func (l *lazyLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.written = l.written || len(p) > 0
	return len(p), nil
}
func (l *lazyLog) Close() error { return nil }
func (l *lazyLog) Empty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.written
}

// A task that wrote nothing has no log file to point at.
func TestSilentTaskNamesNoLog(t *testing.T) {
	specs := []tasks.Spec{
		{Name: "silent", Task: ok()},
		{Name: "loud", Task: tasks.Func(func(_ context.Context, env *tasks.Env) error {
			fmt.Fprintln(env.Log, "hello")
			return nil
		})},
	}
	opener := func(task string) (io.WriteCloser, string, error) { return &lazyLog{}, "/logs/" + task + ".log", nil }
	sum, _ := run(t, specs, Options{Jobs: 2, Logs: opener})
	if p := sum.Results["silent"].LogPath; p != "" {
		t.Errorf("silent task's log = %q, want none", p)
	}
	if p := sum.Results["loud"].LogPath; p != "/logs/loud.log" {
		t.Errorf("loud task's log = %q", p)
	}
}

// cmdLineLog is a log that takes command lines apart, as render's does.
type cmdLineLog struct {
	lazyLog
	lines []string
}

func (l *cmdLineLog) WriteCommandLine(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

// A command line passes through the task's output to a log that takes it
// apart (no file for it alone), and the tail still shows it on failure.
func TestOutputPassesCommandLinesApart(t *testing.T) {
	logs := map[string]*cmdLineLog{}
	var mu sync.Mutex
	opener := func(task string) (io.WriteCloser, string, error) {
		mu.Lock()
		defer mu.Unlock()
		logs[task] = &cmdLineLog{}
		return logs[task], "/logs/" + task + ".log", nil
	}
	specs := []tasks.Spec{{Name: "cmd", Task: tasks.Func(func(_ context.Context, env *tasks.Env) error {
		cl, ok := env.Log.(interface {
			WriteCommandLine(p []byte) (int, error)
		})
		if !ok {
			return fmt.Errorf("the task's log has no WriteCommandLine")
		}
		cl.WriteCommandLine([]byte("$ false\n"))
		return fmt.Errorf("false: exit status 1")
	})}}
	sum, _ := run(t, specs, Options{Jobs: 1, Logs: opener})
	res := sum.Results["cmd"]
	if res.State != Failed || res.Reason != "false: exit status 1" {
		t.Fatalf("cmd: %s %q", res.State, res.Reason)
	}
	if l := logs["cmd"]; len(l.lines) != 1 || l.lines[0] != "$ false\n" || l.Empty() {
		t.Errorf("log: command lines %q, written %v (want the failure's line)", l.lines, !l.Empty())
	}
	if len(res.Tail) == 0 || res.Tail[0] != "$ false" {
		t.Errorf("tail = %q", res.Tail)
	}
}
