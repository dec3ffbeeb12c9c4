package schedule

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// hostSpecs is two hosts' chains after one run-wide task, as the graph's
// expansion makes them (tasks.Spec.Host set on every instance; the names
// are build-web1 rather than build-web1 only because dag, here, does not
// take an '@': the host comes from the spec, never from the name):
//
//	flake-update ─▶ build-web1 ─▶ health-web1 (gate)
//	             ─▶ build-web2 ─▶ health-web2 (gate, fails)
func hostSpecs() []tasks.Spec {
	return []tasks.Spec{
		{Name: "flake-update", Task: ok()},
		{Name: "build-web1", Host: "web1", Needs: []string{"flake-update"}, Task: tasks.Func(func(_ context.Context, env *tasks.Env) error {
			env.Status("building")
			return nil
		})},
		{Name: "build-web2", Host: "web2", Needs: []string{"flake-update"}, Task: ok()},
		{Name: "health-web1", Host: "web1", Gate: true, Needs: []string{"build-web1"}, Task: ok()},
		{Name: "health-web2", Host: "web2", Gate: true, Needs: []string{"build-web2"}, Task: fail("3 units failed")},
	}
}

// Every event of a per-host task carries its host, and no event of a
// task of the whole run does: the renderers draw the lanes from it.
func TestEventsCarryTheirTasksHost(t *testing.T) {
	hostOf := map[string]string{}
	for _, s := range hostSpecs() {
		hostOf[s.Name] = s.Host
	}
	sum, rec := run(t, hostSpecs(), Options{Jobs: 2})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	kinds := map[string][]EventKind{}
	for _, e := range rec.events {
		want := hostOf[e.Task]
		if e.Host != want {
			t.Errorf("%s event of %s has host %q, want %q", e.Kind, e.Task, e.Host, want)
		}
		kinds[e.Task] = append(kinds[e.Task], e.Kind)
	}
	if !slices.Contains(kinds["build-web1"], Status) {
		t.Errorf("build-web1's status event is missing: %v", kinds["build-web1"])
	}
	for name, r := range sum.Results {
		if want := hostOf[name]; r.Host != want {
			t.Errorf("result of %s has host %q, want %q", name, r.Host, want)
		}
		if r.Gate != strings.HasPrefix(name, "health-") {
			t.Errorf("result of %s: gate %v", name, r.Gate)
		}
	}
	if got := sum.Hosts(); !slices.Equal(got, []string{"web1", "web2"}) {
		t.Errorf("Hosts() = %v", got)
	}
}

// A run without hosts has no host anywhere: its events, results, history
// and Hosts() are what they were.
func TestNoHostsNoHostAnywhere(t *testing.T) {
	sum, rec := run(t, []tasks.Spec{{Name: "a", Task: ok()}, {Name: "b", Needs: []string{"a"}, Task: ok()}}, Options{})
	for _, e := range rec.events {
		if e.Host != "" {
			t.Errorf("%s event of %s has host %q", e.Kind, e.Task, e.Host)
		}
	}
	if h := sum.Hosts(); h != nil {
		t.Errorf("Hosts() = %v", h)
	}
	b, err := json.Marshal(NewRunRecord("1", "laptop", sum, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), `"host"`) != 1 { // the run's own, as before
		t.Errorf("history record of a run without hosts: %s", b)
	}
}

// History keeps each per-host task's host beside its full name.
func TestHistoryRecordsTheHostOfEachTask(t *testing.T) {
	sum, _ := run(t, hostSpecs(), Options{Jobs: 2})
	rec := NewRunRecord("1", "laptop", sum, 1, nil)
	if got := rec.Tasks["health-web2"]; got.Host != "web2" || got.State != Failed {
		t.Errorf("health-web2 recorded as %+v", got)
	}
	if got := rec.Tasks["flake-update"]; got.Host != "" {
		t.Errorf("flake-update recorded with host %q", got.Host)
	}
	b, _ := json.Marshal(rec.Tasks["build-web1"])
	if !strings.Contains(string(b), `"host":"web1"`) {
		t.Errorf("build-web1's record: %s", b)
	}
}
