package dag

import (
	"fmt"
	"slices"

	"github.com/dominikbraun/graph"
)

// findCycle returns one whole cycle of a graph known to have one, first
// element repeated at the end. Of all tasks on a cycle it starts at the
// lexically smallest, and it is the shortest cycle through that task,
// following successors in lexical order on ties, so the answer is the same
// on every run. Requires at least one cycle. O((V+E) log V).
func findCycle(lg graph.Graph[string, Node], adj map[string]map[string]graph.Edge[string]) ([]string, error) {
	sccs, err := graph.StronglyConnectedComponents(lg)
	if err != nil {
		return nil, fmt.Errorf("dag: strongly connected components: %w", err)
	}
	var start string
	var comp map[string]bool
	for _, c := range sccs {
		if len(c) == 1 {
			if _, self := adj[c[0]][c[0]]; !self {
				continue
			}
		}
		if m := slices.Min(c); comp == nil || m < start {
			start = m
			comp = make(map[string]bool, len(c))
			for _, v := range c {
				comp[v] = true
			}
		}
	}
	if comp == nil {
		return nil, fmt.Errorf("dag: no cycle found in a graph Kahn could not order")
	}

	// Breadth-first from start inside its component until an edge leads
	// back to start.
	parent := map[string]string{start: ""}
	queue := []string{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		var next []string
		for s := range adj[v] {
			if comp[s] {
				next = append(next, s)
			}
		}
		slices.Sort(next)
		for _, s := range next {
			if s == start {
				path := []string{v}
				for x := v; x != start; {
					x = parent[x]
					path = append(path, x)
				}
				slices.Reverse(path)
				return append(path, start), nil
			}
			if _, seen := parent[s]; !seen {
				parent[s] = v
				queue = append(queue, s)
			}
		}
	}
	return nil, fmt.Errorf("dag: no cycle through %q", start)
}
