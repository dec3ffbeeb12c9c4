package proc

import (
	"os"
	"slices"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The sweep after each command (reap.go) costs a pass over every process
// of the machine, a few system calls each: for a command as short as
// /bin/true that pass was most of what running it cost. Two things make
// it cheap without making it weaker:
//
//   - Commands that end together share one pass (sweeps): a command's Run
//     returns once a pass that began after the command's group was killed
//     has looked for its token, which is what a pass of its own gave.
//   - As a subreaper, rebuild can tell that a pass would find nothing
//     (nothingEscaped), and skip it.
//
// Why the second holds: every process a command started is, while alive,
// in rebuild's tree — an orphan is re-parented to the nearest subreaper
// above it, and rebuild is above all of them. Its topmost ancestor below
// rebuild is a child of rebuild that the command's tree left behind (the
// command itself has been waited for), never another live command:
// re-parenting only goes up, and a command's processes descend from it
// alone. So when nothing under rebuild's children but under its live
// commands carries one of the tokens, and every environment there could
// be read, a pass would find nothing of theirs. A process being torn down
// has no environment to read: then, or whenever /proc does not list
// children, the pass runs. Usually rebuild has no child but its live
// commands, and the look costs a read of its threads' children lists.

// sweeps coalesces the passes of a Runner: at most one runs at a time,
// and the commands that end meanwhile wait together for the next one.
type sweeps struct {
	mu      sync.Mutex
	current *sweepBatch // the pass under way; nil when none
	next    *sweepBatch // tokens gathering for the pass after it
}

// sweepBatch is the tokens one pass looks for; done is closed after it.
type sweepBatch struct {
	tokens []string
	done   chan struct{}
}

// sweep returns once a pass that began after the call has killed what
// carries token (and, as a subreaper, reaped orphans).
func (r *Runner) sweep(token string) { r.sweeps.sweep(token, r.pass) }

// sweep returns once a call of pass that began after it has been given
// token, with the tokens of the others that came meanwhile. The caller
// that opens a batch makes that call, once the one under way is done.
func (s *sweeps) sweep(token string, pass func(tokens []string)) {
	s.mu.Lock()
	b := s.next
	lead := b == nil
	if lead {
		b = &sweepBatch{done: make(chan struct{})}
		s.next = b
	}
	b.tokens = append(b.tokens, token)
	prev := s.current
	s.mu.Unlock()
	if !lead {
		<-b.done
		return
	}
	if prev != nil {
		<-prev.done
	}
	s.mu.Lock()
	s.next, s.current = nil, b
	tokens := b.tokens
	s.mu.Unlock()

	pass(tokens)

	s.mu.Lock()
	if s.current == b {
		s.current = nil
	}
	s.mu.Unlock()
	close(b.done)
}

// pass kills what carries one of tokens and, as a subreaper, reaps
// orphans; as a subreaper it first looks whether there can be anything to
// kill, and stops there if not.
func (r *Runner) pass(tokens []string) {
	wait := min(r.grace(), time.Second)
	if r.Subreaper && r.kids.nothingEscaped(tokens) {
		r.passes.skipped++
		return
	}
	r.passes.full++
	killEscaped(tokens, r.Subreaper, wait)
	if r.Subreaper {
		r.kids.reapOrphans()
	}
}

// passCounts says how the passes went: tests look at it to see that the
// cheap way was taken, and when.
type passCounts struct{ full, skipped int }

// nothingEscaped reports whether this process is a subreaper and nothing
// under its children but the live commands carries one of tokens, every
// environment there read (see above). Zombie children that are not live
// commands are reaped on the way, as reapOrphans does; their own children
// were re-parented before they died, so the children are read again
// after, and once more at the end to see that none came meanwhile. It
// holds start, so that no command starts meanwhile.
func (c *children) nothingEscaped(tokens []string) bool {
	var sub int32
	if unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&sub)), 0, 0, 0) != nil || sub == 0 {
		return false // orphans go elsewhere: only a pass finds them
	}
	c.start.Lock()
	defer c.start.Unlock()
	p, err := openProc()
	if err != nil {
		return false
	}
	defer p.close()
	needles := tokenNeedles(tokens)
	me := os.Getpid()
	for range 3 {
		kids, ok := c.lists.read(p, me)
		if !ok {
			return false
		}
		reaped := false
		var under []int // the non-command children, then what is under them
		for _, pid := range kids {
			if c.has(pid) {
				continue
			}
			if env, err := p.readFile(pid, "environ"); err == nil && len(env) > 0 {
				if carries(env, needles) {
					return false
				}
				under = append(under, pid)
				continue
			}
			ppid, state, ok := p.stat(pid)
			if !ok || ppid != me || state != 'Z' {
				return false // being torn down, or not ours to read
			}
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			reaped = true
		}
		if reaped {
			continue
		}
		// A process may hide its environment (written over for its
		// title) while what it starts carries the token: what is under
		// a child is read too. A zombie there has handed its children
		// up already; anything else without an environment cannot be
		// told.
		for len(under) > 0 {
			pid := under[len(under)-1]
			under = under[:len(under)-1]
			grand, ok := p.children(pid)
			if !ok {
				return false
			}
			for _, g := range grand {
				if env, err := p.readFile(g, "environ"); err == nil && len(env) > 0 {
					if carries(env, needles) {
						return false
					}
					under = append(under, g)
					continue
				}
				if _, state, ok := p.stat(g); !ok || state != 'Z' {
					return false
				}
			}
		}
		// What came up meanwhile (its parent under a child died) was
		// read nowhere.
		again, ok := c.lists.read(p, me)
		if !ok {
			return false
		}
		for _, pid := range again {
			if !slices.Contains(kids, pid) && !c.has(pid) {
				return false
			}
		}
		return true
	}
	return false
}
