package schedule

import "container/heap"

// queue holds the runnable tasks, best first (see before). Popping is
// O(log n), so a graph of ten thousand tasks is not re-sorted at every
// completion.
type queue []*task

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return before(q[i], q[j]) }
func (q queue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)        { *q = append(*q, x.(*task)) }
func (q *queue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return t
}

func (q *queue) push(t *task) { heap.Push(q, t) }
func (q *queue) pop() *task   { return heap.Pop(q).(*task) }

// ttyWaiters counts runnable tasks that want the terminal by phase rank, so
// the lowest phase among them is found without scanning the queue.
type ttyWaiters map[int]int

func (w ttyWaiters) lowest() int {
	low := -1
	for s, n := range w {
		if n > 0 && (low < 0 || s < low) {
			low = s
		}
	}
	return low
}

// before orders runnable tasks: the longest remaining path first, so the
// critical chain never waits behind read-only work; then the phase order.
func before(a, b *task) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if sa, sb := phaseRank(a.spec.Phase), phaseRank(b.spec.Phase); sa != sb {
		return sa < sb
	}
	return a.index < b.index
}

// phaseRank sorts unnumbered tasks after the fourteen phases.
func phaseRank(phase int) int {
	if phase <= 0 {
		return 1000
	}
	return phase
}
