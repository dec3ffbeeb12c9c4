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
