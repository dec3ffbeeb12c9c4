package proc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// What a command leaves behind.
//
// A command's process group is killed when the command ends, but a
// process that left the group (setsid, a daemon) survived it, the task's
// timeout, and the run. Two things catch those now:
//
//   - Every command gets a token in its environment (tokenVar), which its
//     descendants inherit whatever group or session they move to. When the
//     command has ended, every process still carrying its token is killed
//     (through a pidfd, so a recycled pid is never hit). A process that
//     empties its environment (env -i, sudo's env_reset) is not found.
//   - rebuild is a child subreaper (BecomeSubreaper, from main), so such
//     an orphan is re-parented to rebuild, not to init: it stays in
//     rebuild's tree, and the Runner reaps it once it is dead — the ones
//     it kills, and any other orphan that became a zombie of rebuild's —
//     taking care never to take the exit status of a command os/exec
//     waits for (every child of the process must come from one Runner).
//
// For `kill -9` of rebuild itself, commands get PR_SET_PDEATHSIG SIGTERM
// (see deathSignal): the command — not its own children, which the kernel
// does not follow — is told that rebuild is gone. Commands that need root
// (activation, rollback, deleting generations) are left running: a
// half-switched system is worse than an orphan finishing its work.

// tokenVar names the environment variable that marks a command's
// processes. It does not start with REBUILD_: a rebuild run by a task
// would read that as configuration.
const tokenVar = "_REBUILD_PROC"

// BecomeSubreaper makes the calling process a child subreaper
// (PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to it
// rather than to init, so a Runner with Subreaper set can reap the ones it
// kills. Call it once, from main.
func BecomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// newToken returns a random token for one command.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// deathSignal is the signal a command gets when rebuild dies: SIGTERM, or
// 0 (none) for a command that must outlive it (see above) or is attached
// to the terminal.
func deathSignal(c Cmd) unix.Signal {
	if c.Root || c.Terminal != nil {
		return 0
	}
	return unix.SIGTERM
}

// killEscaped kills every process but ours that carries one of tokens in
// its environment: what finished commands left behind. With reap (rebuild
// is a subreaper, so they are re-parented to it) it also waits, up to
// wait, for the ones that became its children. It returns the pids it
// killed.
func killEscaped(tokens []string, reap bool, wait time.Duration) []int {
	needles := tokenNeedles(tokens)
	p, err := openProc()
	if err != nil {
		return nil
	}
	defer p.close()
	pids, err := p.pids()
	if err != nil {
		return nil
	}
	me := os.Getpid()
	var killed []int
	var fds []int
	for _, pid := range pids {
		if pid == me {
			continue
		}
		// Most processes are not ours to kill: their environment alone
		// says so, without a pidfd.
		if env, err := p.readFile(pid, "environ"); err != nil || !carries(env, needles) {
			continue
		}
		// The pidfd, then the environment again: the one read now is that
		// of the process the pidfd holds, or of none (it died), never of
		// a process that took over a recycled pid.
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		if env, err := p.readFile(pid, "environ"); err != nil || !carries(env, needles) {
			unix.Close(fd)
			continue
		}
		if unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) != nil {
			unix.Close(fd)
			continue
		}
		killed = append(killed, pid)
		fds = append(fds, fd)
	}
	if reap {
		reapAll(fds, wait)
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	return killed
}

// tokenNeedles are what marks the processes of tokens' commands in an
// environ: "\x00_REBUILD_PROC=<token>\x00" each (see carries).
func tokenNeedles(tokens []string) [][]byte {
	needles := make([][]byte, len(tokens))
	for i, t := range tokens {
		needles[i] = []byte("\x00" + tokenVar + "=" + t + "\x00")
	}
	return needles
}

// reapAll waits for the processes behind fds that are (or become, when
// their parent dies) our children, polling for up to wait. Waiting on the
// pidfd never takes the exit status of a child os/exec is waiting for.
func reapAll(fds []int, wait time.Duration) {
	pending := append([]int(nil), fds...)
	deadline := time.Now().Add(wait)
	for len(pending) > 0 {
		left := pending[:0]
		for _, fd := range pending {
			var info unix.Siginfo
			err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, nil)
			if err == nil && info.Signo != 0 {
				continue // reaped
			}
			if err != nil && !errors.Is(err, unix.ECHILD) && !errors.Is(err, unix.EINTR) {
				continue // cannot be waited for here
			}
			left = append(left, fd) // not dead yet, or not (yet) our child
		}
		pending = left
		if len(pending) == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// children are the commands a Runner has started and os/exec still waits
// for. Starting takes start for reading, reaping orphans for writing, so
// a child that exits the moment it is started is registered before any
// reaper can mistake its zombie for an orphan's.
type children struct {
	start sync.RWMutex
	mu    sync.Mutex
	live  map[int]bool
	// lists reads this process's children for the passes (sweep.go),
	// under start.
	lists childLists
}

func (c *children) add(pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live == nil {
		c.live = map[int]bool{}
	}
	c.live[pid] = true
}

func (c *children) remove(pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.live, pid)
}

func (c *children) has(pid int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live[pid]
}

// reapOrphans waits for every zombie child of this process that is not a
// command os/exec waits for: orphans re-parented to a subreaper. The
// children are those /proc lists for each of our threads, or, on a kernel
// that lists none, every process whose parent we are.
func (c *children) reapOrphans() {
	c.start.Lock()
	defer c.start.Unlock()
	p, err := openProc()
	if err != nil {
		return
	}
	defer p.close()
	me := os.Getpid()
	pids, ok := c.lists.read(p, me)
	if !ok {
		if pids, err = p.pids(); err != nil {
			return
		}
	}
	for _, pid := range pids {
		if pid == me || c.has(pid) {
			continue
		}
		ppid, state, ok := p.stat(pid)
		if !ok || ppid != me || state != 'Z' {
			continue
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
}
