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

// The tests in this file hold the parallel walker to a plain one: a
// sequential walk written with nothing but lstat, open and a directory
// listing (refWalk), on a tree with everything that makes a walk tricky.
// Every entry's fields, the counts, the mounts, the errors and Size's
// total must be the same, for every worker count and option.

// refWalk is Walk's contract done the simplest way: depth first, one
// lstat per entry, no handles kept, no parallelism.
func refWalk(root string, opt Options) ([]Entry, Result, error) {
	root = filepath.Clean(root)
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return nil, Result{}, &fs.PathError{Op: "lstat", Path: root, Err: err}
	}
	top := entryFrom(root, filepath.Base(root), 0, &st)
	var res Result
	var out []Entry
	if !top.IsDir() {
		res.Files++
		return []Entry{*top}, res, nil
	}
	var rootErr error
	var dir func(d *Entry)
	dir = func(d *Entry) {
		res.Dirs++
		out = append(out, *d)
		if opt.MaxDepth > 0 && d.Depth >= opt.MaxDepth {
			return
		}
		f, err := os.Open(d.Path)
		if err != nil {
			perr := &fs.PathError{Op: "open", Path: d.Path, Err: errors.Unwrap(err)}
			if d.Depth == 0 {
				rootErr = perr
				return
			}
			res.ErrorCount++
			res.Errors = append(res.Errors, perr)
			return
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			panic(err) // not in the trees these tests build
		}
		for _, name := range names {
			p := filepath.Join(d.Path, name)
			if err := unix.Lstat(p, &st); err != nil {
				panic(err)
			}
			e := entryFrom(p, name, d.Depth+1, &st)
			if opt.Filter != nil && !opt.Filter(&Entry{Path: e.Path, Name: e.Name, Depth: e.Depth, Type: e.Type}) {
				continue
			}
			if !e.IsDir() {
				res.Files++
				out = append(out, *e)
				continue
			}
			if !opt.CrossDevices {
				var stx unix.Statx_t
				if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE, &stx); err != nil {
					panic(err)
				}
				if e.Dev != top.Dev || stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 {
					res.Mounts = append(res.Mounts, p)
					continue
				}
			}
			dir(e)
		}
	}
	dir(top)
	slices.Sort(res.Mounts)
	return out, res, rootErr
}

// refSize is du -sb's sum over refWalk's entries: every entry's st_size,
// a node with several hard links once.
func refSize(entries []Entry) int64 {
	seen := map[[2]uint64]bool{}
	var n int64
	for _, e := range entries {
		if !e.IsDir() && e.Nlink > 1 {
			if seen[[2]uint64{e.Dev, e.Ino}] {
				continue
			}
			seen[[2]uint64{e.Dev, e.Ino}] = true
		}
		n += e.Size
	}
	return n
}

// equivTree builds, below root: the mixed tree (sparse files, hard links
// in one folder, symlinks to files, folders and outside), a few thousand
// files in many folders, hard links across folders, a dangling and a
// looping symlink, a FIFO, empty folders, a folder made unreadable by the
// caller (returned), and a chain of folders deeper than the walker keeps
// handles open for, with a file and an empty side folder at every level.
func equivTree(t *testing.T, root string) (locked string) {
	t.Helper()
	mixedTree(t, filepath.Join(root, "mixed"))
	for i := range 40 {
		for j := range 60 {
			taskstest.File(t, filepath.Join(root, "many", fmt.Sprintf("d%02d", i), fmt.Sprintf("f%03d", j)), int64((i*60+j)*7%5000))
		}
	}
	for i := range 5 {
		src := filepath.Join(root, "many", "d00", fmt.Sprintf("f%03d", i))
		if err := os.Link(src, filepath.Join(root, "many", fmt.Sprintf("d%02d", 10+i), "hard")); err != nil {
			t.Fatal(err)
		}
	}
	taskstest.Symlink(t, "nowhere", filepath.Join(root, "links", "dangling"))
	taskstest.Symlink(t, "loop", filepath.Join(root, "links", "loop"))
	taskstest.Symlink(t, "../many", filepath.Join(root, "links", "to-many"))
	if err := unix.Mkfifo(filepath.Join(root, "links", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	mkdir(t, filepath.Join(root, "empty", "a", "b", "c"))
	locked = filepath.Join(root, "locked")
	taskstest.File(t, filepath.Join(locked, "inside", "f"), 10)
	taskstest.File(t, filepath.Join(root, "nextto-locked", "f"), 11)
	deep := filepath.Join(root, "deep")
	for i := range 2 * maxHeldDirs {
		taskstest.File(t, filepath.Join(deep, "f"), int64(i))
		mkdir(t, filepath.Join(deep, "s"))
		deep = filepath.Join(deep, "d")
	}
	mkdir(t, deep)
	return locked
}

// entryLine is an entry as one comparable line: every field.
func entryLine(e *Entry) string {
	return fmt.Sprintf("%s name=%s depth=%d type=%v size=%d mtime=%d dev=%d ino=%d nlink=%d",
		e.Path, e.Name, e.Depth, e.Type, e.Size, e.ModTime.UnixNano(), e.Dev, e.Ino, e.Nlink)
}

func errLines(errs []error) []string {
	var out []string
	for _, err := range errs {
		out = append(out, err.Error())
	}
	slices.Sort(out)
	return out
}

// compareWithRef walks root with Walk, Size and refWalk under opt and
// fails on any difference.
func compareWithRef(t *testing.T, root string, opt Options) {
	t.Helper()
	want, wantRes, wantErr := refWalk(root, opt)
	var mu sync.Mutex
	var got []string
	res, err := Walk(context.Background(), root, opt, func(e *Entry) {
		mu.Lock()
		got = append(got, entryLine(e))
		mu.Unlock()
	})
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("Walk error %v, reference %v", err, wantErr)
	}
	var wantLines []string
	for i := range want {
		wantLines = append(wantLines, entryLine(&want[i]))
	}
	slices.Sort(got)
	slices.Sort(wantLines)
	if !slices.Equal(got, wantLines) {
		for _, l := range got {
			if !slices.Contains(wantLines, l) {
				t.Errorf("walked, not in the reference: %s", l)
			}
		}
		for _, l := range wantLines {
			if !slices.Contains(got, l) {
				t.Errorf("in the reference, not walked: %s", l)
			}
		}
		t.FailNow()
	}
	if res.Dirs != wantRes.Dirs || res.Files != wantRes.Files || res.ErrorCount != wantRes.ErrorCount {
		t.Errorf("Walk counted %d folders, %d files, %d errors; reference %d, %d, %d",
			res.Dirs, res.Files, res.ErrorCount, wantRes.Dirs, wantRes.Files, wantRes.ErrorCount)
	}
	if !slices.Equal(res.Mounts, wantRes.Mounts) {
		t.Errorf("Walk mounts %q, reference %q", res.Mounts, wantRes.Mounts)
	}
	if g, w := errLines(res.Errors), errLines(wantRes.Errors); !slices.Equal(g, w) {
		t.Errorf("Walk errors %q, reference %q", g, w)
	}
	u, sres, err := Size(context.Background(), root, opt)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("Size error %v, reference %v", err, wantErr)
	}
	if wb := refSize(want); u.Bytes != wb || u.Files != wantRes.Files || u.Dirs != wantRes.Dirs {
		t.Errorf("Size %d bytes, %d files, %d folders; reference %d, %d, %d", u.Bytes, u.Files, u.Dirs, wb, wantRes.Files, wantRes.Dirs)
	}
	if g, w := errLines(sres.Errors), errLines(wantRes.Errors); !slices.Equal(g, w) || !slices.Equal(sres.Mounts, wantRes.Mounts) {
		t.Errorf("Size errors %q mounts %q, reference %q %q", g, sres.Mounts, w, wantRes.Mounts)
	}
}

