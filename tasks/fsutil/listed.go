package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// Listed is an entry as it was when it was listed, before anyone was
// asked: its path and the node that was there. A deletion agreed to on
// the strength of a table must delete what the table showed and nothing
// else — not a folder that took the place of a listed file between the
// table and the "y", nor another file put there under the same name.
// Root.RemoveListed goes ahead only if the same node is still there.
type Listed struct {
	Path     string
	Dev, Ino uint64
	// Type holds the type bits (fs.ModeDir, fs.ModeSymlink, …; 0 for a
	// regular file).
	Type fs.FileMode
}

// Listed returns the entry as a Listed, to delete later.
func (e *Entry) Listed() Listed {
	return Listed{Path: e.Path, Dev: e.Dev, Ino: e.Ino, Type: e.Type & fs.ModeType}
}

// known reports whether l carries an identity to check (a Listed made
// from a bare path does not).
func (l Listed) known() bool { return l.Ino != 0 }

// ErrChanged is the error, wrapped with what was listed and what is there
// now, for an entry not deleted because it is no longer what was listed.
var ErrChanged = errors.New("changed since it was listed")

// changed checks st, what is at l's path now, against l.
func (l Listed) changed(st *unix.Stat_t) error {
	now := typeBits(st.Mode)
	if uint64(st.Dev) == l.Dev && uint64(st.Ino) == l.Ino && now == l.Type {
		return nil
	}
	was, is := typeWord(l.Type), typeWord(now)
	if was == is {
		is = "another " + is[len("a "):]
	}
	return fmt.Errorf("%w (listed as %s, now %s): not deleted", ErrChanged, was, is)
}

func typeWord(t fs.FileMode) string {
	switch {
	case t == 0:
		return "a file"
	case t&fs.ModeDir != 0:
		return "a folder"
	case t&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "a special file"
}

// List returns what is directly inside the root (under Path as given),
// sorted, each with the node that is there now: what RemoveListed may
// remove later. An entry that vanishes while it is listed is left out.
func (r *Root) List() ([]Listed, error) {
	f, err := r.openRoot()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &fs.PathError{Op: "readdir", Path: r.Path, Err: err}
	}
	slices.Sort(names)
	out := make([]Listed, 0, len(names))
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(int(f.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, &fs.PathError{Op: "lstat", Path: filepath.Join(r.Path, n), Err: err}
		}
		out = append(out, Listed{Path: filepath.Join(r.Path, n), Dev: uint64(st.Dev), Ino: uint64(st.Ino), Type: typeBits(st.Mode)})
	}
	return out, nil
}

// Recheck checks, just before the root's path is handed to someone else
// (a cache's own clean command), that it is still the folder Open
// checked: Path still resolves to Real, and Real is still that folder,
// not a symlink put in its place. It returns Real, the path to hand on.
// What a program does with a path after that is beyond our reach; the
// window is as small as it can be made.
func (r *Root) Recheck() (string, error) {
	real, err := filepath.EvalSymlinks(r.Path)
	if err != nil {
		return "", err
	}
	if real != r.Real {
		return "", &fs.PathError{Op: "check", Path: r.Path, Err: fmt.Errorf("%w: it now resolves to %s, not %s", ErrChanged, real, r.Real)}
	}
	f, err := r.openRoot()
	if err != nil {
		return "", err
	}
	f.Close()
	return r.Real, nil
}
