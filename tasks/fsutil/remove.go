package fsutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Guard decides which folders may have things deleted inside them.
type Guard struct {
	// Home is the invoking user's home directory. Without it every root
	// is refused unless allowed outside the home.
	Home string
}

// RootError is a folder refused as a root to delete in.
type RootError struct {
	Path string // as given
	Real string // after resolving symlinks; "" when it could not be resolved
	// Reason says why, e.g. "is the home directory itself".
	Reason string
	// Outside is set when the only objection is that the folder is outside
	// the home directory: configuring it explicitly lifts it.
	Outside bool
}

func (e *RootError) Error() string {
	if e.Real != "" && e.Real != e.Path {
		return fmt.Sprintf("refusing to delete in %s (which resolves to %s): it %s", e.Path, e.Real, e.Reason)
	}
	return fmt.Sprintf("refusing to delete in %s: it %s", e.Path, e.Reason)
}

// Open checks root and returns it as a Root to delete things in. The root
// itself is resolved with filepath.EvalSymlinks first (a cache folder may
// be a link to another disk) and the rules apply to where it really is:
// refused are "/", the home directory, any folder that contains the home
// directory, anything that is not a directory, and — unless outsideHome,
// which a caller sets only for a folder the user configured explicitly for
// that purpose — anything not strictly inside the home directory.
// A missing root is an error satisfying errors.Is(err, fs.ErrNotExist).
func (g Guard) Open(root string, outsideHome bool) (*Root, error) {
	if root == "" || !filepath.IsAbs(root) {
		return nil, &RootError{Path: root, Reason: "is not an absolute path"}
	}
	root = filepath.Clean(root)
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	home := ""
	if g.Home != "" {
		home = filepath.Clean(g.Home)
		if h, err := filepath.EvalSymlinks(home); err == nil {
			home = h
		}
	}
	refuse := func(reason string) error { return &RootError{Path: root, Real: real, Reason: reason} }
	switch {
	case real == "/" || root == "/":
		return nil, refuse("is the root of the file system")
	case home != "" && (real == home || root == filepath.Clean(g.Home)):
		return nil, refuse("is the home directory itself")
	case home != "" && within(real, home):
		return nil, refuse("contains the home directory " + home)
	case !outsideHome && home == "":
		return nil, &RootError{Path: root, Real: real, Reason: "cannot be checked: the home directory is unknown", Outside: true}
	case !outsideHome && !within(home, real):
		return nil, &RootError{Path: root, Real: real, Reason: "is outside the home directory " + home, Outside: true}
	}
	var st unix.Stat_t
	if err := unix.Lstat(real, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: real, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, refuse("is not a directory")
	}
	return &Root{Path: root, Real: real, dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// within reports whether p is strictly inside dir (both clean, absolute).
func within(dir, p string) bool {
	if dir == "/" {
		return p != "/" && strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}

// Root is a folder checked by Guard.Open: things strictly inside it may be
// deleted, nothing else.
type Root struct {
	// Path is the folder as given; Real is where it resolves to.
	Path, Real string
	dev, ino   uint64
}

// Removed is one path that went (or would go, in a dry run), with
// everything below it.
type Removed struct {
	Path string
	// Bytes is the apparent size removed (hard links counted once);
	// Entries counts the files, links and folders removed, itself included.
	Bytes, Entries int64
}

// Removal is the outcome of Root.Remove.
type Removal struct {
	// Removed lists the paths entirely removed, in the order asked.
	Removed []Removed
	// Bytes and Entries add up everything removed, including the parts of
	// paths that could be removed only in part.
	Bytes, Entries int64
	// Errors names every path that could not be removed, or only in part,
	// and why.
	Errors []error
}

// RemoveContents removes everything inside the root and keeps the root.
func (r *Root) RemoveContents(ctx context.Context, dryRun bool) (Removal, error) {
	list, err := r.List()
	if err != nil {
		return Removal{}, err
	}
	return r.RemoveListed(ctx, list, dryRun)
}

// Remove deletes each path with everything below it. A path must be
// strictly inside the root (given under Path or under Real); any other is
// refused and reported in Errors. Nothing is followed: the path is reached
// from the root one folder at a time with O_NOFOLLOW, so a path through a
// symlink is refused; a symlink met inside is removed as a link and its
// target is left alone; a mount point — a folder on another file system,
// or a bind mount of a folder or a file — is neither entered nor removed
// (and so its parent is not removed either), and a path through one is
// refused. With dryRun the same traversal runs and nothing is deleted:
// Removed is then exactly what a real run would remove, barring
// permission problems only the deletion itself can show.
// Remove returns an error only when ctx ends or the root is gone.
func (r *Root) Remove(ctx context.Context, paths []string, dryRun bool) (Removal, error) {
	list := make([]Listed, len(paths))
	for i, p := range paths {
		list[i] = Listed{Path: p}
	}
	return r.RemoveListed(ctx, list, dryRun)
}

// RemoveListed is Remove for entries listed earlier (List, Entry.Listed):
// each is removed only if the node at its path is still the one listed —
// same device, inode and type — so a folder never goes where a file was
// listed, nor another file put under a listed name. One that changed is
// reported in Errors with an error wrapping ErrChanged that says what was
// listed and what is there now. A Listed without an identity (a bare
// path) is removed as Remove would.
func (r *Root) RemoveListed(ctx context.Context, list []Listed, dryRun bool) (Removal, error) {
	var out Removal
	rm := &remover{ctx: ctx, dev: r.dev, dry: dryRun, links: newLinkSet()}
	for _, l := range list {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		p := l.Path
		rel, err := r.rel(p)
		if err != nil {
			out.Errors = append(out.Errors, err)
			continue
		}
		rootF, err := r.openRoot()
		if err != nil {
			return out, err
		}
		b, n, ok := r.removeRel(rm, rootF, l, rel, &out)
		rootF.Close()
		out.Bytes += b
		out.Entries += n
		if ok {
			out.Removed = append(out.Removed, Removed{Path: p, Bytes: b, Entries: n})
		}
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, nil
}

// rel returns p relative to the root, refusing anything not strictly
// inside it.
func (r *Root) rel(p string) (string, error) {
	c := filepath.Clean(p)
	for _, base := range []string{r.Path, r.Real} {
		if within(base, c) {
			rel, err := filepath.Rel(base, c)
			if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return rel, nil
			}
		}
	}
	return "", &fs.PathError{Op: "remove", Path: p, Err: fmt.Errorf("not strictly inside %s: refused", r.Path)}
}

// openRoot opens the root without following a link, and checks it is still
// the folder Open checked.
func (r *Root) openRoot() (*os.File, error) {
	fd, err := unix.Open(r.Real, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			err = fmt.Errorf("%w: it is now a symlink", ErrChanged)
		}
		return nil, &fs.PathError{Op: "open", Path: r.Real, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || uint64(st.Dev) != r.dev || uint64(st.Ino) != r.ino {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: r.Real, Err: fmt.Errorf("%w: the folder was replaced since it was checked", ErrChanged)}
	}
	return os.NewFile(uintptr(fd), r.Real), nil
}

// removeRel walks from the root down to rel's parent, one component at a
// time without following links, and removes rel's last element there if
// it is still what l listed.
func (r *Root) removeRel(rm *remover, root *os.File, l Listed, rel string, out *Removal) (int64, int64, bool) {
	p := l.Path
	parts := strings.Split(rel, string(filepath.Separator))
	dir := int(root.Fd())
	var opened []int
	defer func() {
		for _, fd := range opened {
			unix.Close(fd)
		}
	}()
	for _, part := range parts[:len(parts)-1] {
		fd, err := unix.Openat(dir, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				err = errors.New("its path goes through a symlink or a file: refused")
			}
			out.Errors = append(out.Errors, &fs.PathError{Op: "remove", Path: p, Err: err})
			return 0, 0, false
		}
		opened = append(opened, fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || uint64(st.Dev) != r.dev {
			out.Errors = append(out.Errors, &fs.PathError{Op: "remove", Path: p, Err: errors.New("its path leaves the file system of " + r.Path + ": refused")})
			return 0, 0, false
		}
		if mount, err := rm.mounts.isMountPoint(dir, part); err != nil || mount {
			if err == nil {
				err = errors.New("its path goes through a mount point: refused")
			}
			out.Errors = append(out.Errors, &fs.PathError{Op: "remove", Path: p, Err: err})
			return 0, 0, false
		}
		dir = fd
	}
	rm.errs = nil
	var expect *Listed
	if l.known() {
		expect = &l
	}
	b, n := rm.tree(dir, parts[len(parts)-1], p, expect)
	out.Errors = append(out.Errors, rm.errs...)
	return b, n, len(rm.errs) == 0
}

// remover deletes a tree through directory file descriptors (openat,
// unlinkat), so no path is ever resolved through a link.
type remover struct {
	ctx    context.Context
	dev    uint64
	dry    bool
	links  *linkSet
	mounts mountTable
	errs   []error
}

func (rm *remover) fail(op, path string, err error) {
	rm.errs = append(rm.errs, &fs.PathError{Op: op, Path: path, Err: err})
}

// tree removes name inside the directory parent (display is its path for
// messages) and everything below it; it returns the bytes and entries
// removed. With expect, name must still be the node listed there, or
// nothing is removed. Failures are recorded in rm.errs.
func (rm *remover) tree(parent int, name, display string, expect *Listed) (bytes, entries int64) {
	if err := rm.ctx.Err(); err != nil {
		rm.fail("remove", display, err)
		return 0, 0
	}
	var st unix.Stat_t
	if err := unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		rm.fail("lstat", display, err)
		return 0, 0
	}
	if expect != nil {
		if err := expect.changed(&st); err != nil {
			rm.fail("remove", display, err)
			return 0, 0
		}
	}
	size := st.Size
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir && uint64(st.Dev) != rm.dev {
		rm.fail("remove", display, errors.New("is on another file system: not entered"))
		return 0, 0
	}
	// A bind mount shows the device of everything around it; what is
	// mounted there is not the root's to delete, a file or a folder.
	if mount, err := rm.mounts.isMountPoint(parent, name); err != nil {
		rm.fail("statx", display, err)
		return 0, 0
	} else if mount {
		rm.fail("remove", display, errors.New("is a mount point: not entered"))
		return 0, 0
	}
	if !isDir {
		// Removing one hard link drops the count of the others, so a node
		// once met with several links is remembered whatever its count now.
		dev, ino := uint64(st.Dev), uint64(st.Ino)
		if (st.Nlink > 1 && !rm.links.first(dev, ino)) || (st.Nlink == 1 && rm.links.has(dev, ino)) {
			size = 0
		}
		if !rm.dry {
			if err := unix.Unlinkat(parent, name, 0); err != nil {
				rm.fail("remove", display, err)
				return 0, 0
			}
		}
		return size, 1
	}
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		rm.fail("open", display, err)
		return 0, 0
	}
	f := os.NewFile(uintptr(fd), display)
	defer f.Close()
	if expect != nil {
		// Swapped between the lstat and the open: what is open is what
		// would be emptied, so it is checked again.
		var now unix.Stat_t
		if err := unix.Fstat(fd, &now); err != nil || expect.changed(&now) != nil {
			rm.fail("remove", display, fmt.Errorf("%w (replaced as it was being removed): not deleted", ErrChanged))
			return 0, 0
		}
	}
	// All names first, then the deletions: removing entries while
	// reading a directory in batches would move the read offset.
	names, err := f.Readdirnames(-1)
	if err != nil && !errors.Is(err, io.EOF) {
		rm.fail("readdir", display, err)
		return 0, 0
	}
	before := len(rm.errs)
	for _, n := range names {
		b, c := rm.tree(fd, n, display+string(filepath.Separator)+n, nil)
		bytes += b
		entries += c
	}
	if len(rm.errs) > before {
		return bytes, entries
	}
	if !rm.dry {
		if err := unix.Unlinkat(parent, name, unix.AT_REMOVEDIR); err != nil {
			rm.fail("remove", display, err)
			return bytes, entries
		}
	}
	return bytes + size, entries + 1
}
