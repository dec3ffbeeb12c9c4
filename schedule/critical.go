package schedule

import (
	"time"

	"github.com/rebuild-nixos/rebuild/dag"
)

// measuredPath is the run's critical path as it happened, not as it was
// estimated: the chain of tasks that set the wall time. It starts at the
// task that finished last among those that did something, and walks back
// along the edges, each step to the prerequisite that finished last: the
// one the task really waited for. Tasks that did nothing (never started,
// or skipped: they decided there was nothing to do) are never named; the
// walk looks through them to their own prerequisites. ran reports whether
// a task was started. Ties go to the later task in topological order.
// O(V+E) per step.
func measuredPath(g *dag.Graph, sum *Summary, ran func(string) bool) []string {
	index := make(map[string]int, len(sum.Order))
	for i, n := range sum.Order {
		index[n] = i
	}
	counts := func(n string) bool {
		r := sum.Results[n]
		return r != nil && ran(n) && r.State != Skipped && r.State != UpstreamFailed
	}
	end := func(n string) time.Time { r := sum.Results[n]; return r.Start.Add(r.Duration) }
	later := func(a, b string) bool { // a ended after b (b may be "")
		if b == "" {
			return true
		}
		if ea, eb := end(a), end(b); !ea.Equal(eb) {
			return ea.After(eb)
		}
		return index[a] > index[b]
	}

	last := ""
	for _, n := range sum.Order {
		if counts(n) && later(n, last) {
			last = n
		}
	}
	if last == "" {
		return nil
	}
	path := []string{last}
	for cur := last; ; {
		prev := ""
		seen := map[string]bool{}
		var look func(n string)
		look = func(n string) {
			for _, e := range g.Prereqs(n) {
				p := e.From
				if seen[p] {
					continue
				}
				seen[p] = true
				if !counts(p) {
					look(p)
				} else if later(p, prev) {
					prev = p
				}
			}
		}
		look(cur)
		if prev == "" {
			break
		}
		path = append(path, prev)
		cur = prev
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}
