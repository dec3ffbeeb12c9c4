package fsutil

import (
	"os"
	"path/filepath"
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

// bindMount mounts src at dst (creating dst: a folder for a folder, an
// empty file for a file) for the duration of the test, or skips the test
// when this process may not mount. A bind mount of the same file system
// has the same st_dev as everything around it: only the mount table
// tells it apart.
func bindMount(t *testing.T, src, dst string) {
	t.Helper()
	if fi, err := os.Stat(src); err == nil && !fi.IsDir() {
		if err := touch(dst, 0); err != nil {
			t.Fatal(err)
		}
	} else {
		mkdir(t, dst)
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount to test mount points (%v); needs CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dst, unix.MNT_DETACH) })
}
