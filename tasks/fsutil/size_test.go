package fsutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// duBytes runs `du -sb root` (GNU du: apparent size in bytes, hard links
// counted once) and returns its number; the test is skipped without du.
func duBytes(tb testing.TB, root string) int64 {
	tb.Helper()
	du, err := exec.LookPath("du")
	if err != nil {
		tb.Skip("du is not installed")
	}
	out, err := exec.Command(du, "-sb", root).Output()
	if err != nil {
		tb.Fatalf("du -sb %s: %v", root, err)
	}
	n, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		tb.Fatalf("du -sb printed %q", out)
	}
	return n
}

// mixedTree builds a tree with what makes sizing tricky: nested and empty
// folders, sparse files, hard links, symlinks (to files, folders, outside)
// and a big folder.
func mixedTree(t testing.TB, root string) {
	for i := range 30 {
		taskstest.File(t, filepath.Join(root, fmt.Sprintf("a%d", i%3), fmt.Sprintf("b%d", i%7), fmt.Sprintf("f%d", i)), int64(i*1013))
	}
	taskstest.File(t, filepath.Join(root, "sparse"), 50<<20)
	mkdir(t, filepath.Join(root, "empty", "also-empty"))
	big := mkdir(t, filepath.Join(root, "big"))
	for i := range 300 {
		taskstest.File(t, filepath.Join(big, fmt.Sprintf("entry-with-a-longish-name-%04d", i)), 1)
	}
	orig := taskstest.File(t, filepath.Join(root, "links", "orig"), 4096*3+5)
	for i := range 3 {
		if err := os.Link(orig, filepath.Join(root, "links", fmt.Sprint("hard", i))); err != nil {
			t.Fatal(err)
		}
	}
	taskstest.Symlink(t, "orig", filepath.Join(root, "links", "soft"))
	taskstest.Symlink(t, "/etc", filepath.Join(root, "links", "to-etc"))
	taskstest.Symlink(t, "../a0", filepath.Join(root, "links", "to-a0"))
}

func TestSizeMatchesDu(t *testing.T) {
	root := t.TempDir()
	mixedTree(t, root)
	u, res, err := Size(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ErrorCount != 0 {
		t.Fatal(res.Errors)
	}
	if want := duBytes(t, root); u.Bytes != want {
		t.Errorf("Size = %d bytes, du -sb = %d", u.Bytes, want)
	}
	// One level down, and a single file, too.
	sub := filepath.Join(root, "a1")
	if u, _, _ := Size(context.Background(), sub, Options{}); u.Bytes != duBytes(t, sub) {
		t.Errorf("Size(%s) = %d, du -sb = %d", sub, u.Bytes, duBytes(t, sub))
	}
	f := filepath.Join(root, "sparse")
	if u, _, _ := Size(context.Background(), f, Options{}); u.Bytes != 50<<20 || u.Files != 1 {
		t.Errorf("Size(file) = %+v", u)
	}
}

func TestSizeHardLinksCountedOnce(t *testing.T) {
	root := t.TempDir()
	orig := taskstest.File(t, filepath.Join(root, "orig"), 1000)
	for i := range 4 {
		if err := os.Link(orig, filepath.Join(root, fmt.Sprint("link", i))); err != nil {
			t.Fatal(err)
		}
	}
	u, _, err := Size(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Lstat(root)
	if want := fi.Size() + 1000; u.Bytes != want || u.Files != 5 {
		t.Errorf("got %d bytes, %d files; want %d bytes (the file once), 5 files", u.Bytes, u.Files, want)
	}
}

func TestSizeMissing(t *testing.T) {
	if _, _, err := Size(context.Background(), filepath.Join(t.TempDir(), "nope"), Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want not-exist", err)
	}
}
