package schedule

import "slices"

// measuredPath is the run's critical path as it happened, not as it was
// estimated: the chain of tasks that set the wall time. It starts at the
// task that finished last among those that did something, and walks back
// along the edges, each step to the prerequisite that finished last: the
// one the task really waited for. Tasks that did nothing (never started,
// or skipped: they decided there was nothing to do) are never named; the
// walk looks through them to their own prerequisites. Ties go to the
// later task in topological order. O(V+E) per step, on the tasks' links:
// no name is looked up.
func (w *walker) measuredPath() []string {
	var last *task
	for i := range w.tasks {
		if t := &w.tasks[i]; t.counts() && t.endsAfter(last) {
			last = t
		}
	}
	if last == nil {
		return nil
	}
	path := []string{last.name}
	// seen[i] == step: task i was looked at in this step.
	seen := make([]int32, len(w.tasks))
	var stack []*task
	for cur, step := last, int32(1); ; step++ {
		var prev *task
		stack = append(stack[:0], cur)
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, e := range n.prereqs {
				p := e.t
				if seen[p.index] == step {
					continue
				}
				seen[p.index] = step
				if !p.counts() {
					stack = append(stack, p)
				} else if p.endsAfter(prev) {
					prev = p
				}
			}
		}
		if prev == nil {
			break
		}
		path = append(path, prev.name)
		cur = prev
	}
	slices.Reverse(path)
	return path
}

// counts says whether t did something: it was started, and it did not
// decide that there was nothing to do.
func (t *task) counts() bool {
	r := t.res
	return r != nil && t.started && r.State != Skipped && r.State != UpstreamFailed
}

// endsAfter says whether t ended after u (ties: the later in Order); u
// may be nil.
func (t *task) endsAfter(u *task) bool {
	if u == nil {
		return true
	}
	if et, eu := t.res.Start.Add(t.res.Duration), u.res.Start.Add(u.res.Duration); !et.Equal(eu) {
		return et.After(eu)
	}
	return t.index > u.index
}
