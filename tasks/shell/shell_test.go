package shell

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

type statuses struct {
	mu    sync.Mutex
	lines []string
}

func (s *statuses) Status(_, line string) {
	s.mu.Lock()
	s.lines = append(s.lines, line)
	s.mu.Unlock()
}

func TestUserTaskLogsAndLastLineIsStatus(t *testing.T) {
	st := &statuses{}
	env := tasks.NewEnv("hello", st, nil)
	var log bytes.Buffer
	env.Log = &log
	env.Runner = &proc.Runner{}
	err := Task{Command: "echo first; echo; echo second"}.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "first\n\nsecond\n") {
		t.Errorf("log %q", log.String())
	}
	if got := st.lines[len(st.lines)-1]; got != "second" {
		t.Errorf("status %q", got)
	}
}

func TestUserTaskFailureNamesCommand(t *testing.T) {
	env := tasks.NewEnv("bad", nil, nil)
	env.Runner = &proc.Runner{}
	err := Task{Command: "echo oops >&2; exit 3"}.Run(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "sh -c 'echo oops >&2; exit 3': exit status 3") || !strings.Contains(err.Error(), "oops") {
		t.Fatalf("err = %v", err)
	}
}

func TestInteractiveWithoutTerminalIsSkipped(t *testing.T) {
	env := tasks.NewEnv("ask", nil, nil)
	env.Runner = &proc.Runner{}
	err := Task{Command: "read x", Interactive: true}.Run(context.Background(), env)
	if o, ok := tasks.AsOutcome(err); !ok || o.Kind != tasks.Skipped {
		t.Fatalf("err = %v", err)
	}
}

// A per-host instance (a user's gate, smoke@web1) runs with its host in
// NIXOS_HOST and NIXOS_TARGET; a run-wide task has neither.
func TestPerHostTaskKnowsItsHost(t *testing.T) {
	for _, tc := range []struct {
		name string
		host *config.Host
		want string
	}{
		{"smoke@web1", &config.Host{Name: "web1", Target: "root@10.0.0.5:2222"}, "web1 root@10.0.0.5:2222\n"},
		{"smoke", nil, " \n"},
	} {
		env := tasks.NewEnv(tc.name, nil, nil)
		env.Host = tc.host
		var log bytes.Buffer
		env.Log = &log
		env.Runner = &proc.Runner{Environ: []string{"PATH=" + os.Getenv("PATH")}}
		if err := (Task{Command: `echo "$NIXOS_HOST $NIXOS_TARGET"`}).Run(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(log.String(), "\n"+tc.want) {
			t.Errorf("%s: printed %q, want %q", tc.name, log.String(), tc.want)
		}
	}
}
