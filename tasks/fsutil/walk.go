package fsutil

import (
	"bytes"
	"context"
	"encoding/binary"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sourcegraph/conc/panics"
	"golang.org/x/sys/unix"
)

// DefaultMaxErrors is how many errors a Result keeps (it counts them all).
const DefaultMaxErrors = 100

// Options configure a Walk. The zero value walks everything below the root
// on the root's file system with the default number of workers.
type Options struct {
	// Workers is the number of goroutines reading directories at once;
	// 0 means 2×GOMAXPROCS (more than the cores, so a folder that is
	// slow to read from disk does not leave a core idle). Each has its
	// own 64 KiB listing buffer.
	Workers int
	// MaxDepth limits how deep the walk goes, counted like find's
	// -maxdepth and fd's --max-depth: the entries directly inside the root
	// are at depth 1. 0 means no limit.
	MaxDepth int
	// CrossDevices lets the walk enter mount points: directories on other
	// file systems and bind mounts (which may show the root's own device).
	// By default it enters neither and records the mount points it did not
	// enter in Result.Mounts.
	CrossDevices bool
	// Filter, when set, is called for every entry below the root before it
	// is stat'ed, with Path, Name, Depth and Type set from the directory
	// listing (the stat fields are still zero, except on a file system that
	// does not give types in listings: there the entry is stat'ed first to
	// learn its type). For a directory, false means "neither visit nor enter";
	// for anything else, false means "neither stat nor visit". Filtering by
	// name this way is what keeps a search for *.log cheap. Filter is
	// called from several goroutines at once.
	Filter func(e *Entry) bool
	// MaxErrors caps Result.Errors; 0 means DefaultMaxErrors.
	MaxErrors int
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return 2 * runtime.GOMAXPROCS(0)
}

// Entry is one file, directory, symlink or other node met by a walk, with
// its lstat information: a symlink is reported as a symlink, never as what
// it points to.
type Entry struct {
	// Path is the root joined with the entry's path below it.
	Path string
	// Name is the last element of Path.
	Name string
	// Depth is 0 for the root, 1 for the entries directly inside it.
	Depth int
	// Type holds the type bits of the mode (fs.ModeDir, fs.ModeSymlink, …);
	// 0 is a regular file.
	Type fs.FileMode
	// Size is the apparent size in bytes (st_size), as du -b counts it.
	Size int64
	// ModTime is the last modification time.
	ModTime time.Time
	// Dev, Ino and Nlink identify the node and count its hard links.
	Dev, Ino, Nlink uint64
}

// IsDir reports whether the entry is a directory.
func (e *Entry) IsDir() bool { return e.Type&fs.ModeDir != 0 }

// IsRegular reports whether the entry is a regular file.
func (e *Entry) IsRegular() bool { return e.Type&fs.ModeType == 0 }

// IsSymlink reports whether the entry is a symbolic link.
func (e *Entry) IsSymlink() bool { return e.Type&fs.ModeSymlink != 0 }

// Result is what a walk met besides the entries it visited.
type Result struct {
	// Dirs and Files count the directories (the root included) and the
	// other entries visited.
	Dirs, Files int64
	// Errors are the first MaxErrors problems met, each an *fs.PathError
	// naming the path: folders that could not be read, entries that
	// vanished while the walk ran.
	Errors []error
	// ErrorCount counts every problem, also those past MaxErrors.
	ErrorCount int
	// Mounts are the directories not entered because they are mount
	// points (another file system, or a bind mount), sorted.
	Mounts []string
}

// Walk visits root and everything below it, in parallel, without following
// symbolic links and, unless opt.CrossDevices, without entering a mount
// point. visit is called from several goroutines at once, for the root
// first (depth 0) and then for every entry the filter admits, in no
// particular order; a directory is always visited before its contents.
//
// Walk fails only when the root itself cannot be read (or is not a
// directory: then it is visited alone) or ctx ends; every other problem is
// collected in the Result and the walk goes on. Cost: one open and one
// getdents pass per directory, one fstatat per admitted entry, relative to
// its directory's handle (a statx for a directory: it also tells a mount
// point). Workers goroutines share one stack of directories to read
// (walkqueue.go); a directory is opened relative to its parent's handle,
// kept open until its last admitted subdirectory is opened, so at most
// Workers plus about 64 directories are open at once (past that, a
// directory is closed once listed and its subdirectories are opened by
// path).
func Walk(ctx context.Context, root string, opt Options, visit func(e *Entry)) (Result, error) {
	return walk(ctx, root, opt, visit, nil)
}

