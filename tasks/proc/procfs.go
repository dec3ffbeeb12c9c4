package proc

import (
	"bytes"
	"errors"
	"strconv"

	"golang.org/x/sys/unix"
)

// Reading /proc after every command. A pass over every process reads a
// small file of each: through os.ReadFile that is eight system calls a
// process (open, the poller's registration and its undoing, fstat, two
// reads, close) and an allocation; here it is open, read, close, relative
// to one handle on /proc, into one buffer a pass reuses.

// procDir is an open /proc and the buffers of one pass over it. Not safe
// for concurrent use.
type procDir struct {
	fd   int
	buf  []byte // a file's content (readFile)
	path []byte // "<pid>/<file>", built in place
	ents []byte // getdents64 records
}

func openProc() (*procDir, error) {
	fd, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &procDir{fd: fd, buf: make([]byte, 8<<10)}, nil
}

func (p *procDir) close() { unix.Close(p.fd) }

// pids returns every process's pid, as /proc lists them.
func (p *procDir) pids() ([]int, error) {
	if _, err := unix.Seek(p.fd, 0, 0); err != nil {
		return nil, err
	}
	if p.ents == nil {
		p.ents = make([]byte, 32<<10)
	}
	var pids []int
	for {
		n, err := unix.Getdents(p.fd, p.ents)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return pids, nil
		}
		for b := p.ents[:n]; len(b) >= 19; {
			// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name.
			reclen := int(b[16]) | int(b[17])<<8
			if reclen < 19 || reclen > len(b) {
				break
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if pid, ok := atoiPid(name); ok {
				pids = append(pids, pid)
			}
			b = b[reclen:]
		}
	}
}

// atoiPid parses a /proc entry that is a pid: digits only.
func atoiPid(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n > 0
}

// readFile reads /proc/<pid>/<name> whole into the pass's buffer (valid
// until the next read). An error means the file could not be opened or
// read: the process is gone, or not ours to look at.
func (p *procDir) readFile(pid int, name string) ([]byte, error) {
	p.path = append(strconv.AppendInt(p.path[:0], int64(pid), 10), '/')
	p.path = append(p.path, name...)
	fd, err := unix.Openat(p.fd, string(p.path), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(p.buf) {
			p.buf = append(p.buf, make([]byte, len(p.buf))...)
		}
		k, err := unix.Read(fd, p.buf[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if k == 0 {
			return p.buf[:n], nil
		}
		n += k
	}
}

// carries reports whether env, a process's environ, holds one of needles,
// each "\x00KEY=VALUE\x00": as its first variable or after another.
func carries(env []byte, needles [][]byte) bool {
	for _, nd := range needles {
		if bytes.HasPrefix(env, nd[1:]) || bytes.Contains(env, nd) {
			return true
		}
	}
	return false
}

// children returns the pids of this process's children, every thread's
// (a command is the child of the thread that started it; an orphan is
// re-parented to one of them). ok is false when the kernel does not list
// children (CONFIG_PROC_CHILDREN) or /proc cannot be read.
func (p *procDir) children(me int) (kids []int, ok bool) {
	tasks, err := unix.Openat(p.fd, strconv.Itoa(me)+"/task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	sub := procDir{fd: tasks, ents: p.ents}
	tids, err := sub.pids()
	unix.Close(tasks)
	if err != nil || len(tids) == 0 {
		return nil, false
	}
	for _, tid := range tids {
		b, err := p.readFile(me, "task/"+strconv.Itoa(tid)+"/children")
		if err != nil {
			// The kernel lists no children, or the thread ended
			// meanwhile: its children went to another thread, perhaps
			// one already read. Either way the list is not whole.
			return nil, false
		}
		for _, f := range bytes.Fields(b) {
			if pid, ok := atoiPid(f); ok {
				kids = append(kids, pid)
			}
		}
	}
	return kids, true
}

// stat reads a process's parent and state letter.
func (p *procDir) stat(pid int) (ppid int, state byte, ok bool) {
	b, err := p.readFile(pid, "stat")
	if err != nil {
		return 0, 0, false
	}
	return parseStat(b)
}

// parseStat reads the parent and the state letter of /proc/<pid>/stat:
// pid (comm) S ppid …; comm may hold anything, the last ')' ends it.
func parseStat(b []byte) (ppid int, state byte, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+4 > len(b) {
		return 0, 0, false
	}
	fields := bytes.Fields(b[i+2:])
	if len(fields) < 2 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(string(fields[1]))
	return ppid, fields[0][0], err == nil
}
