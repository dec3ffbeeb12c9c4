package schedule

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
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
func AcquireLock(dir string, now time.Time) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &LockedError{Path: path}
			if b, err := os.ReadFile(path); err == nil {
				fields := strings.Fields(string(b))
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
