package dag

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// Build and Select work on input positions and take short cuts; these
// tests hold them to plain, slow implementations of what their comments
// promise, on random graphs.

// referenceOrder is Build's order the slow way: again and again, the
// earliest given task whose prerequisites are all placed. O(V²·E).
func referenceOrder(nodes []Node) []string {
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

// referenceEdges is Build's edges the slow way: one per pair, needs
// when the pair is joined by a needs edge, sorted by To then From in
// order.
func referenceEdges(nodes []Node, order []string) []Edge {
	at := func(name string) int { return slices.Index(order, name) }
	var edges []Edge
	for _, n := range nodes {
		kinds := map[string]EdgeKind{}
		for _, p := range n.After {
			kinds[p] = After
		}
		for _, p := range n.Needs {
			kinds[p] = Needs
		}
		for p, k := range kinds {
			edges = append(edges, Edge{From: p, To: n.Name, Kind: k})
		}
	}
	slices.SortFunc(edges, func(a, b Edge) int {
		if d := at(a.To) - at(b.To); d != 0 {
			return d
		}
		return at(a.From) - at(b.From)
	})
	return edges
}

// referenceWaves groups order by the longest chain of prerequisites.
func referenceWaves(order []string, edges []Edge) [][]string {
	level := map[string]int{}
	var waves [][]string
	for _, name := range order {
		for _, e := range edges {
			if e.To == name {
				level[name] = max(level[name], level[e.From]+1)
			}
		}
		if level[name] == len(waves) {
			waves = append(waves, nil)
		}
		waves[level[name]] = append(waves[level[name]], name)
	}
	return waves
}

// randomNodes is randomDAG, and now and then a larger one with per-host
// instances, so that every shape Build meets is drawn.
func randomNodes(r *rand.Rand, i int) []Node {
	if i%10 != 0 {
		return randomDAG(r)
	}
	n := 20 + r.IntN(60)
	nodes := make([]Node, n)
	for j := range nodes {
		nodes[j].Name = fmt.Sprintf("t%d", j)
		if j%3 == 0 {
			nodes[j].Name = fmt.Sprintf("t%d@h%d", j, j%2)
		}
		nodes[j].Groups = []string{"g", "g"}[:r.IntN(3)]
		for range r.IntN(4) {
			if j == 0 {
				break
			}
			p := nodes[r.IntN(j)].Name
			if r.IntN(2) == 0 {
				nodes[j].Needs = append(nodes[j].Needs, p)
			} else {
				nodes[j].After = append(nodes[j].After, p)
			}
		}
	}
	r.Shuffle(n, func(a, b int) { nodes[a], nodes[b] = nodes[b], nodes[a] })
	return nodes
}

func TestBuildMatchesTheReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 300 {
		nodes := randomNodes(r, i)
		g := mustBuild(t, nodes)
		order := referenceOrder(nodes)
		edges := referenceEdges(nodes, order)
		if got := g.Order(); !slices.Equal(got, order) {
			t.Fatalf("graph %d: order %v, want %v", i, got, order)
		}
		if got := g.Edges(); !slices.Equal(got, edges) {
			t.Fatalf("graph %d: edges %v, want %v", i, got, edges)
		}
		if got, want := g.Waves(), referenceWaves(order, edges); !reflect.DeepEqual(got, want) {
			t.Fatalf("graph %d: waves %v, want %v", i, got, want)
		}
		for _, n := range g.Nodes() {
			var needs, after []string
			for _, e := range edges {
				if e.To == n.Name && e.Kind == Needs {
					needs = append(needs, e.From)
				} else if e.To == n.Name {
					after = append(after, e.From)
				}
			}
			if !slices.Equal(n.Needs, needs) || !slices.Equal(n.After, after) {
				t.Fatalf("graph %d: %s needs %v after %v, want %v and %v", i, n.Name, n.Needs, n.After, needs, after)
			}
		}
	}
}

// Selecting everything gives the graph itself; built again from it, as
// any other selection is, it is the same graph in every field.
func TestSelectEverythingIsTheGraph(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 200 {
		g := mustBuild(t, randomNodes(r, i))
		all := map[string]bool{}
		for _, name := range g.Order() {
			all[name] = true
		}
		slow, err := g.subgraph(all)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(slow, g) {
			t.Fatalf("graph %d: built again from every task it differs:\n%+v\n%+v", i, slow, g)
		}
		for _, only := range []string{"", joinNames(g.Order())} {
			if sub, err := g.Select(only, ""); err != nil || sub != g {
				t.Fatalf("graph %d: Select(%q) is not the graph (%v)", i, only, err)
			}
		}
	}
}

func joinNames(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ","
		}
		s += n
	}
	return s
}

// referenceNearest is nearestSelected's walk without its short cut, its
// answer sorted by scanning the whole order.
func referenceNearest(g *Graph, to string, keep map[string]bool) []prereq {
	type state struct {
		name  string
		needs bool
	}
	found := map[string]bool{}
	seen := map[state]bool{}
	stack := []state{{to, true}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range g.in[s.name] {
			next := state{e.From, s.needs && e.Kind == Needs}
			if keep[e.From] {
				found[e.From] = found[e.From] || next.needs
				continue
			}
			if !seen[next] {
				seen[next] = true
				stack = append(stack, next)
			}
		}
	}
	var out []prereq
	for _, name := range g.order {
		if needs, ok := found[name]; ok {
			out = append(out, prereq{name, needs})
		}
	}
	return out
}

func TestNearestSelectedMatchesTheWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 300 {
		g := mustBuild(t, randomNodes(r, i))
		keep := map[string]bool{}
		for _, name := range g.Order() {
			if r.IntN(3) > 0 {
				keep[name] = true
			}
		}
		for name := range keep {
			got, want := g.nearestSelected(name, keep), referenceNearest(g, name, keep)
			if len(got) != len(want) || len(got) > 0 && !reflect.DeepEqual(got, want) {
				t.Fatalf("graph %d, %s: nearest selected %v, want %v", i, name, got, want)
			}
		}
	}
}
