package fsutil

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func mkdir(t testing.TB, path string) string {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// mountTmpfs mounts a small tmpfs at dir (creating it) for the duration
// of the test, or skips the test when this process may not mount.
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	mkdir(t, dir)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs to test file-system boundaries (%v); needs CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
}

// unreadable makes dir unreadable and runs f as a user that the
// permissions apply to. Root reads a mode-000 folder anyway, so as root
// the whole process takes the effective uid of nobody while f runs (the
// tree must then be reachable by others: the caller opens it up with
// openUp) and gets root back afterwards.
func unreadable(t *testing.T, dir string, f func()) {
	t.Helper()
	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	if os.Geteuid() != 0 {
		f()
		return
	}
	if err := syscall.Seteuid(65534); err != nil {
		t.Skipf("running as root and cannot drop to nobody to make a folder unreadable: %v", err)
	}
	defer func() {
		if err := syscall.Seteuid(0); err != nil {
			panic("cannot get root back: " + err.Error())
		}
	}()
	f()
}

// openUp makes dir and every parent up to / readable and traversable by
// group and others (nobody keeps root's group), so a test can run part of
// itself as nobody (see unreadable).
func openUp(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o055 != 0o055 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o055); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func touch(path string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
