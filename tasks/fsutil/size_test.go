package fsutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

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

// everything is a Filter that admits every entry: with it, Size goes the
// way it always went, an Entry stat'ed and visited for every file.
func everything(*Entry) bool { return true }

// referenceUsage sizes root the plain way, with filepath.WalkDir and
// os.Lstat, hard links counted once, not entering the folders in skip
// (the mount points, which are not counted either): what Size must agree
// with. It returns the paths it
// could not read, sorted.
func referenceUsage(t *testing.T, root string, skip []string) (Usage, []string) {
	t.Helper()
	var u Usage
	var bad []string
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			bad = append(bad, p)
			return nil // WalkDir has already visited the folder itself
		}
		if slices.Contains(skip, p) {
			return filepath.SkipDir // a mount point is neither entered nor counted
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.IsDir() {
			u.Dirs++
		} else {
			u.Files++
			if st.Nlink > 1 {
				k := [2]uint64{st.Dev, st.Ino}
				if seen[k] {
					return nil
				}
				seen[k] = true
			}
		}
		u.Bytes += fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(bad)
	return u, bad
}

// errorPaths are the paths named by res.Errors, sorted.
func errorPaths(t *testing.T, res Result) []string {
	var out []string
	for _, err := range res.Errors {
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v names no path", err)
		}
		out = append(out, pe.Path)
	}
	slices.Sort(out)
	return out
}

// TestSizeFastPathMatchesTheEntryWay: Size without a filter counts files
// straight from their stat; it must give what the Entry-per-file way
// gives, and what a plain WalkDir and du -sb give, on a tree with
// symlinks (to files, folders, outside, dangling, a loop), hard links
// (also one whose other name is outside the tree), sparse files, a fifo,
// empty folders, an unreadable folder and, where this process may mount,
// a bind mount it must not enter.
func TestSizeFastPathMatchesTheEntryWay(t *testing.T) {
	base := t.TempDir()
	root := mkdir(t, filepath.Join(base, "root"))
	mixedTree(t, root)
	outside := taskstest.File(t, filepath.Join(base, "outside"), 777)
	if err := os.Link(outside, filepath.Join(root, "links", "hard-to-outside")); err != nil {
		t.Fatal(err)
	}
	taskstest.Symlink(t, "nowhere", filepath.Join(root, "links", "dangling"))
	taskstest.Symlink(t, ".", filepath.Join(root, "links", "loop"))
	for i := range 5 {
		taskstest.File(t, filepath.Join(root, "sparse-dir", fmt.Sprint("s", i)), int64(i)<<30)
	}
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	locked := mkdir(t, filepath.Join(root, "a1", "locked"))
	taskstest.File(t, filepath.Join(locked, "hidden"), 12345)
	var mounts []string
	mnt := mkdir(t, filepath.Join(root, "a2", "bound"))
	if err := unix.Mount(filepath.Join(root, "big"), mnt, "", unix.MS_BIND, ""); err == nil {
		t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
		mounts = []string{mnt}
	} else {
		t.Logf("no bind mount in this tree (%v): mount points not compared", err)
	}

	taskstest.Unreadable(t, locked, func() {
		want, wantBad := referenceUsage(t, root, mounts)
		if !slices.Equal(wantBad, []string{locked}) {
			t.Fatalf("the reference could not read %q, want only %s", wantBad, locked)
		}
		for _, workers := range []int{1, 2, 8} {
			fast, fres, err := Size(context.Background(), root, Options{Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			slow, sres, err := Size(context.Background(), root, Options{Workers: workers, Filter: everything})
			if err != nil {
				t.Fatal(err)
			}
			if fast != slow || fast != want {
				t.Errorf("workers=%d: fast way %+v, Entry way %+v, WalkDir %+v", workers, fast, slow, want)
			}
			if fres.ErrorCount != 1 || sres.ErrorCount != 1 || !slices.Equal(errorPaths(t, fres), wantBad) || !slices.Equal(errorPaths(t, sres), wantBad) {
				t.Errorf("workers=%d: errors fast %v, Entry way %v; want one, for %s", workers, fres.Errors, sres.Errors, locked)
			}
			if !slices.Equal(fres.Mounts, sres.Mounts) || !slices.Equal(fres.Mounts, mounts) {
				t.Errorf("workers=%d: mounts fast %q, Entry way %q, want %q", workers, fres.Mounts, sres.Mounts, mounts)
			}
			if fres.Files != fast.Files || fres.Dirs != fast.Dirs {
				t.Errorf("workers=%d: Result counts %d/%d, Usage %d/%d", workers, fres.Files, fres.Dirs, fast.Files, fast.Dirs)
			}
		}
		// du -sb, where installed, agrees too (without a mount in the
		// tree: du -sb enters one); it complains about the locked folder.
		if du, err := exec.LookPath("du"); err == nil && mounts == nil {
			out, _ := exec.Command(du, "-sb", root).Output()
			if f := strings.Fields(string(out)); len(f) == 0 || f[0] != strconv.FormatInt(want.Bytes, 10) {
				t.Errorf("du -sb printed %q, Size %d bytes", out, want.Bytes)
			}
		}
	})
}

// TestSizeAllocatesNothingPerFile: sizing a folder of many files costs a
// fixed number of allocations, not some per file (an Entry, its path, its
// name and a C string for the stat each made a big tree's walk slower
// than du).
func TestSizeAllocatesNothingPerFile(t *testing.T) {
	root := t.TempDir()
	const files = 2000
	for i := range files {
		if err := touch(filepath.Join(root, fmt.Sprintf("file-%05d", i)), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(5, func() {
		if u, _, err := Size(context.Background(), root, Options{Workers: 1}); err != nil || u.Files != files {
			t.Fatalf("Size: %+v, %v", u, err)
		}
	})
	if allocs > files/20 {
		t.Errorf("Size of %d files allocated %.0f times, want fewer than %d", files, allocs, files/20)
	}
}