// equivOptions are the ways the tasks walk: plain, filtered by name like
// the disk task (rejecting folders too), depth-limited, and a filter with
// a depth limit; each with one worker, a few, and many.
func equivOptions() map[string]Options {
	filter := func(e *Entry) bool {
		return e.Name != "s" && !strings.HasSuffix(e.Name, "7") && e.Name != "d03"
	}
	out := map[string]Options{}
	for _, w := range []int{1, 2, 3, 16} {
		out[fmt.Sprintf("plain/workers=%d", w)] = Options{Workers: w}
		out[fmt.Sprintf("filter/workers=%d", w)] = Options{Workers: w, Filter: filter}
		out[fmt.Sprintf("maxdepth=3/workers=%d", w)] = Options{Workers: w, MaxDepth: 3}
		out[fmt.Sprintf("filter,maxdepth=100/workers=%d", w)] = Options{Workers: w, Filter: filter, MaxDepth: 100}
	}
	out["default"] = Options{}
	return out
}

func TestWalkMatchesPlainLstatWalk(t *testing.T) {
	root := t.TempDir()
	locked := equivTree(t, root)
	if want, du := refSizeOf(t, root), duBytes(t, root); want != du {
		t.Fatalf("the reference sums %d bytes, du -sb %d: the reference is wrong", want, du)
	}
	// A bind mount inside (which du would enter), where the process may mount: not entered.
	if os.Geteuid() == 0 && unix.Mount(filepath.Join(root, "many", "d01"), mkdir(t, filepath.Join(root, "bound")), "", unix.MS_BIND, "") == nil {
		t.Cleanup(func() { _ = unix.Unmount(filepath.Join(root, "bound"), unix.MNT_DETACH) })
	}
	for name, opt := range equivOptions() {
		t.Run(name, func(t *testing.T) { compareWithRef(t, root, opt) })
	}
	taskstest.Unreadable(t, locked, func() {
		for _, w := range []int{1, 4} {
			t.Run(fmt.Sprintf("unreadable/workers=%d", w), func(t *testing.T) { compareWithRef(t, root, Options{Workers: w}) })
		}
	})
}

func refSizeOf(t *testing.T, root string) int64 {
	t.Helper()
	entries, _, err := refWalk(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return refSize(entries)
}

// TestWalkClosesEveryFolder: whatever way a walk ends — done, canceled
// from a visit, or a visit's panic — it leaves no folder open.
func TestWalkClosesEveryFolder(t *testing.T) {
	root := t.TempDir()
	equivTree(t, root)
	before := openFDs(t)
	for _, w := range []int{1, 3, 8} {
		if _, err := Walk(context.Background(), root, Options{Workers: w}, func(*Entry) {}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var once sync.Once
		_, err := Walk(ctx, root, Options{Workers: w}, func(e *Entry) {
			if e.Depth > 40 {
				once.Do(cancel)
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("workers=%d: canceled walk returned %v", w, err)
		}
		func() {
			defer func() { _ = recover() }()
			_, _ = Walk(context.Background(), root, Options{Workers: w}, func(e *Entry) {
				if e.Depth > 60 {
					panic("boom")
				}
			})
		}()
		if after := openFDs(t); after != before {
			t.Fatalf("workers=%d: %d descriptors open after the walks, %d before", w, after, before)
		}
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents) - 1 // the one ReadDir had open
}
