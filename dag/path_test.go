package dag

import (
	"reflect"
	"testing"
	"time"
)

func durations(m map[string]time.Duration) func(string) time.Duration {
	return func(name string) time.Duration { return m[name] }
}

// The small graph, durations in seconds:
//
//	a(1) ─▶ b(5) ─▶ d(1)
//	a(1) ─▶ c(2) ┄┄▶ d
//	e(3)
func smallTimed(t *testing.T) (*Graph, func(string) time.Duration) {
	g := mustBuild(t, []Node{
		{Name: "a"},
		{Name: "b", Needs: []string{"a"}},
		{Name: "c", Needs: []string{"a"}},
		{Name: "d", Needs: []string{"b"}, After: []string{"c"}},
		{Name: "e"},
	})
	return g, durations(map[string]time.Duration{
		"a": 1 * time.Second, "b": 5 * time.Second, "c": 2 * time.Second,
		"d": 1 * time.Second, "e": 3 * time.Second,
	})
}

func TestLongestToEnd(t *testing.T) {
	g, dur := smallTimed(t)
	calls := map[string]int{}
	got := g.LongestToEnd(func(name string) time.Duration {
		calls[name]++
		return dur(name)
	})
	want := map[string]time.Duration{
		"a": 7 * time.Second, "b": 6 * time.Second, "c": 3 * time.Second,
		"d": 1 * time.Second, "e": 3 * time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LongestToEnd = %v, want %v", got, want)
	}
	for name, n := range calls {
		if n != 1 {
			t.Errorf("dur(%q) called %d times, want once", name, n)
		}
	}
}

func TestCriticalPath(t *testing.T) {
	g, dur := smallTimed(t)
	path, total := g.CriticalPath(dur)
	if want := []string{"a", "b", "d"}; !reflect.DeepEqual(path, want) || total != 7*time.Second {
		t.Errorf("CriticalPath = %v, %v; want %v, 7s", path, total, want)
	}
}

// Equal totals: the path earlier in Order wins, at the start and at each step.
//
//	x(2) ─▶ z(1)      p(3)
//	y(2) ─▶ z
//	x ─▶ w(1)
func TestCriticalPathTies(t *testing.T) {
	g := mustBuild(t, []Node{
		{Name: "p"},
		{Name: "x"},
		{Name: "y"},
		{Name: "w", Needs: []string{"x"}},
		{Name: "z", Needs: []string{"y", "x"}},
	})
	dur := durations(map[string]time.Duration{"x": 2, "y": 2, "z": 1, "w": 1, "p": 3})
	path, total := g.CriticalPath(dur)
	if want := []string{"p"}; !reflect.DeepEqual(path, want) || total != 3 {
		t.Errorf("CriticalPath = %v, %v; want %v, 3", path, total, want)
	}
	dur = durations(map[string]time.Duration{"x": 2, "y": 2, "z": 1, "w": 1, "p": 1})
	path, total = g.CriticalPath(dur)
	if want := []string{"x", "w"}; !reflect.DeepEqual(path, want) || total != 3 {
		t.Errorf("CriticalPath = %v, %v; want %v, 3", path, total, want)
	}
}

// On the default graph with the build dominating, the critical chain runs
// through flake-update, build, diff and activate to commit. Every other task
// takes no time here, so after activate the path is a tie broken by Order:
// claude-config comes before accept, and its after edges lead on to commit.
func TestCriticalPathDefaultGraph(t *testing.T) {
	g := defaultGraph(t)
	d := map[string]time.Duration{
		"flake-update": 10 * time.Second,
		"build":        600 * time.Second,
		"diff":         5 * time.Second,
		"activate":     30 * time.Second,
	}
	for _, n := range g.Nodes() {
		if n.Groups[0] == "learn" && n.Name != "learn-review" {
			d[n.Name] = 20 * time.Second
		}
	}
	path, total := g.CriticalPath(durations(d))
	want := []string{"flake-update", "build", "diff", "activate", "claude-config", "mcp-analytics", "commit", "push"}
	if !reflect.DeepEqual(path, want) || total != 645*time.Second {
		t.Errorf("CriticalPath = %v, %v;\nwant %v, 645s", path, total, want)
	}

	long := g.LongestToEnd(durations(d))
	for name, want := range map[string]time.Duration{
		"flake-update": 645 * time.Second, "build": 635 * time.Second, "activate": 30 * time.Second,
		"learn-meta": 20 * time.Second, "disk": 0, "accept": 0,
	} {
		if long[name] != want {
			t.Errorf("LongestToEnd[%s] = %v, want %v", name, long[name], want)
		}
	}
	// The scheduler's rule: build outranks every analyzer.
	if long["build"] <= long["learn-permissions"] {
		t.Errorf("build (%v) does not outrank the analyzers (%v)", long["build"], long["learn-permissions"])
	}

	// Once the Claude tasks take time, the path through them is strictly longer.
	d["claude-config"], d["mcp-analytics"], d["commit"], d["push"] = 2*time.Second, 3*time.Second, 1*time.Second, 4*time.Second
	path, total = g.CriticalPath(durations(d))
	want = []string{"flake-update", "build", "diff", "activate", "claude-config", "mcp-analytics", "commit", "push"}
	if !reflect.DeepEqual(path, want) || total != 655*time.Second {
		t.Errorf("CriticalPath = %v, %v;\nwant %v, 655s", path, total, want)
	}
}
