package fsutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// collect walks root and returns the visited paths relative to root (root
// itself as "."), sorted, with the same decorations as taskstest.Listing
// (the size is the one Walk reports).
func collect(t *testing.T, root string, opt Options) ([]string, Result) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	res, err := Walk(context.Background(), root, opt, func(e *Entry) {
		rel, _ := filepath.Rel(root, e.Path)
		switch {
		case e.IsDir():
			rel += "/"
		case e.IsSymlink():
			target, _ := os.Readlink(e.Path)
			rel += " -> " + target
		default:
			rel += fmt.Sprintf(" (%d)", e.Size)
		}
		mu.Lock()
		got = append(got, rel)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got, res
}

func TestWalkVisitsEverythingOnce(t *testing.T) {
	root := t.TempDir()
	for i := range 20 {
		for j := range 15 {
			taskstest.File(t, filepath.Join(root, fmt.Sprintf("d%02d", i), fmt.Sprintf("e%02d", j%5), fmt.Sprintf("f%02d", j)), int64(i*j))
		}
	}
	mkdir(t, filepath.Join(root, "empty", "deeper"))
	taskstest.Symlink(t, "d00", filepath.Join(root, "link-to-dir"))
	for _, workers := range []int{1, 2, 16} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			got, res := collect(t, root, Options{Workers: workers})
			want := append([]string{"./"}, taskstest.Listing(t, root)...)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("visited %d entries, want %d:\n%s", len(got), len(want), taskstest.Diff(got, want))
			}
			if res.Dirs != 1+20+20*5+2 || res.Files != 300+1 {
				t.Errorf("counted %d dirs and %d files, want 123 and 301", res.Dirs, res.Files)
			}
			if res.ErrorCount != 0 {
				t.Errorf("errors: %v", res.Errors)
			}
		})
	}
}

func TestWalkNeverFollowsSymlinks(t *testing.T) {
	base := t.TempDir()
	root := mkdir(t, filepath.Join(base, "root"))
	outside := mkdir(t, filepath.Join(base, "outside"))
	taskstest.File(t, filepath.Join(outside, "secret"), 10)
	taskstest.File(t, filepath.Join(root, "a"), 1)
	taskstest.Symlink(t, outside, filepath.Join(root, "to-dir"))
	taskstest.Symlink(t, filepath.Join(outside, "secret"), filepath.Join(root, "to-file"))
	taskstest.Symlink(t, ".", filepath.Join(root, "loop"))
	taskstest.Symlink(t, "nowhere", filepath.Join(root, "dangling"))

	got, _ := collect(t, root, Options{})
	want := []string{"./", "a (1)", "dangling -> nowhere", "loop -> .", "to-dir -> " + outside, "to-file -> " + filepath.Join(outside, "secret")}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}

	// A root that is itself a symlink is visited as the link, not entered.
	got, _ = collect(t, filepath.Join(root, "to-dir"), Options{})
	if len(got) != 1 || !strings.HasPrefix(got[0], ". -> ") {
		t.Fatalf("walking a symlink root visited %q", got)
	}
}

