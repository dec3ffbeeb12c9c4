package dag

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Building the same input again and again gives the same graph, byte for
// byte, whatever the map order inside.
func TestOrderStable(t *testing.T) {
	var first string
	for i := range 50 {
		g := defaultGraph(t)
		var b strings.Builder
		b.WriteString(strings.Join(g.Order(), " "))
		for _, e := range g.Edges() {
			b.WriteString(" " + e.From + ">" + e.To + ":" + e.Kind.String())
		}
		if err := g.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = b.String()
		} else if b.String() != first {
			t.Fatalf("build %d differs:\n%s\nfirst:\n%s", i, b.String(), first)
		}
	}
}

// Ties go to the task given first, at every step, not only among roots:
//
//	r ─▶ x
//	r ─▶ y
//	z
//
// given as z, y, r, x: z and r are ready at once (z first), then y before x.
func TestOrderTiesByInput(t *testing.T) {
	g := mustBuild(t, []Node{
		{Name: "z"},
		{Name: "y", Needs: []string{"r"}},
		{Name: "r"},
		{Name: "x", After: []string{"r"}},
	})
	if got, want := g.Order(), []string{"z", "r", "y", "x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Order() = %v, want %v", got, want)
	}
}

// The default graph is given in phase order, which is already topological,
// so Order keeps it.
func TestOrderDefaultGraph(t *testing.T) {
	var want []string
	for _, n := range defaultNodes() {
		want = append(want, n.Name)
	}
	if got := defaultGraph(t).Order(); !reflect.DeepEqual(got, want) {
		t.Errorf("Order() =\n%v\nwant\n%v", got, want)
	}
}

// Waves count the longest chain of prerequisites, after edges included:
//
//	a ─▶ b ─▶ c
//	a ┄┄┄┄┄┄┄▶ c ┄┄▶ d
//	e
func TestWaves(t *testing.T) {
	g := mustBuild(t, []Node{
		{Name: "a"},
		{Name: "b", Needs: []string{"a"}},
		{Name: "c", Needs: []string{"b"}, After: []string{"a"}},
		{Name: "d", After: []string{"c"}},
		{Name: "e"},
	})
	want := [][]string{{"a", "e"}, {"b"}, {"c"}, {"d"}}
	if got := g.Waves(); !reflect.DeepEqual(got, want) {
		t.Errorf("Waves() = %v, want %v", got, want)
	}
}

func TestWavesDefaultGraph(t *testing.T) {
	want := [][]string{
		{"flake-update", "learn-permissions", "learn-mcp", "learn-context", "learn-workflows",
			"learn-instructions", "learn-cross-project", "learn-meta", "disk", "caches"},
		{"build", "learn-review"},
		{"diff"},
		{"activate"},
		{"claude-config", "accept"},
		{"mcp-analytics", "tool-analytics", "generations", "backups"},
		{"commit", "sessions"},
		{"push"},
	}
	if got := defaultGraph(t).Waves(); !reflect.DeepEqual(got, want) {
		t.Errorf("Waves() =\n%v\nwant\n%v", got, want)
	}
}

// Over random DAGs, Order is a topological order of exactly the input
// tasks, and it is the one a naive Kahn that always takes the earliest
// given ready task would give. Waves agree with the edges.
func TestOrderProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		nodes := randomDAG(r)
		g := mustBuild(t, nodes)
		order := g.Order()

		var names []string
		for _, n := range nodes {
			names = append(names, n.Name)
		}
		if got, want := slices.Sorted(slices.Values(order)), slices.Sorted(slices.Values(names)); !reflect.DeepEqual(got, want) {
			t.Fatalf("graph %d: Order() %v is not a permutation of %v", i, order, names)
		}
		index := map[string]int{}
		for j, name := range order {
			index[name] = j
		}
		for _, e := range g.Edges() {
			if index[e.From] >= index[e.To] {
				t.Fatalf("graph %d: edge %v goes backwards in %v", i, e, order)
			}
		}
		if want := naiveKahn(nodes); !reflect.DeepEqual(order, want) {
			t.Fatalf("graph %d: Order() = %v, naive Kahn gives %v", i, order, want)
		}

		wave := map[string]int{}
		for w, names := range g.Waves() {
			for _, name := range names {
				wave[name] = w
			}
		}
		for _, name := range order {
			deepest := -1
			for _, e := range g.Prereqs(name) {
				deepest = max(deepest, wave[e.From])
			}
			if wave[name] != deepest+1 {
				t.Fatalf("graph %d: %s in wave %d, its deepest prerequisite in %d", i, name, wave[name], deepest)
			}
		}
	}
}

// naiveKahn is Kahn's algorithm in O(V²·E): at each step, take the first
// given task whose prerequisites are all placed.
func naiveKahn(nodes []Node) []string {
	placed := map[string]bool{}
	var order []string
	for len(order) < len(nodes) {
		for _, n := range nodes {
			if placed[n.Name] {
				continue
			}
			ready := true
			for _, p := range append(slices.Clone(n.Needs), n.After...) {
				ready = ready && placed[p]
			}
			if ready {
				placed[n.Name] = true
				order = append(order, n.Name)
				break
			}
		}
	}
	return order
}
