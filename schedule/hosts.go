package schedule

// Parallel hosts. In a run over several hosts, Options.ParallelHosts
// bounds how many hosts are at work at once, besides Jobs: a host is at
// work from the start of one of its tasks (Spec.Host) until none of its
// tasks is running or runnable. A host's chain so keeps its place from
// one task to the next (copy@web1 is runnable the moment build@web1 ends,
// and takes no new place), and within its place its tasks run side by
// side as Jobs allows: a host is never serialised. A host whose next task
// waits for something outside it (another host's gate in a one-by-one
// rollout, a task of the whole run) gives its place up meanwhile: a host
// at work always has a task running or runnable, so the bound can never
// keep the run from ending. A runnable task of a host not at work waits,
// without a job slot, until a place is free; the run's own tasks are
// never bounded.

// hostSlots are the hosts of a run and how many are at work.
type hostSlots struct {
	limit  int              // Options.ParallelHosts; 0: no bound
	byName map[string]int32 // host → index in slots
	slots  []hostSlot
	busy   int // hosts at work
}

// hostSlot is one host.
type hostSlot struct {
	running, queued int // its tasks running, and runnable not yet started
	atWork          bool
}

// index returns the slot of host, made on first sight; -1 for a task of
// the whole run, or when the hosts are not bounded (the walk then does
// nothing of this for any task).
func (h *hostSlots) index(host string, limit int) int32 {
	if host == "" || limit <= 0 {
		return -1
	}
	if i, ok := h.byName[host]; ok {
		return i
	}
	if h.byName == nil {
		h.byName = map[string]int32{}
	}
	i := int32(len(h.slots))
	h.byName[host] = i
	h.slots = append(h.slots, hostSlot{})
	return i
}

// admit reports whether a task of host i may start: its host is at work,
// or there is room for one more.
func (h *hostSlots) admit(i int32) bool {
	s := &h.slots[i]
	if s.atWork {
		return true
	}
	if h.busy >= h.limit {
		return false
	}
	s.atWork = true
	h.busy++
	return true
}

// started counts a task of host i that starts.
func (h *hostSlots) started(i int32) {
	h.slots[i].queued--
	h.slots[i].running++
}

// ended counts a task of host i that ended, once its dependents that
// became runnable are counted: with nothing running or runnable, the
// host gives its place up.
func (h *hostSlots) ended(i int32) {
	s := &h.slots[i]
	s.running--
	if s.running == 0 && s.queued == 0 && s.atWork {
		s.atWork = false
		h.busy--
	}
}
