package proc

import (
	"bytes"
	"errors"
	"os"
	"slices"
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
// re-parented to one of them), opening their lists anew. ok is false when
// the kernel does not list children (CONFIG_PROC_CHILDREN), /proc cannot
// be read, or the threads changed while they were read.
func (p *procDir) children(me int) (kids []int, ok bool) {
	var l childLists
	defer l.close()
	return l.read(p, me)
}

// childLists reads the children of this process's threads, keeping open
// what it reads each time: the thread list and each thread's children
// file, read again from their start (three system calls a thread, not
// four). The files are os.Files, closed when their thread is gone, or
// when the lists are dropped.
type childLists struct {
	tasks *os.File         // /proc/<me>/task
	files map[int]*os.File // thread → its children file
	tids  []int
	buf   []byte
}

// read returns what children does; p is the pass's /proc.
func (l *childLists) read(p *procDir, me int) (kids []int, ok bool) {
	if l.tasks == nil {
		f, err := os.Open("/proc/" + strconv.Itoa(me) + "/task")
		if err != nil {
			return nil, false
		}
		l.tasks, l.files, l.buf = f, map[int]*os.File{}, make([]byte, 8<<10)
	}
	tids, err := l.threads(p)
	if err != nil || len(tids) == 0 {
		return nil, false
	}
	for _, tid := range tids {
		f := l.files[tid]
		if f == nil {
			if f, err = os.Open("/proc/" + strconv.Itoa(me) + "/task/" + strconv.Itoa(tid) + "/children"); err != nil {
				// The kernel lists no children, or the thread ended
				// meanwhile.
				return nil, false
			}
			l.files[tid] = f
		}
		b, err := l.readAll(f)
		if err != nil {
			return nil, false
		}
		for _, w := range bytes.Fields(b) {
			if pid, ok := atoiPid(w); ok {
				kids = append(kids, pid)
			}
		}
	}
	// A thread that ended while the lists were read handed its children
	// to another, perhaps one already read: then the lists are not whole.
	again, err := l.threads(p)
	if err != nil || !slices.Equal(again, tids) {
		return nil, false
	}
	for tid, f := range l.files {
		if !slices.Contains(tids, tid) {
			f.Close()
			delete(l.files, tid)
		}
	}
	return kids, true
}

// threads lists this process's threads, sorted.
func (l *childLists) threads(p *procDir) ([]int, error) {
	sub := procDir{fd: int(l.tasks.Fd()), ents: p.ents}
	tids, err := sub.pids()
	p.ents = sub.ents
	slices.Sort(tids)
	return tids, err
}

// readAll reads f whole from its start into l.buf: until a read gives
// nothing, as a kernel list may cut any read short. pread from offset 0
// spares the lseek a read from the start took (a list is a seq_file,
// which reads at any offset): one system call less per thread and pass.
func (l *childLists) readAll(f *os.File) ([]byte, error) {
	fd := int(f.Fd())
	n := 0
	for {
		if n == len(l.buf) {
			l.buf = append(l.buf, make([]byte, max(len(l.buf), 4096))...)
		}
		k, err := unix.Pread(fd, l.buf[n:], int64(n))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if k == 0 {
			return l.buf[:n], nil
		}
		n += k
	}
}

func (l *childLists) close() {
	if l.tasks == nil {
		return
	}
	l.tasks.Close()
	for _, f := range l.files {
		f.Close()
	}
	*l = childLists{}
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