func TestWalkMaxDepth(t *testing.T) {
	root := t.TempDir()
	// f1 is directly in root (depth 1), f5 four folders down (depth 5).
	p := root
	for d := 1; d <= 6; d++ {
		taskstest.File(t, filepath.Join(p, fmt.Sprintf("f%d", d)), 1)
		p = filepath.Join(p, fmt.Sprintf("d%d", d))
	}
	depths := map[string]int{}
	var mu sync.Mutex
	_, err := Walk(context.Background(), root, Options{MaxDepth: 4}, func(e *Entry) {
		mu.Lock()
		depths[e.Name] = e.Depth
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	for d := 1; d <= 4; d++ {
		if got, ok := depths[fmt.Sprintf("f%d", d)]; !ok || got != d {
			t.Errorf("f%d: visited=%v depth=%d, want depth %d", d, ok, got, d)
		}
	}
	for _, name := range []string{"f5", "f6", "d5"} {
		if _, ok := depths[name]; ok {
			t.Errorf("%s is deeper than 4 and was visited", name)
		}
	}
	if depths["d4"] != 4 {
		t.Errorf("d4 (at depth 4) should be visited, not entered; depths %v", depths)
	}
}

func TestWalkFilter(t *testing.T) {
	root := t.TempDir()
	taskstest.File(t, filepath.Join(root, "keep", "x.log"), 5)
	taskstest.File(t, filepath.Join(root, "keep", "x.txt"), 5)
	taskstest.File(t, filepath.Join(root, "IndexedDB", "y.log"), 5)
	var stated []string
	var mu sync.Mutex
	opt := Options{Filter: func(e *Entry) bool {
		if e.Size != 0 || e.ModTime != (Entry{}).ModTime {
			t.Errorf("filter saw stat fields for %s", e.Path)
		}
		if e.IsDir() {
			return e.Name != "IndexedDB"
		}
		return strings.HasSuffix(e.Name, ".log")
	}}
	_, err := Walk(context.Background(), root, opt, func(e *Entry) {
		if !e.IsDir() {
			mu.Lock()
			stated = append(stated, e.Path)
			mu.Unlock()
			if e.Size != 5 {
				t.Errorf("%s: size %d, want 5", e.Path, e.Size)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(root, "keep", "x.log")}; !slices.Equal(stated, want) {
		t.Errorf("visited files %q, want %q", stated, want)
	}
}

func TestWalkReportsUnreadableFolderAndGoesOn(t *testing.T) {
	root := t.TempDir()
	taskstest.File(t, filepath.Join(root, "a", "readable"), 1)
	locked := mkdir(t, filepath.Join(root, "b", "locked"))
	taskstest.File(t, filepath.Join(locked, "hidden"), 1)
	taskstest.File(t, filepath.Join(root, "c", "also-readable"), 1)
	var got []string
	var res Result
	taskstest.Unreadable(t, locked, func() { got, res = collect(t, root, Options{}) })
	for _, want := range []string{"a/readable (1)", "c/also-readable (1)", "b/locked/"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s not visited; got %q", want, got)
		}
	}
	if slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, "b/locked/hidden") }) {
		t.Error("read inside the unreadable folder")
	}
	if res.ErrorCount != 1 || len(res.Errors) != 1 {
		t.Fatalf("errors %v, want one", res.Errors)
	}
	var pe *fs.PathError
	if !errors.As(res.Errors[0], &pe) || pe.Path != locked || !errors.Is(pe, fs.ErrPermission) {
		t.Errorf("error %v, want permission denied on %s", res.Errors[0], locked)
	}
}

func TestWalkRootProblems(t *testing.T) {
	root := t.TempDir()
	if _, err := Walk(context.Background(), filepath.Join(root, "missing"), Options{}, func(*Entry) {}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing root: %v, want not-exist", err)
	}
	f := taskstest.File(t, filepath.Join(root, "plain"), 7)
	got, res := collect(t, f, Options{})
	if !slices.Equal(got, []string{". (7)"}) || res.Files != 1 {
		t.Errorf("file root: visited %q, %d files", got, res.Files)
	}
	locked := mkdir(t, filepath.Join(root, "locked"))
	taskstest.Unreadable(t, locked, func() {
		if _, err := Walk(context.Background(), locked, Options{}, func(*Entry) {}); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("unreadable root: %v, want permission denied", err)
		}
	})
}

func TestWalkCanceled(t *testing.T) {
	root := t.TempDir()
	for i := range 50 {
		taskstest.File(t, filepath.Join(root, fmt.Sprint(i), "f"), 1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Walk(ctx, root, Options{}, func(*Entry) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestWalkStaysOnOneFileSystem(t *testing.T) {
	root := t.TempDir()
	taskstest.File(t, filepath.Join(root, "here"), 1)
	mnt := filepath.Join(root, "mnt")
	mountTmpfs(t, mnt)
	taskstest.File(t, filepath.Join(mnt, "elsewhere"), 1)

	got, res := collect(t, root, Options{})
	if !slices.Equal(got, []string{"./", "here (1)"}) {
		t.Errorf("visited %q, want only ./ and here", got)
	}
	if !slices.Equal(res.Mounts, []string{mnt}) {
		t.Errorf("mounts %q, want %q", res.Mounts, mnt)
	}
	got, _ = collect(t, root, Options{CrossDevices: true})
	if !slices.Contains(got, "mnt/elsewhere (1)") {
		t.Errorf("CrossDevices: visited %q, want mnt/elsewhere too", got)
	}
}

func TestWalkHandsAPanicBackToTheCaller(t *testing.T) {
	root := t.TempDir()
	for i := range 20 {
		taskstest.File(t, filepath.Join(root, fmt.Sprint(i), "f"), 1)
	}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "boom") {
			t.Fatalf("recovered %v, want the visitor's panic", r)
		}
	}()
	_, _ = Walk(context.Background(), root, Options{Workers: 4}, func(e *Entry) {
		if e.Name == "f" {
			panic("boom")
		}
	})
	t.Fatal("Walk returned")
}

// TestWalkEntriesAreTheirLstat: every entry carries its own lstat — a
// folder's comes from the statx that also tells a mount point, a file's
// from an fstatat on the listed name — so Listed() identities and sizes
// are what a later lstat of the path sees.
func TestWalkEntriesAreTheirLstat(t *testing.T) {
	root := t.TempDir()
	mixedTree(t, root)
	var mu sync.Mutex
	seen := 0
	_, err := Walk(context.Background(), root, Options{}, func(e *Entry) {
		var st unix.Stat_t
		if err := unix.Lstat(e.Path, &st); err != nil {
			t.Error(err)
			return
		}
		want := entryFrom(e.Path, filepath.Base(e.Path), e.Depth, &st)
		if *e != *want {
			t.Errorf("%s: walked %+v, lstat %+v", e.Path, *e, *want)
		}
		mu.Lock()
		seen++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 300 {
		t.Fatalf("visited %d entries", seen)
	}
}
