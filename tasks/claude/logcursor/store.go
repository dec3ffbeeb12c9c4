package logcursor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
)

// Store is one state file of a directory, held under a lock file of its
// own from Open to Close, so two runs at once (or two tasks of one run
// reading the same logs) never both read the same new bytes nor write
// each other's file half-way: the second waits, then finds what the
// first kept.
//
// The file is a journal: a frame holding a whole state (Replace), then
// frames of what changed since (Append), each framed with its length and
// a checksum. A run that read a few new lines appends their few bytes
// instead of writing every record again; its reader applies the frames
// in order. A frame cut short or damaged (a run stopped half-way) ends
// the journal there: what follows is not read, and the next Append
// writes over it.
type Store struct {
	dir  *safefile.Dir
	lock *os.File
	name string
	// f is the state file, open for appending (nil: none yet), end the
	// end of its last whole frame and size its size.
	f         *os.File
	end, size int64
	// Now is the file system's time (nanoseconds) when the lock was
	// taken, read from the lock file written then: the time from which
	// Cursor.Advance judges files settled. Zero when it could not be
	// told.
	Now int64
}

// journalMagic starts a state file; a file without it is no state (one
// of an older version, say: what it kept is read again).
const journalMagic = "rebuild state journal 1\n"

// castagnoli is the checksum of each frame.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Open opens the state file name in stateDir (created when missing),
// waiting for ctx to take the lock file lockName, and returns its frames
// in the order written, the first a whole state: nil when there is none
// or it cannot be read (what it kept is then read again, never counted
// wrong). The frames alias one buffer, the file's bytes.
func Open(ctx context.Context, stateDir, name, lockName string) (*Store, [][]byte, error) {
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
	f, err := dir.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return st, nil, nil
	}
	var b []byte
	if fi, err := f.Stat(); err == nil {
		b = make([]byte, 0, fi.Size()+1) // read in one go, not grown
	}
	if b, err = readAll(f, b); err != nil {
		f.Close()
		return st, nil, nil
	}
	frames, end := splitFrames(b)
	if frames == nil {
		f.Close()
		return st, nil, nil
	}
	st.f, st.end, st.size = f, end, int64(len(b))
	return st, frames, nil
}

// splitFrames returns the whole frames of a journal and where the last
// one ends; nil when b is not a journal or holds no whole frame.
func splitFrames(b []byte) (frames [][]byte, end int64) {
	if len(b) < len(journalMagic) || string(b[:len(journalMagic)]) != journalMagic {
		return nil, 0
	}
	pos := len(journalMagic)
	for pos < len(b) {
		n, k := binary.Uvarint(b[pos:])
		if k <= 0 || n > uint64(len(b)-pos-k) || uint64(len(b)-pos-k)-n < 4 {
			break
		}
		data := b[pos+k : pos+k+int(n)]
		sum := binary.LittleEndian.Uint32(b[pos+k+int(n):])
		if crc32.Checksum(data, castagnoli) != sum {
			break
		}
		frames = append(frames, data)
		pos += k + int(n) + 4
	}
	if frames == nil {
		return nil, 0
	}
	return frames, int64(pos)
}

// appendFrame frames data at the end of b.
func appendFrame(b, data []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(data)))
	b = append(b, data...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(data, castagnoli))
}

// Dir is the state directory, for files kept beside the state file under
// the same lock.
func (st *Store) Dir() *safefile.Dir { return st.dir }

// Path is the state file's path.
func (st *Store) Path() string { return st.dir.Path() + "/" + st.name }

// Replace writes data as the state file's new content, its one frame,
// through a temporary file renamed over it: a run that stops half-way
// leaves the old content whole.
func (st *Store) Replace(data []byte) error {
	tmp := "." + st.name + ".tmp"
	out := appendFrame(append(make([]byte, 0, len(journalMagic)+len(data)+16), journalMagic...), data)
	f, err := st.dir.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		if _, err = f.Write(out); err == nil {
			err = st.dir.Rename(tmp, st.name)
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		_ = st.dir.Remove(tmp)
		return fmt.Errorf("keeping %s: %w", st.Path(), err)
	}
	if st.f != nil {
		st.f.Close()
	}
	st.f, st.end, st.size = f, int64(len(out)), int64(len(out))
	return nil
}

// Append adds data as a frame after the last whole one, over anything a
// run stopped half-way left after it. A store without a state (nothing
// read, nothing replaced) takes data as its whole state.
func (st *Store) Append(data []byte) error {
	if st.f == nil {
		return st.Replace(data)
	}
	frame := appendFrame(nil, data)
	if _, err := st.f.WriteAt(frame, st.end); err != nil {
		return fmt.Errorf("keeping %s: %w", st.Path(), err)
	}
	end := st.end + int64(len(frame))
	if st.size > end { // the rest of a frame cut short
		if err := st.f.Truncate(end); err != nil {
			return fmt.Errorf("keeping %s: %w", st.Path(), err)
		}
	}
	st.end, st.size = end, end
	return nil
}

// Remove deletes the state file, if any.
func (st *Store) Remove() error {
	if st.f != nil {
		st.f.Close()
		st.f, st.end, st.size = nil, 0, 0
	}
	if err := st.dir.Remove(st.name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", st.Path(), err)
	}
	return nil
}

// Close releases the lock.
func (st *Store) Close() {
	if st != nil {
		if st.f != nil {
			st.f.Close()
		}
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
