package nixos

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// healthEnv is health's Env after an activation, with a systemctl
// stand-in that prints state for is-system-running.
func healthEnv(t *testing.T, state string) *tasks.Env {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\ncase \"$1\" in is-system-running) echo " + state + "; [ " + state + " = running ];; *) exit 0;; esac\n"
	if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	v := tasks.NewValues()
	tasks.Activated.Put(v, tasks.Activation{Path: "/nix/store/x-system", Generation: 2, Previous: 1})
	failedUnitsKey.Put(v, nil)
	env := tasks.NewEnv("health", nil, v)
	env.Log = &taskstest.Buffer{}
	env.Runner = &proc.Runner{Environ: []string{"PATH=" + dir + ":" + os.Getenv("PATH")}}
	return env
}

func configured(t *testing.T, opts map[string]any) Health {
	t.Helper()
	h, err := Health{}.Configure(config.Task{Name: "health", Options: opts, File: "config.toml"})
	if err != nil {
		t.Fatal(err)
	}
	return h.(Health)
}

// The probes: a listening port and a 200 pass; a closed port and a 500
// fail, each named; degraded fails unless allowed.
func TestHealthProbesAndStates(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer bad.Close()

	for _, c := range []struct {
		name  string
		state string
		opts  map[string]any
		want  []string // "" for a pass
	}{
		{"all pass", "running", map[string]any{"tcp": []string{ln.Addr().String()}, "http": []string{ok.URL}}, nil},
		{"closed port", "running", map[string]any{"tcp": []string{closedAddr}}, []string{"tcp " + closedAddr}},
		{"http 500", "running", map[string]any{"http": []string{bad.URL}}, []string{bad.URL + ": 500 Internal Server Error"}},
		{"degraded", "degraded", nil, []string{"the system is degraded (allow_degraded = false)"}},
		{"degraded allowed", "degraded", map[string]any{"allow_degraded": true}, nil},
		{"maintenance", "maintenance", nil, []string{"the system is maintenance, not running"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := configured(t, c.opts).Run(context.Background(), healthEnv(t, c.state))
			if len(c.want) == 0 {
				if err != nil {
					t.Errorf("failed: %v", err)
				}
				return
			}
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v lacks %q", err, w)
				}
			}
		})
	}
}

// Nothing activated: nothing to check. Bad options name their key.
func TestHealthSkipsAndBadOptions(t *testing.T) {
	env := tasks.NewEnv("health", nil, tasks.NewValues())
	if o, ok := tasks.AsOutcome(configured(t, nil).Run(context.Background(), env)); !ok || o.Kind != tasks.Skipped {
		t.Errorf("without an activation: %v", o)
	}
	for key, v := range map[string]any{"tcp": []string{"localhost"}, "http": []string{"ftp://x"}, "wait_timeout": "0s"} {
		_, err := Health{}.Configure(config.Task{Name: "health", Options: map[string]any{key: v}, File: "config.toml"})
		if err == nil || !strings.Contains(err.Error(), "task.health."+key) {
			t.Errorf("%s = %v: %v", key, v, err)
		}
	}
}
