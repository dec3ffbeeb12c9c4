package taskstest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// nobody is the uid a root test takes so that file modes apply to it.
const nobody = 65534

// Unreadable makes dir a mode-000 folder and runs f as a user that
// permission applies to. Tests run as root here, and root reads a mode-000
// folder anyway, so as root the whole process takes nobody's effective uid
// while f runs (every folder above dir is first opened to group and
// others, since nobody keeps root's group). The test is skipped, with the
// reason, only when the uid cannot be changed.
func Unreadable(t *testing.T, dir string, f func()) {
	t.Helper()
	if os.Geteuid() == 0 {
		for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
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
	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	if os.Geteuid() != 0 {
		f()
		return
	}
	if err := syscall.Seteuid(nobody); err != nil {
		t.Skipf("running as root and cannot drop to nobody to make a folder unreadable: %v", err)
	}
	defer func() {
		if err := syscall.Seteuid(0); err != nil {
			panic("cannot get root back: " + err.Error())
		}
	}()
	f()
}
