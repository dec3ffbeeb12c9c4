package dag

import (
	"container/heap"
	"slices"

	"github.com/dominikbraun/graph"
)

// kahn returns the topological order of the graph in which, whenever several
// tasks are ready, the one given earliest to Build comes first: the same
// input always gives the same order, and an input already in topological
// order is returned unchanged. It returns fewer names than given when the
// graph has a cycle. O((V+E) log V).
func kahn(names []string, pos map[string]int, adj, pred map[string]map[string]graph.Edge[string]) []string {
	indeg := make([]int, len(names))
	ready := &intHeap{}
	for i, name := range names {
		indeg[i] = len(pred[name])
		if indeg[i] == 0 {
			*ready = append(*ready, i)
		}
	}
	heap.Init(ready)
	order := make([]string, 0, len(names))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, names[i])
		// Map order does not leak: the heap orders by input position.
		for next := range adj[names[i]] {
			j := pos[next]
			indeg[j]--
			if indeg[j] == 0 {
				heap.Push(ready, j)
			}
		}
	}
	return order
}

// intHeap is a min-heap of input positions.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Order returns every task name in a stable topological order (Kahn's
// algorithm): a task comes after all its prerequisites, and among tasks
// that are ready at the same time the one given earlier to Build comes
// first. Computed once in Build; this call is O(V).
func (g *Graph) Order() []string {
	return slices.Clone(g.order)
}

// Waves groups the tasks by depth: wave i holds the tasks whose longest
// chain of prerequisites (needs and after alike) has i edges, each wave in
// Order. Every task's prerequisites are in earlier waves, so a wave is a set
// of tasks that could all run at once. Computed once in Build; this call is
// O(V).
func (g *Graph) Waves() [][]string {
	out := make([][]string, len(g.waves))
	for i, w := range g.waves {
		out[i] = slices.Clone(w)
	}
	return out
}