// walk is Walk; with a tally, the non-directories go to it and not to
// visit.
func walk(ctx context.Context, root string, opt Options, visit func(e *Entry), t *tally) (Result, error) {
	root = filepath.Clean(root)
	w := &walker{ctx: ctx, opt: opt, visit: visit, maxErrors: opt.MaxErrors, tally: t}
	if w.maxErrors <= 0 {
		w.maxErrors = DefaultMaxErrors
	}
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return Result{}, &fs.PathError{Op: "lstat", Path: root, Err: err}
	}
	top := entryFrom(root, filepath.Base(root), 0, &st)
	w.rootDev = top.Dev
	if !top.IsDir() {
		w.res.Files++
		visit(top)
		return w.result(), nil
	}
	q := newDirQueue(dirJob{d: top})
	var wg sync.WaitGroup
	for range opt.workers() {
		wg.Go(func() {
			// A panic in a worker (in visit or Filter, say) comes back
			// to the caller's goroutine below, with the worker's stack,
			// where the task's own recovery can catch it; a worker's
			// panic would end the process. The other workers stop
			// rather than wait for the folders it will never list.
			w.panics.Try(func() {
				finished := false
				defer func() {
					if !finished {
						q.stop()
					}
				}()
				w.work(q)
				finished = true
			})
		})
	}
	wg.Wait()
	q.drain()
	w.panics.Repanic()
	if err := ctx.Err(); err != nil {
		return w.result(), err
	}
	return w.result(), w.rootErr
}

type walker struct {
	ctx       context.Context
	opt       Options
	visit     func(e *Entry)
	panics    panics.Catcher
	rootDev   uint64
	maxErrors int
	mounts    mountTable
	// tally, when set, takes every non-directory straight from its stat
	// without making an Entry or visiting it: Size's fast path (size.go).
	tally *tally
	// held counts the folders kept open for their subfolders (heldDir).
	held atomic.Int32

	mu      sync.Mutex
	res     Result
	rootErr error // the root could not be read
}

func (w *walker) result() Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.res
	slices.Sort(r.Mounts)
	return r
}

func (w *walker) fail(err error) {
	w.mu.Lock()
	w.res.ErrorCount++
	if len(w.res.Errors) < w.maxErrors {
		w.res.Errors = append(w.res.Errors, err)
	}
	w.mu.Unlock()
}

// counts are what one worker met, added to the Result when it is done
// rather than under the lock for every folder.
type counts struct{ dirs, files int64 }

// work is one worker: it takes folders from q and reads them with its own
// listing buffer (large: few system calls for a big folder) until the
// walk is over. Once the context ends, the folders still queued are
// given up without being read.
func (w *walker) work(q *dirQueue) {
	bufp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bufp)
	buf := *bufp
	var c counts
	var add []dirJob
	done := false
	for {
		j, ok := q.next(add, done)
		if !ok {
			break
		}
		clear(add)
		add = w.dir(j, buf, &c, add[:0])
		done = true
	}
	w.mu.Lock()
	w.res.Dirs += c.dirs
	w.res.Files += c.files
	w.mu.Unlock()
}

// direntBufs holds the workers' getdents buffers, 64 KiB each (few
// system calls for a big folder), pooled so that the many walks of a
// run (the disk task walks each root) do not each allocate their own.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// dir visits the folder of j (already stat'ed and admitted) and, depth
// permitting, lists it, and returns add with its admitted subfolders
// appended, for any worker to read next.
func (w *walker) dir(j dirJob, buf []byte, c *counts, add []dirJob) []dirJob {
	d := j.d
	canceled := w.ctx.Err() != nil
	deepest := w.opt.MaxDepth > 0 && d.Depth >= w.opt.MaxDepth
	fd := -1
	var err error
	if !canceled && !deepest {
		const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if j.parent != nil {
			fd, err = unix.Openat(j.parent.fd, d.Name, flags, 0)
		} else {
			fd, err = unix.Open(d.Path, flags, 0)
		}
	}
	if j.parent != nil {
		j.parent.release()
	}
	if canceled {
		return add
	}
	owned := fd >= 0 // fd is closed here, unless held for the subfolders
	defer func() {
		if owned {
			unix.Close(fd)
		}
	}()
	c.dirs++
	w.visit(d)
	if deepest {
		return add
	}
	if err != nil {
		err = &fs.PathError{Op: "open", Path: d.Path, Err: err}
		if d.Depth == 0 {
			w.mu.Lock()
			w.rootErr = err
			w.mu.Unlock()
		} else {
			w.fail(err)
		}
		return add
	}
	subdirs := w.read(fd, d, buf, c)
	if len(subdirs) == 0 {
		return add
	}
	var h *heldDir
	if w.held.Load() < maxHeldDirs {
		h = &heldDir{fd: fd, count: &w.held}
		h.refs.Store(int32(len(subdirs)))
		w.held.Add(1)
		owned = false
	}
	for _, s := range subdirs {
		add = append(add, dirJob{d: s, parent: h})
	}
	return add
}

