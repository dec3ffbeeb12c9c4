package dag

import (
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBuildDuplicate(t *testing.T) {
	_, err := Build([]Node{{Name: "a"}, {Name: "b"}, {Name: "a"}})
	var dup *DuplicateError
	if !errors.As(err, &dup) || dup.Name != "a" {
		t.Fatalf("Build = %v, want *DuplicateError for a", err)
	}
	if got, want := err.Error(), `duplicate task "a"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestBuildUnknownEdge(t *testing.T) {
	cases := []struct {
		name  string
		nodes []Node
		want  string
	}{
		{"needs, close", []Node{{Name: "build"}, {Name: "a", Needs: []string{"biuld"}}},
			`task "a": needs unknown task "biuld" (did you mean "build"?)`},
		{"after, close", []Node{{Name: "build"}, {Name: "a", After: []string{"buil"}}},
			`task "a": after unknown task "buil" (did you mean "build"?)`},
		{"nothing close", []Node{{Name: "build"}, {Name: "a", Needs: []string{"zz"}}},
			`task "a": needs unknown task "zz"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.nodes)
			var ue *UnknownEdgeError
			if !errors.As(err, &ue) {
				t.Fatalf("Build = %v, want *UnknownEdgeError", err)
			}
			if ue.Task != "a" {
				t.Errorf("Task = %q, want a", ue.Task)
			}
			if got := err.Error(); got != c.want {
				t.Errorf("Error() = %q, want %q", got, c.want)
			}
		})
	}
}

func TestBuildNodeErrors(t *testing.T) {
	cases := []struct {
		node Node
		want string
	}{
		{Node{Name: ""}, `task "": name is empty`},
		{Node{Name: "Build"}, `task "Build": name has 'B': use a-z, 0-9 and '-'`},
		{Node{Name: "my_task"}, `task "my_task": name has '_': use a-z, 0-9 and '-'`},
		{Node{Name: "a", Phase: 15}, `task "a": seed 15 out of range (1–14, or 0 for none)`},
		{Node{Name: "a", Phase: -1}, `task "a": seed -1 out of range (1–14, or 0 for none)`},
		{Node{Name: "a", Groups: []string{"ok", "Not ok"}}, `task "a": group "Not ok": has 'N': use a-z, 0-9 and '-'`},
	}
	for _, c := range cases {
		_, err := Build([]Node{c.node})
		var ne *NodeError
		if !errors.As(err, &ne) || err.Error() != c.want {
			t.Errorf("Build(%+v) = %v, want *NodeError %q", c.node, err, c.want)
		}
	}
}

// A pair with both kinds gets one needs edge; a repeated edge counts once.
//
//	a ─▶ b   (b: needs a, after a, needs a)
func TestBuildNeedsWinsOverAfter(t *testing.T) {
	for _, b := range []Node{
		{Name: "b", After: []string{"a"}, Needs: []string{"a", "a"}},
		{Name: "b", Needs: []string{"a"}, After: []string{"a", "a"}},
	} {
		g := mustBuild(t, []Node{{Name: "a"}, b})
		if got, want := g.Edges(), []Edge{{"a", "b", Needs}}; !reflect.DeepEqual(got, want) {
			t.Errorf("Edges() = %v, want %v", got, want)
		}
		n, _ := g.Node("b")
		if !reflect.DeepEqual(n.Needs, []string{"a"}) || n.After != nil {
			t.Errorf("Node(b) = %+v, want needs [a] and no after", n)
		}
	}
}

