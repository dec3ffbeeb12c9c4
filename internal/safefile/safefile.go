package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
)

// Dir is an open directory: files are opened relative to it, so a
// directory renamed or replaced by a link after it was opened cannot
// redirect them. Close it when done.
type Dir struct {
	f        *os.File
	path     string
	uid, gid int
	mode     uint32
}

// OpenDir opens the directory at path. Links in path itself are followed:
// a configured path is the person's own choice (a state directory on
// another disk); only what is opened inside it is held to O_NOFOLLOW.
func OpenDir(path string) (*Dir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return newDir(fd, path)
}

func newDir(fd int, path string) (*Dir, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	return &Dir{f: os.NewFile(uintptr(fd), path), path: path, uid: int(st.Uid), gid: int(st.Gid), mode: st.Mode}, nil
}

// OpenDirAll creates path and any missing parents (perm, before the
// umask), as MkdirAll does, and opens it.
func OpenDirAll(path string, perm fs.FileMode) (*Dir, error) {
	if err := mkdirAll(filepath.Clean(path), perm); err != nil {
		return nil, err
	}
	return OpenDir(path)
}

func mkdirAll(path string, perm fs.FileMode) error {
	if st, err := os.Stat(path); err == nil {
		if !st.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: path, Err: unix.ENOTDIR}
		}
		return nil
	}
	parent := filepath.Dir(path)
	if parent != path {
		if err := mkdirAll(parent, perm); err != nil {
			return err
		}
	}
	d, err := OpenDir(parent)
	if err != nil {
		return err
	}
	defer d.Close()
	sub, err := d.EnsureSubdir(filepath.Base(path), perm)
	if err != nil {
		return err
	}
	return sub.Close()
}

// Path is the directory's path as opened.
func (d *Dir) Path() string { return d.path }

// Owner is the directory's owner and group when it was opened.
func (d *Dir) Owner() (uid, gid int) { return d.uid, d.gid }

// Close closes the directory.
func (d *Dir) Close() error { return d.f.Close() }

func (d *Dir) fd() int { return int(d.f.Fd()) }

func (d *Dir) join(name string) string { return filepath.Join(d.path, name) }

// Mkdir creates the directory name inside d (perm, before the umask);
// an existing one is an error satisfying errors.Is(err, fs.ErrExist). Run
// as root in another user's directory, the new one is that user's.
func (d *Dir) Mkdir(name string, perm fs.FileMode) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := d.join(name)
	if err := unix.Mkdirat(d.fd(), name, uint32(perm.Perm())); err != nil {
		return &fs.PathError{Op: "mkdir", Path: p, Err: err}
	}
	fd, err := unix.Openat(d.fd(), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: p, Err: noFollow(d.fd(), name, err)}
	}
	defer unix.Close(fd)
	return d.give(fd, p)
}

// Subdir opens the directory name inside d. A link in its place is
// refused, not followed.
func (d *Dir) Subdir(name string) (*Dir, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	p := d.join(name)
	fd, err := unix.Openat(d.fd(), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: noFollow(d.fd(), name, err)}
	}
	return newDir(fd, p)
}

// EnsureSubdir is Subdir, after creating the directory with Mkdir when it
// is missing.
func (d *Dir) EnsureSubdir(name string, perm fs.FileMode) (*Dir, error) {
	if err := d.Mkdir(name, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return d.Subdir(name)
}

// OpenFile opens the file name inside d with flag (os.O_*) and, when it
// creates it, perm. A symbolic link in its place is refused, whatever it
// points to, and so is anything but a regular file with a single link (a
// hard link to another file is that file). Run as root in a directory
// that belongs to another user, a file owned by root — the one just
// created, or one an earlier root run left — is given to the directory's
// owner.
func (d *Dir) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	p := d.join(name)
	fd, err := unix.Openat(d.fd(), name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: noFollow(d.fd(), name, err)}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		unix.Close(fd)
		return nil, fmt.Errorf("%s: not a regular file; refused", p)
	case st.Nlink > 1:
		unix.Close(fd)
		return nil, fmt.Errorf("%s: has %d hard links (one may be another file's); refused", p, st.Nlink)
	}
	// O_NONBLOCK kept a FIFO from blocking the open; a regular file
	// ignores it, but os.File should do plain blocking I/O on it.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	if err := d.give(fd, p); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), p), nil
}

// CreateNew creates the file name inside d, which must not exist, and
// opens it with flag (os.O_WRONLY or os.O_RDWR, and the like) and perm. It
// is OpenFile for a file that is new: O_EXCL refuses whatever is in its
// place (a link, dangling or not, too) with an error satisfying
// errors.Is(err, fs.ErrExist), and what it creates is a regular file with
// one link, so OpenFile's checks have nothing to look at: one system call
// where OpenFile takes five (a run's task logs are made this way).
func (d *Dir) CreateNew(name string, flag int, perm fs.FileMode) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(d.fd(), name, flag|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	if err := d.give(fd, d.join(name)); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

// Rename renames old to new, both inside d; new is replaced if it exists
// (a link there is replaced, never followed).
func (d *Dir) Rename(oldName, newName string) error {
	if err := checkName(oldName); err != nil {
		return err
	}
	if err := checkName(newName); err != nil {
		return err
	}
	if err := unix.Renameat(d.fd(), oldName, d.fd(), newName); err != nil {
		return &os.LinkError{Op: "rename", Old: d.join(oldName), New: d.join(newName), Err: err}
	}
	return nil
}

// Remove removes the file (or empty directory) name inside d.
func (d *Dir) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := unix.Unlinkat(d.fd(), name, 0)
	if errors.Is(err, unix.EISDIR) {
		err = unix.Unlinkat(d.fd(), name, unix.AT_REMOVEDIR)
	}
	if err != nil {
		return &fs.PathError{Op: "remove", Path: d.join(name), Err: err}
	}
	return nil
}

