package claude_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

type jsonEvent struct {
	Time    time.Time         `json:"time"`
	Task    string            `json:"task"`
	Event   string            `json:"event"`
	State   string            `json:"state"`
	Reason  string            `json:"reason"`
	Stats   []string          `json:"stats"`
	Tasks   map[string]string `json:"tasks"`
	Message string            `json:"message"`
}

// runLearnGroup runs the group learn of claude.Specs through the real scheduler with json
// output, as `rebuild --only=learn --output json` does, and returns the
// events. tap, when set, sees every event as it is emitted.
func runLearnGroup(t *testing.T, f *fixture, jobs int, tap func(schedule.Event)) []jsonEvent {
	t.Helper()
	specs := map[string]tasks.Spec{}
	var nodes []dag.Node
	for _, s := range claude.Specs() {
		if !slices.Contains(s.Groups, "learn") {
			continue
		}
		specs[s.Name] = s
		nodes = append(nodes, dag.Node{Name: s.Name, Phase: s.Phase, Groups: s.Groups, Needs: s.Needs, After: s.After, Interactive: s.Interactive})
	}
	g, err := dag.Build(nodes)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's clock, running: records are placed relative to it.
	realStart := time.Now()
	clock := func() time.Time { return now.Add(time.Since(realStart)) }
	var out bytes.Buffer
	rend, err := render.New(render.ModeJSON, render.Options{Out: &out, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	var sink schedule.Sink = rend
	if tap != nil {
		sink = schedule.Sinks{rend, schedule.SinkFunc(tap)}
	}
	p := &taskstest.Prompter{T: t}
	cfg := &config.Config{Flake: f.flake, Tasks: map[string]config.Task{}}
	r, err := schedule.New(g, specs, schedule.Options{Jobs: jobs, Now: clock, Sink: sink,
		Env: func(env *tasks.Env, _ bool) {
			env.Prompt, env.Runner, env.Config, env.Home = p, &proc.Runner{}, cfg, f.home
		}})
	if err != nil {
		t.Fatal(err)
	}
	sum := r.Execute(context.Background())
	if asked := p.Asked(); len(asked) != 0 {
		t.Errorf("asked without a terminal: %q", asked)
	}
	rend.Summary(sum, "")
	rend.Close()
	var events []jsonEvent
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e jsonEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		events = append(events, e)
	}
	return events
}

var analyzerNames = []string{"learn-permissions", "learn-mcp", "learn-context", "learn-workflows",
	"learn-instructions", "learn-cross-project", "learn-meta"}

// TestAnalyzersRunConcurrently proves the seven analyzers run at once:
// the first file each one opens is a named pipe whose content is written
// only once all seven have started. Run one after another, the first would
// wait for the others for ever (the test would give up after a minute).
func TestAnalyzersRunConcurrently(t *testing.T) {
	f := newFixture(t)
	gates := []string{filepath.Join(f.home, ".claude.json")}
	for _, n := range []string{"permission_approvals", "context_usage", "workflow_commands", "policy_violations", "project_patterns", "meta_metrics"} {
		gates = append(gates, filepath.Join(f.learning, n+".jsonl"))
	}
	content := map[string][]byte{}
	for _, g := range gates {
		content[g] = []byte(f.read(g))
		if err := os.Remove(g); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(g, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	started := map[string]bool{}
	allStarted := make(chan struct{})
	tap := func(e schedule.Event) {
		if e.Kind != schedule.Start || !slices.Contains(analyzerNames, e.Task) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		started[e.Task] = true
		if len(started) == len(analyzerNames) {
			close(allStarted)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-allStarted:
		case <-time.After(time.Minute):
			t.Error("the seven analyzers did not all start before one of them could read its input")
		}
		for _, g := range gates {
			w, err := os.OpenFile(g, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				continue
			}
			w.Write(content[g])
			w.Close()
		}
	}()
	events := runLearnGroup(t, f, 8, tap)
	wg.Wait()

	var order []string
	firstFinish := -1
	lastStart := -1
	for i, e := range events {
		if (!slices.Contains(analyzerNames, e.Task) && e.Task != "learn-review") || (e.Event != "start" && e.Event != "finish") {
			continue
		}
		order = append(order, e.Event+" "+e.Task)
		switch e.Event {
		case "start":
			if e.Task != "learn-review" {
				lastStart = i
			}
		case "finish":
			if e.Task != "learn-review" && firstFinish < 0 {
				firstFinish = i
			}
			if e.Task != "learn-review" && e.State != "succeeded" {
				t.Errorf("%s: %s (%s)", e.Task, e.State, e.Reason)
			}
			if e.Task == "learn-permissions" && !hasLine(e.Stats, "suggest: allow Bash(git status:*)") {
				t.Errorf("the finish event does not list the suggestion: %q", e.Stats)
			}
			if e.Task == "learn-review" && (e.State != "skipped" || !strings.HasPrefix(e.Reason, "no terminal: ")) {
				t.Errorf("learn-review: %s %s", e.State, e.Reason)
			}
		}
	}
	// In the json events: seven starts, then the first finish.
	if lastStart < 0 || firstFinish < lastStart {
		t.Errorf("events in this order:\n%s", strings.Join(order, "\n"))
	}
	if order[len(order)-2] != "start learn-review" || order[len(order)-1] != "finish learn-review" {
		t.Errorf("learn-review did not come last:\n%s", strings.Join(order, "\n"))
	}
	t.Logf("json events:\n%s", strings.Join(order, "\n"))
}