// accessors runs on
//
//	c ─▶ a ─▶ d
//	c ┄┄▶ b ─▶ d
//
// given as d, b, a, c: Order is c, b, a, d (b was given before a).
func TestAccessors(t *testing.T) {
	in := []Node{
		{Name: "d", Needs: []string{"b", "a"}, Groups: []string{"z", "x", "z"}},
		{Name: "b", After: []string{"c"}, Groups: []string{"y"}},
		{Name: "a", Needs: []string{"c"}, Phase: 3, Critical: true, Interactive: true},
		{Name: "c"},
	}
	g := mustBuild(t, in)
	in[0].Needs[0] = "changed" // Build must not keep the caller's slices

	if got := g.Len(); got != 4 {
		t.Errorf("Len() = %d", got)
	}
	if got, want := g.Order(), []string{"c", "b", "a", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Order() = %v, want %v", got, want)
	}
	wantNodes := []Node{
		{Name: "c"},
		{Name: "b", After: []string{"c"}, Groups: []string{"y"}},
		{Name: "a", Needs: []string{"c"}, Phase: 3, Critical: true, Interactive: true},
		{Name: "d", Needs: []string{"b", "a"}, Groups: []string{"z", "x"}},
	}
	if got := g.Nodes(); !reflect.DeepEqual(got, wantNodes) {
		t.Errorf("Nodes() =\n%+v\nwant\n%+v", got, wantNodes)
	}
	if n, ok := g.Node("a"); !ok || !reflect.DeepEqual(n, wantNodes[2]) {
		t.Errorf("Node(a) = %+v, %v", n, ok)
	}
	if _, ok := g.Node("nope"); ok {
		t.Error("Node(nope) found")
	}
	wantEdges := []Edge{{"c", "b", After}, {"c", "a", Needs}, {"b", "d", Needs}, {"a", "d", Needs}}
	if got := g.Edges(); !reflect.DeepEqual(got, wantEdges) {
		t.Errorf("Edges() = %v, want %v", got, wantEdges)
	}
	// c b a d are positions 0 1 2 3.
	if got, want := slices.Collect(g.IndexEdges()), []IndexEdge{{0, 1, After}, {0, 2, Needs}, {1, 3, Needs}, {2, 3, Needs}}; !reflect.DeepEqual(got, want) {
		t.Errorf("IndexEdges() = %v, want %v", got, want)
	}
	if got, want := g.Prereqs("d"), []Edge{{"b", "d", Needs}, {"a", "d", Needs}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Prereqs(d) = %v, want %v", got, want)
	}
	if got, want := g.Dependents("c"), []Edge{{"c", "b", After}, {"c", "a", Needs}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Dependents(c) = %v, want %v", got, want)
	}
	if got := g.Prereqs("c"); len(got) != 0 {
		t.Errorf("Prereqs(c) = %v", got)
	}
	if got := g.Dependents("nope"); got != nil {
		t.Errorf("Dependents(nope) = %v", got)
	}
	if got, want := g.Groups(), []string{"x", "y", "z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Groups() = %v, want %v", got, want)
	}

	// Results are copies: changing them changes nothing.
	g.Order()[0] = "x"
	g.Nodes()[0].Name = "x"
	n, _ := g.Node("d")
	n.Needs[0] = "x"
	g.Edges()[0].From = "x"
	g.Waves()[0][0] = "x"
	if got := g.Order()[0]; got != "c" {
		t.Errorf("Order()[0] = %q after modifying a copy", got)
	}
	if n, _ := g.Node("d"); n.Needs[0] != "b" {
		t.Errorf("Node(d).Needs = %v after modifying a copy", n.Needs)
	}
	if got := g.Edges()[0].From; got != "c" {
		t.Errorf("Edges()[0].From = %q after modifying a copy", got)
	}
}

// IndexEdges is Edges with names turned into Order positions, on the
// default graph and on a selection of it (which is built anew).
func TestIndexEdgesAreEdges(t *testing.T) {
	full := mustBuild(t, defaultNodes())
	sel, err := full.Select("", "diff,claude-config")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*Graph{full, sel} {
		order, edges, ix := g.Order(), g.Edges(), slices.Collect(g.IndexEdges())
		if len(ix) != len(edges) || len(ix) == 0 {
			t.Fatalf("%d index edges for %d edges", len(ix), len(edges))
		}
		for i, e := range edges {
			if x := ix[i]; order[x.From] != e.From || order[x.To] != e.To || x.Kind != e.Kind {
				t.Errorf("IndexEdges()[%d] = %v (%s → %s), Edges()[%d] = %v", i, x, order[x.From], order[x.To], i, e)
			}
		}
	}
}

func TestEmptyGraph(t *testing.T) {
	for _, g := range []*Graph{mustBuild(t, nil), {}} {
		if g.Len() != 0 || len(g.Order()) != 0 || len(g.Nodes()) != 0 || len(g.Edges()) != 0 ||
			len(g.Groups()) != 0 || len(g.Waves()) != 0 {
			t.Errorf("empty graph is not empty: %+v", g)
		}
		if path, total := g.CriticalPath(func(string) time.Duration { return 1 }); path != nil || total != 0 {
			t.Errorf("CriticalPath = %v, %v", path, total)
		}
	}
}

// Readers share one graph; run with -race.
func TestConcurrentReads(t *testing.T) {
	g := defaultGraph(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				g.Order()
				g.Nodes()
				g.Edges()
				g.Waves()
				g.Groups()
				g.Prereqs("accept")
				g.Dependents("activate")
				g.Node("build")
				g.LongestToEnd(func(string) time.Duration { return 1 })
				if _, err := g.Select("claude", "sessions"); err != nil {
					t.Error(err)
				}
				if err := g.WriteJSON(discard{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