// RemoveAll removes name inside d and, when it is a directory, everything
// in it. Nothing is followed: a link is removed, not what it points to.
func (d *Dir) RemoveAll(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := unix.Unlinkat(d.fd(), name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return &fs.PathError{Op: "remove", Path: d.join(name), Err: err}
	}
	fd, err := unix.Openat(d.fd(), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	sub, err := newDir(fd, d.join(name))
	if err != nil {
		return err
	}
	names, err := sub.Names()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		if err := sub.RemoveAll(n); err != nil {
			errs = append(errs, err)
		}
	}
	sub.Close()
	if err := unix.Unlinkat(d.fd(), name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, &fs.PathError{Op: "remove", Path: d.join(name), Err: err})
	}
	return errors.Join(errs...)
}

// Names lists the entries of d, unsorted.
func (d *Dir) Names() ([]string, error) {
	fd, err := unix.Openat(d.fd(), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil && !errors.Is(err, io.EOF) {
		return names, err
	}
	return names, nil
}

// Lstat describes name inside d without following a link.
func (d *Dir) Lstat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := checkName(name); err != nil {
		return st, err
	}
	if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, &fs.PathError{Op: "lstat", Path: d.join(name), Err: err}
	}
	return st, nil
}

// give hands what fd refers to over to d's owner when root runs in a
// directory of another user (see OpenFile).
func (d *Dir) give(fd int, path string) error {
	if os.Geteuid() != 0 || d.uid == 0 {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Uid != 0 || (st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink > 1) {
		return nil
	}
	if err := unix.Fchown(fd, d.uid, d.gid); err != nil {
		return &fs.PathError{Op: "chown", Path: path, Err: err}
	}
	return nil
}

// noFollow turns O_NOFOLLOW's ELOOP into an error that says a link was
// found where a file was expected.
func noFollow(dirfd int, name string, err error) error {
	if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
		return err
	}
	var st unix.Stat_t
	if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return errSymlink
	}
	return err
}

var errSymlink = errors.New("is a symbolic link; refused (rebuild never writes through a link in its state)")

// IsSymlinkRefused reports whether err is OpenFile or Subdir refusing a
// symbolic link.
func IsSymlinkRefused(err error) bool { return errors.Is(err, errSymlink) }

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		return fmt.Errorf("safefile: %q is not a name inside a directory", name)
	}
	return nil
}

// OwnerError is a state directory rebuild refuses to use.
type OwnerError struct {
	Path string
	UID  int // its owner
	Euid int // the user running rebuild
	// WorldWritable: it belongs to the right user but everyone may write in it.
	WorldWritable bool
	Mode          fs.FileMode
}

// ExitCode is exitcode.Usage: a state directory to fix is a setting to fix.
func (e *OwnerError) ExitCode() int { return exitcode.Usage }

func (e *OwnerError) Error() string {
	if e.WorldWritable {
		return fmt.Sprintf("state directory %s is writable by every user (mode %03o): anyone could plant the files rebuild writes there; "+
			"fix it with `chmod o-w %s`, or point state_dir (or XDG_STATE_HOME) at a directory of your own", e.Path, e.Mode, e.Path)
	}
	return fmt.Sprintf("state directory %s belongs to %s, not to you (%s) or root: its owner could plant links to files this run would write; "+
		"point state_dir (or XDG_STATE_HOME) at a directory of your own, or take this one over with `sudo chown -R %d %s`",
		e.Path, describeUID(e.UID), describeUID(e.Euid), e.Euid, e.Path)
}

func describeUID(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

// CheckOwner refuses d as the state directory of a run by euid when
// someone else could plant the links and files rebuild writes through:
// when it belongs to neither euid nor root (root may use any user's: its
// files are opened without following links and given to their owner),
// or when every user may write in it. The error is an *OwnerError.
func (d *Dir) CheckOwner(euid int) error {
	mode := fs.FileMode(d.mode & 0o777)
	switch {
	case euid != 0 && d.uid != euid && d.uid != 0:
		return &OwnerError{Path: d.path, UID: d.uid, Euid: euid, Mode: mode}
	case d.mode&0o002 != 0:
		return &OwnerError{Path: d.path, UID: d.uid, Euid: euid, WorldWritable: true, Mode: mode}
	}
	return nil
}

// GiveLike hands f, a file about to replace the one described by old (nil
// when there is none) in the directory dir, to the owner that file had —
// or, for a new file, to dir's owner — when root runs in a home that
// belongs to someone else. Nothing happens for any other user, or when the
// owner would be root anyway. For a temporary file that is renamed into
// place.
func GiveLike(f *os.File, old fs.FileInfo, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid := -1, -1
	if old != nil {
		if st, ok := old.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	if uid < 0 {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return &fs.PathError{Op: "stat", Path: dir, Err: err}
		}
		uid, gid = int(st.Uid), int(st.Gid)
	}
	if uid == 0 {
		return nil
	}
	if err := f.Chown(uid, gid); err != nil {
		return &fs.PathError{Op: "chown", Path: f.Name(), Err: err}
	}
	return nil
}

// MkdirAll is os.MkdirAll whose new directories, run as root, belong to
// the owner of the directory each was created in (as OpenFile's files do),
// so a root run does not leave a user's home with folders the user cannot
// write in.
func MkdirAll(path string, perm fs.FileMode) error {
	return mkdirAll(filepath.Clean(path), perm)
}
