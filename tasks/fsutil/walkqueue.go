package fsutil

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxHeldDirs bounds how many folders a walk keeps open for their
// subfolders to be opened relative to them (see heldDir). Past it, a
// folder is closed once listed and its subfolders are opened by path, as
// a deep chain of folders would otherwise hold one descriptor per level.
// Going deep first, a walk holds few: 3 with one worker, 8 with eight on
// bench/walk's tree of 200,000 files. Several walks may run at once in
// one process (the disk task sizes its roots in parallel), so the bound
// stays small.
const maxHeldDirs = 64

// dirJob is a folder a walk has admitted and not yet read: its entry and
// the folder it was listed in, held open to open it relative to (nil: it
// is opened by its path).
type dirJob struct {
	d      *Entry
	parent *heldDir
}

// heldDir is a listed folder kept open until each of its admitted
// subfolders has been opened relative to it: one openat of one name
// instead of resolving the whole path again from the root, and no
// component of the path above it can be swapped for a symlink in between.
type heldDir struct {
	fd    int
	refs  atomic.Int32  // subfolders not yet opened
	count *atomic.Int32 // the walk's number of held folders
}

// release is called once per subfolder, opened or given up; the last one
// closes the folder.
func (h *heldDir) release() {
	if h.refs.Add(-1) == 0 {
		unix.Close(h.fd)
		h.count.Add(-1)
	}
}

// dirQueue hands folders to a walk's workers: one shared stack, last in
// first out, so the walk goes deep first and the stack and the held
// folders stay few. A worker gives back its folder's subfolders and takes
// its next folder in one locked step; an idle worker sleeps until there
// is work or the walk is over, which is when the stack is empty and no
// worker holds a folder (that could still add to it).
type dirQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	jobs    []dirJob
	busy    int // workers reading a folder
	waiting int // workers asleep in next
	over    bool
}

func newDirQueue(first dirJob) *dirQueue {
	q := &dirQueue{jobs: []dirJob{first}}
	q.cond.L = &q.mu
	return q
}

// next pushes add, the subfolders of the folder the caller finished (done
// says it had one), and pops the caller's next folder; false when the
// walk is over.
func (q *dirQueue) next(add []dirJob, done bool) (dirJob, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if done {
		q.busy--
	}
	q.jobs = append(q.jobs, add...)
	// Wake a sleeping worker for each folder beyond the one this worker
	// takes itself: waking costs a futex call, so not more.
	for range min(q.waiting, len(q.jobs)-1) {
		q.cond.Signal()
	}
	for len(q.jobs) == 0 && !q.over {
		if q.busy == 0 {
			q.over = true
			q.cond.Broadcast()
			break
		}
		q.waiting++
		q.cond.Wait()
		q.waiting--
	}
	if q.over {
		return dirJob{}, false
	}
	j := q.jobs[len(q.jobs)-1]
	q.jobs[len(q.jobs)-1] = dirJob{}
	q.jobs = q.jobs[:len(q.jobs)-1]
	q.busy++
	return j, true
}

// stop ends the walk early, a worker having panicked: the others return
// from next, and the folders still queued are left for drain.
func (q *dirQueue) stop() {
	q.mu.Lock()
	q.over = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// drain releases the held folders of the jobs left in the queue once
// every worker is gone, so a stopped walk closes what it opened.
func (q *dirQueue) drain() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range q.jobs {
		if j.parent != nil {
			j.parent.release()
		}
	}
	q.jobs = nil
}
