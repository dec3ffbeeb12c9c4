package dag

import "time"

// LongestToEnd returns, for every task, the largest sum of durations along
// any path that starts at that task (its own duration included) and runs to
// a sink. The scheduler starts the runnable task with the largest value
// first, so the critical chain never waits behind side work.
//
// dur must be non-nil and return a non-negative duration; it is called
// exactly once per task, in reverse Order. O(V+E).
func (g *Graph) LongestToEnd(dur func(name string) time.Duration) map[string]time.Duration {
	long := make(map[string]time.Duration, len(g.order))
	for i := len(g.order) - 1; i >= 0; i-- {
		name := g.order[i]
		var rest time.Duration
		for _, e := range g.out[name] {
			rest = max(rest, long[e.To])
		}
		long[name] = dur(name) + rest
	}
	return long
}

// CriticalPath returns the path with the largest total duration, from a
// task to a sink, and that total. Of several such paths it returns the one
// that comes first when their tasks are compared by Order index, step by
// step. An empty graph gives nil and 0.
//
// dur has the preconditions of LongestToEnd. O(V+E).
func (g *Graph) CriticalPath(dur func(name string) time.Duration) ([]string, time.Duration) {
	if len(g.order) == 0 {
		return nil, 0
	}
	long := g.LongestToEnd(dur)
	start := g.order[0]
	for _, name := range g.order[1:] {
		if long[name] > long[start] {
			start = name
		}
	}
	total := long[start]
	path := []string{start}
	for v := start; len(g.out[v]) > 0; {
		// The tail of a longest path is a longest path from the next task;
		// out is sorted by Order, so the first maximum is the earliest.
		next := g.out[v][0].To
		for _, e := range g.out[v][1:] {
			if long[e.To] > long[next] {
				next = e.To
			}
		}
		path = append(path, next)
		v = next
	}
	return path, total
}
