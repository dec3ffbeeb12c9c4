package schedule

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
	"github.com/rebuild-nixos/rebuild/internal/safefile"
)

// Lock is the single-run lock of a state directory.
type Lock struct {
	f *os.File
}

// LockedError says another run holds the lock.
type LockedError struct {
	Path  string
	PID   int
	Since time.Time
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("another rebuild is running (lock %s)", e.Path)
	}
	return fmt.Sprintf("another rebuild is running: pid %d, started %s (lock %s)",
		e.PID, e.Since.Local().Format("2006-01-02 15:04:05"), e.Path)
}

// ExitCode is exitcode.Locked.
func (e *LockedError) ExitCode() int { return exitcode.Locked }

// AcquireLock takes an exclusive flock on dir/lock without waiting and
// writes our pid and start time into it. The kernel drops the lock when
// the process dies, so a crash never leaves a stale lock behind.
//
// dir is created when missing and must belong to the user running
// rebuild or to root (an *safefile.OwnerError otherwise): a root run with
// another user's state directory (sudo -E, a shared state_dir) must not
// write through links that user planted, so lock is never followed if it
// is a link, and, run as root in a user's directory, it belongs to that
// user afterwards.
func AcquireLock(dir string, now time.Time) (*Lock, error) {
	d, err := safefile.OpenDirAll(dir, 0o755)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := d.CheckOwner(os.Geteuid()); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "lock")
	f, err := d.OpenFile("lock", os.O_RDWR|os.O_CREATE, 0o644)
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%w (an earlier run as another user, such as root, may have left it; `sudo chown -R %d %s` gives the state back to you)",
			err, os.Geteuid(), dir)
	}
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &LockedError{Path: path}
			b := make([]byte, 64)
			if n, err := f.ReadAt(b, 0); n > 0 && (err == nil || errors.Is(err, io.EOF)) {
				fields := strings.Fields(string(b[:n]))
				if len(fields) >= 2 {
					le.PID, _ = strconv.Atoi(fields[0])
					if sec, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
						le.Since = time.Unix(sec, 0)
					}
				}
			}
			return nil, le
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("%d %d\n", os.Getpid(), now.Unix())), 0)
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	err := l.f.Close()
	l.f = nil
	return err
}