// read lists the folder d, open as fd, into buf; stats and visits (or
// tallies) every admitted non-directory in it and returns the admitted
// subdirectories. Problems with the listing or its entries are recorded
// and do not stop it.
func (w *walker) read(fd int, d *Entry, buf []byte, c *counts) []*Entry {
	prefix := d.Path + string(filepath.Separator)
	if d.Path == string(filepath.Separator) {
		prefix = d.Path
	}
	var subdirs []*Entry
	var files, bytes int64
	depth := d.Depth + 1
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			w.fail(&fs.PathError{Op: "readdir", Path: d.Path, Err: err})
			break
		}
		if n <= 0 {
			break
		}
		for off := 0; off < n; {
			name, typ, known, next := parseDirent(buf[off:n])
			if next <= 0 {
				break
			}
			off += next
			if len(name) == 0 || isDots(name) {
				continue
			}
			if w.tally != nil && (!known || typ != fs.ModeDir) {
				// Size's fast path: one lstat into a reused Stat_t,
				// the name passed straight from the listing; nothing
				// is allocated unless the entry turns out to be a
				// directory or cannot be stat'ed.
				var st unix.Stat_t
				if err := fstatatListed(fd, name, &st); err != nil {
					w.fail(&fs.PathError{Op: "lstat", Path: prefix + string(name), Err: err})
					continue
				}
				if st.Mode&unix.S_IFMT != unix.S_IFDIR {
					files++
					bytes += w.tally.add(&st)
					continue
				}
				e := &Entry{Path: prefix + string(name), Depth: depth}
				e.Name = e.Path[len(prefix):]
				fillEntry(e, &st)
				if w.enters(fd, e.Name, e) {
					subdirs = append(subdirs, e)
				}
				continue
			}
			e := &Entry{Path: prefix + string(name), Depth: depth, Type: typ}
			e.Name = e.Path[len(prefix):]
			switch {
			case !w.admit(fd, e, name, known):
			case e.IsDir():
				subdirs = append(subdirs, e)
			default:
				files++
				w.visit(e)
			}
		}
	}
	if w.tally != nil {
		w.tally.bytes.Add(bytes)
	}
	c.files += files
	return subdirs
}

// admit decides whether the entry e of the directory fd is part of the
// walk, and fills it from an lstat (never following a link). Refused are
// an entry the filter rejects, one that cannot be stat'ed (recorded), and
// a folder the walk may not enter (enters). known says whether the listing
// gave e's type; if not, it is stat'ed before the filter, which needs it.
// name is e's name as listed (in the getdents buffer, whatever the filter
// does with e).
func (w *walker) admit(fd int, e *Entry, name []byte, known bool) bool {
	var st unix.Stat_t
	if !known {
		// The file system does not say the type in the listing
		// (DT_UNKNOWN): stat first, the filter needs it.
		if err := fstatatListed(fd, name, &st); err != nil {
			w.fail(&fs.PathError{Op: "lstat", Path: e.Path, Err: err})
			return false
		}
		e.Type = typeBits(st.Mode)
	}
	if w.opt.Filter != nil && !w.opt.Filter(e) {
		return false
	}
	if known && e.IsDir() {
		return w.admitDir(fd, e, name)
	}
	if known {
		if err := fstatatListed(fd, name, &st); err != nil {
			w.fail(&fs.PathError{Op: "lstat", Path: e.Path, Err: err})
			return false
		}
	}
	fillEntry(e, &st)
	return !e.IsDir() || w.enters(fd, string(name), e)
}

// admitDir fills e, listed as a folder named name in the directory fd,
// and decides whether the walk enters it, with one statx that also says
// whether it is a mount point (instead of an fstatat and then a statx).
// Where statx does not give all that, it is done the other way.
func (w *walker) admitDir(fd int, e *Entry, name []byte) bool {
	const need = unix.STATX_TYPE | unix.STATX_MODE | unix.STATX_NLINK | unix.STATX_INO | unix.STATX_SIZE | unix.STATX_MTIME
	var stx unix.Statx_t
	err := statxListed(fd, name, need, &stx)
	if err == unix.ENOSYS || err == nil && (stx.Mask&need != need || stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0) {
		var st unix.Stat_t
		if err := fstatatListed(fd, name, &st); err != nil {
			w.fail(&fs.PathError{Op: "lstat", Path: e.Path, Err: err})
			return false
		}
		fillEntry(e, &st)
		return !e.IsDir() || w.enters(fd, string(name), e)
	}
	if err != nil {
		w.fail(&fs.PathError{Op: "lstat", Path: e.Path, Err: err})
		return false
	}
	e.Type = typeBits(uint32(stx.Mode))
	e.Size = int64(stx.Size)
	e.ModTime = time.Unix(stx.Mtime.Sec, int64(stx.Mtime.Nsec))
	e.Dev = unix.Mkdev(stx.Dev_major, stx.Dev_minor) // as stat encodes st_dev
	e.Ino = stx.Ino
	e.Nlink = uint64(stx.Nlink)
	if !e.IsDir() || w.opt.CrossDevices {
		return true // no longer a folder (replaced since the listing): a file now
	}
	if e.Dev != w.rootDev || stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		w.recordMount(e)
		return false
	}
	return true
}

