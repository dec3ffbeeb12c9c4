package logcursor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
)

// Store is one state file of a directory, held under a lock file of its
// own from Open to Close, so two runs at once (or two tasks of one run
// reading the same logs) never both read the same new bytes nor replace
// each other's file half-written: the second waits, then finds what the
// first kept.
type Store struct {
	dir  *safefile.Dir
	lock *os.File
	name string
	// Now is the file system's time (nanoseconds) when the lock was
	// taken, read from the lock file written then: the time from which
	// Cursor.Advance judges files settled. Zero when it could not be
	// told.
	Now int64
}

// Open opens the state file name in stateDir (created when missing),
// waiting for ctx to take the lock file lockName, and returns its
// content: nil when there is none or it cannot be read (what it kept is
// then read again, never counted wrong).
func Open(ctx context.Context, stateDir, name, lockName string) (*Store, []byte, error) {
	dir, err := safefile.OpenDirAll(stateDir, 0o755)
	if err != nil {
		return nil, nil, fmt.Errorf("%s in %s: %w", name, stateDir, err)
	}
	lock, err := lockFile(ctx, dir, lockName)
	if err != nil {
		dir.Close()
		return nil, nil, err
	}
	st := &Store{dir: dir, lock: lock, name: name, Now: touch(lock)}
	f, err := dir.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return st, nil, nil
	}
	defer f.Close()
	var b []byte
	if fi, err := f.Stat(); err == nil {
		b = make([]byte, 0, fi.Size()+1) // read in one go, not grown
	}
	if b, err = readAll(f, b); err != nil {
		return st, nil, nil
	}
	return st, b, nil
}

// Dir is the state directory, for files kept beside the state file under
// the same lock.
func (st *Store) Dir() *safefile.Dir { return st.dir }

// Path is the state file's path.
func (st *Store) Path() string { return st.dir.Path() + "/" + st.name }

// Replace writes data as the state file's new content, through a
// temporary file renamed over it: a run that stops half-way leaves the
// old content whole.
func (st *Store) Replace(data []byte) error {
	tmp := "." + st.name + ".tmp"
	f, err := st.dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = st.dir.Rename(tmp, st.name)
	}
	if err != nil {
		_ = st.dir.Remove(tmp)
		return fmt.Errorf("keeping %s: %w", st.Path(), err)
	}
	return nil
}

// Remove deletes the state file, if any.
func (st *Store) Remove() error {
	if err := st.dir.Remove(st.name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", st.Path(), err)
	}
	return nil
}

// Close releases the lock.
func (st *Store) Close() {
	if st != nil {
		st.lock.Close() // releases the lock
		st.dir.Close()
	}
}

// readAll is io.ReadAll into b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// touch writes the lock file and returns its new change time: the file
// system's clock, the one files' times are set by.
func touch(f *os.File) int64 {
	if _, err := f.WriteAt([]byte{'\n'}, 0); err != nil {
		return 0
	}
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	return Of(fi).Ctime
}

// lockFile takes the lock file name in dir, waiting for ctx.
func lockFile(ctx context.Context, dir *safefile.Dir, name string) (*os.File, error) {
	f, err := dir.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", name, dir.Path(), err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", dir.Path()+"/"+name, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
