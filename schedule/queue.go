package schedule

// queue holds the runnable tasks, best first: the longest remaining path
// first, so the critical chain never waits behind read-only work; then
// the phase order, then the Order. It is a binary heap. Popping is O(log n), so a graph of ten thousand tasks is not
// re-sorted at every completion; the heap holds each task's sort key
// beside its index, so ordering it reads no task.
type queue struct {
	items []qitem
}

// qitem is a runnable task's place in the queue: its key, and its index
// in the walker's tasks.
type qitem struct {
	prio  int64  // the longest remaining path: the larger first
	tie   uint64 // the phase rank, then the Order index: the smaller first
	index int32
}

// key is t's place in the queue.
func key(t *task) qitem {
	return qitem{prio: int64(t.prio), tie: uint64(t.rank)<<32 | uint64(uint32(t.index)), index: int32(t.index)}
}

func (a qitem) less(b qitem) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	return a.tie < b.tie
}

func (q *queue) Len() int { return len(q.items) }

func (q *queue) push(t *task) {
	q.items = append(q.items, key(t))
	// Up: the new item rises past every parent it comes before.
	h := q.items
	j := len(h) - 1
	for j > 0 {
		i := (j - 1) / 2
		if !h[j].less(h[i]) {
			break
		}
		h[i], h[j] = h[j], h[i]
		j = i
	}
}

// pop removes the best item and returns its task's index.
func (q *queue) pop() int32 {
	h := q.items
	n := len(h) - 1
	best := h[0]
	h[0] = h[n]
	h = h[:n]
	// Down: the moved item sinks below every child that comes before it.
	for i := 0; ; {
		j := 2*i + 1
		if j >= n {
			break
		}
		if k := j + 1; k < n && h[k].less(h[j]) {
			j = k
		}
		if !h[j].less(h[i]) {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
	q.items = h
	return best.index
}

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

// phaseRank sorts unnumbered tasks after the fourteen phases.
func phaseRank(phase int) int {
	if phase <= 0 {
		return 1000
	}
	return phase
}