// enters reports whether the walk may go into the folder e, listed as name
// in the directory fd. Unless CrossDevices, a folder on another device or a
// mount point (a bind mount keeps the device) is not entered and is
// recorded in Mounts; one whose mount status cannot be told is recorded
// as an error and not entered either.
func (w *walker) enters(fd int, name string, e *Entry) bool {
	if w.opt.CrossDevices {
		return true
	}
	mount := e.Dev != w.rootDev
	if !mount {
		var err error
		if mount, err = w.mounts.isMountPoint(fd, name); err != nil {
			w.fail(&fs.PathError{Op: "statx", Path: e.Path, Err: err})
			return false
		}
	}
	if mount {
		w.recordMount(e)
		return false
	}
	return true
}

// recordMount notes the mount point e, not entered.
func (w *walker) recordMount(e *Entry) {
	w.mu.Lock()
	w.res.Mounts = append(w.res.Mounts, e.Path)
	w.mu.Unlock()
}

// parseDirent reads one linux_dirent64 record at the start of b: its
// name (in b, followed there by its NUL, which fstatatListed relies on;
// empty for a record without one), its type when the file system gives
// it, and the record's length (0 when b is too short).
func parseDirent(b []byte) (name []byte, typ fs.FileMode, known bool, reclen int) {
	const nameOff = 19 // d_ino (8), d_off (8), d_reclen (2), d_type (1)
	if len(b) < nameOff {
		return nil, 0, false, 0
	}
	reclen = int(binary.NativeEndian.Uint16(b[16:18]))
	if reclen < nameOff || reclen > len(b) {
		return nil, 0, false, 0
	}
	if binary.NativeEndian.Uint64(b[0:8]) == 0 {
		return nil, 0, false, reclen // a deleted entry
	}
	raw := b[nameOff:reclen]
	i := bytes.IndexByte(raw, 0)
	if i < 0 {
		return nil, 0, false, reclen // no terminated name: not a record to trust
	}
	raw = raw[:i]
	known = true
	switch b[18] {
	case unix.DT_REG:
	case unix.DT_DIR:
		typ = fs.ModeDir
	case unix.DT_LNK:
		typ = fs.ModeSymlink
	case unix.DT_FIFO:
		typ = fs.ModeNamedPipe
	case unix.DT_SOCK:
		typ = fs.ModeSocket
	case unix.DT_CHR:
		typ = fs.ModeDevice | fs.ModeCharDevice
	case unix.DT_BLK:
		typ = fs.ModeDevice
	default:
		known = false
	}
	return raw, typ, known, reclen
}

// statxListed is statx(dirfd, name, AT_SYMLINK_NOFOLLOW|AT_NO_AUTOMOUNT,
// mask, stx) for a name as parseDirent returns it (see fstatatListed).
func statxListed(dirfd int, name []byte, mask int, stx *unix.Statx_t) error {
	p := unsafe.Pointer(unsafe.SliceData(name))
	_, _, errno := unix.Syscall6(unix.SYS_STATX, uintptr(dirfd), uintptr(p), unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, uintptr(mask), uintptr(unsafe.Pointer(stx)), 0)
	runtime.KeepAlive(name)
	if errno != 0 {
		return errno
	}
	return nil
}

// isDots reports whether name is "." or "..".
func isDots(name []byte) bool {
	return name[0] == '.' && (len(name) == 1 || len(name) == 2 && name[1] == '.')
}

// fstatatListed is fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) for a
// name as parseDirent returns it: the NUL that ends it in the getdents
// buffer is passed along, so the name is not copied into a new C string
// for every entry (unix.Fstatat would).
func fstatatListed(dirfd int, name []byte, st *unix.Stat_t) error {
	p := unsafe.Pointer(unsafe.SliceData(name))
	_, _, errno := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(p), uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	runtime.KeepAlive(name)
	if errno != 0 {
		return errno
	}
	return nil
}

func entryFrom(path, name string, depth int, st *unix.Stat_t) *Entry {
	e := &Entry{Path: path, Name: name, Depth: depth}
	fillEntry(e, st)
	return e
}

func fillEntry(e *Entry, st *unix.Stat_t) {
	e.Type = typeBits(st.Mode)
	e.Size = st.Size
	e.ModTime = time.Unix(st.Mtim.Unix())
	e.Dev = uint64(st.Dev)
	e.Ino = uint64(st.Ino)
	e.Nlink = uint64(st.Nlink)
}

func typeBits(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	default:
		return 0
	}
}
