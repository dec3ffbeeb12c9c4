package fsutil

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// sandbox is a home directory with a cache folder inside and a folder
// outside the home that must survive everything.
type sandbox struct {
	base, home, cache, outside string
}

func newSandbox(t *testing.T) sandbox {
	base := t.TempDir()
	s := sandbox{
		base:    base,
		home:    mkdir(t, filepath.Join(base, "home")),
		outside: mkdir(t, filepath.Join(base, "outside")),
	}
	s.cache = mkdir(t, filepath.Join(s.home, ".cache", "tool"))
	taskstest.File(t, filepath.Join(s.outside, "precious"), 100)
	taskstest.File(t, filepath.Join(s.outside, "dir", "precious-too"), 100)
	taskstest.File(t, filepath.Join(s.home, "keep-me"), 100)
	return s
}

func TestGuardRefuses(t *testing.T) {
	s := newSandbox(t)
	g := Guard{Home: s.home}
	taskstest.Symlink(t, s.outside, filepath.Join(s.home, "link-out"))
	taskstest.Symlink(t, s.home, filepath.Join(s.home, ".cache", "link-home"))
	f := taskstest.File(t, filepath.Join(s.home, "a-file"), 1)
	for _, c := range []struct {
		name, root string
		outside    bool
		reason     string
	}{
		{"root of the file system", "/", true, "root of the file system"},
		{"home itself", s.home, true, "home directory itself"},
		{"home with a trailing slash", s.home + "/", true, "home directory itself"},
		{"a link to home", filepath.Join(s.home, ".cache", "link-home"), true, "home directory itself"},
		{"parent of home", s.base, true, "contains the home directory"},
		{"outside home", s.outside, false, "outside the home directory"},
		{"a link inside home to outside", filepath.Join(s.home, "link-out"), false, "outside the home directory"},
		{"dot-dot out of home", s.home + "/.cache/../../outside", false, "outside the home directory"},
		{"relative", ".cache/tool", true, "not an absolute path"},
		{"a file", f, false, "not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := g.Open(c.root, c.outside)
			var re *RootError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("Open(%q) = %v, %v; want a RootError saying %q", c.root, r, err, c.reason)
			}
			if re.Outside != (c.reason == "outside the home directory") {
				t.Errorf("Outside = %v", re.Outside)
			}
		})
	}
	if _, err := g.Open(filepath.Join(s.home, "missing"), false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing root: %v", err)
	}
	if _, err := (Guard{}).Open(s.cache, false); err == nil {
		t.Error("no home: a root inside nothing was accepted")
	}
	// Allowed: inside home, and outside when configured explicitly.
	if r, err := g.Open(s.cache, false); err != nil || r.Real != s.cache {
		t.Errorf("cache inside home: %v, %v", r, err)
	}
	if r, err := g.Open(filepath.Join(s.home, "link-out"), true); err != nil || r.Real != s.outside {
		t.Errorf("linked root allowed outside: %v, %v", r, err)
	}
}

func TestRemoveContentsLeavesLinkTargetsAlone(t *testing.T) {
	s := newSandbox(t)
	taskstest.File(t, filepath.Join(s.cache, "blob", "x"), 5000)
	taskstest.File(t, filepath.Join(s.cache, "deep", "er", "y"), 7000)
	taskstest.Symlink(t, filepath.Join(s.outside, "precious"), filepath.Join(s.cache, "to-file"))
	taskstest.Symlink(t, filepath.Join(s.outside, "dir"), filepath.Join(s.cache, "to-dir"))
	taskstest.Symlink(t, filepath.Join(s.outside, "dir"), filepath.Join(s.cache, "deep", "to-dir"))
	outsideBefore := taskstest.Listing(t, s.outside)
	want, _, _ := Size(context.Background(), s.cache, Options{})
	rootSize := func() int64 { fi, _ := os.Lstat(s.cache); return fi.Size() }()

	r, err := Guard{Home: s.home}.Open(s.cache, false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.RemoveContents(context.Background(), false)
	if err != nil || len(out.Errors) != 0 {
		t.Fatal(err, out.Errors)
	}
	if got := taskstest.Listing(t, s.cache); len(got) != 0 {
		t.Errorf("left in the cache: %q", got)
	}
	if got := taskstest.Listing(t, s.outside); !slices.Equal(got, outsideBefore) {
		t.Errorf("outside changed:\n%s", taskstest.Diff(got, outsideBefore))
	}
	if _, err := os.Stat(filepath.Join(s.home, "keep-me")); err != nil {
		t.Error("a file beside the cache went:", err)
	}
	if out.Bytes != want.Bytes-rootSize {
		t.Errorf("removed %d bytes, want %d (the cache's size without its own folder)", out.Bytes, want.Bytes-rootSize)
	}
	var paths []string
	for _, rm := range out.Removed {
		paths = append(paths, filepath.Base(rm.Path))
	}
	if !slices.Equal(paths, []string{"blob", "deep", "to-dir", "to-file"}) {
		t.Errorf("removed %q", paths)
	}
}

func TestRemoveRefusesWhatIsNotStrictlyInside(t *testing.T) {
	s := newSandbox(t)
	taskstest.File(t, filepath.Join(s.cache, "ok"), 1)
	taskstest.Symlink(t, s.outside, filepath.Join(s.cache, "out"))
	before := taskstest.Listing(t, s.base)
	r, err := Guard{Home: s.home}.Open(s.cache, false)
	if err != nil {
		t.Fatal(err)
	}
	bad := []string{
		s.cache,
		s.cache + "/",
		s.cache + "/.",
		filepath.Join(s.cache, "..", "tool-sibling"),
		s.cache + "/../../keep-me",
		filepath.Join(s.outside, "precious"),
		filepath.Join(s.cache, "out", "precious"), // through a link to outside
		filepath.Join(s.cache, "out", "dir"),
		"/",
		"relative/path",
	}
	for _, dry := range []bool{true, false} {
		out, err := r.Remove(context.Background(), bad, dry)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Removed) != 0 || out.Entries != 0 || len(out.Errors) != len(bad) {
			t.Errorf("dry=%v: removed %v, %d errors for %d bad paths: %v", dry, out.Removed, len(out.Errors), len(bad), out.Errors)
		}
		for _, e := range out.Errors {
			if !strings.Contains(e.Error(), "refused") {
				t.Errorf("error does not say refused: %v", e)
			}
		}
	}
	if got := taskstest.Listing(t, s.base); !slices.Equal(got, before) {
		t.Errorf("something changed:\n%s", taskstest.Diff(got, before))
	}
}

func TestRemoveDryRunListsExactlyWhatGoes(t *testing.T) {
	s := newSandbox(t)
	mixedTree(t, s.cache)
	taskstest.Symlink(t, s.outside, filepath.Join(s.cache, "z-out"))
	before := taskstest.Listing(t, s.base)
	r, err := Guard{Home: s.home}.Open(s.cache, false)
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{filepath.Join(s.cache, "a1"), filepath.Join(s.cache, "links"), filepath.Join(s.cache, "z-out"), filepath.Join(s.cache, "missing")}
	dry, err := r.Remove(context.Background(), targets, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := taskstest.Listing(t, s.base); !slices.Equal(got, before) {
		t.Fatalf("the dry run changed things:\n%s", taskstest.Diff(got, before))
	}
	real, err := r.Remove(context.Background(), targets, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dry.Removed, real.Removed) || dry.Bytes != real.Bytes || dry.Entries != real.Entries {
		t.Errorf("dry run said %+v (%d bytes), real run removed %+v (%d bytes)", dry.Removed, dry.Bytes, real.Removed, real.Bytes)
	}
	if len(real.Errors) != 1 || !errors.Is(real.Errors[0], fs.ErrNotExist) {
		t.Errorf("errors %v, want only the missing path", real.Errors)
	}
	want := taskstest.Without(before, "home/.cache/tool/a1/", "home/.cache/tool/links/", "home/.cache/tool/z-out -> "+s.outside)
	if got := taskstest.Listing(t, s.base); !slices.Equal(got, want) {
		t.Errorf("after the real run:\n%s", taskstest.Diff(got, want))
	}
}

func TestRemoveDoesNotEnterAnotherFileSystem(t *testing.T) {
	s := newSandbox(t)
	mnt := filepath.Join(s.cache, "sub", "mnt")
	mountTmpfs(t, mnt)
	taskstest.File(t, filepath.Join(mnt, "on-tmpfs"), 10)
	taskstest.File(t, filepath.Join(s.cache, "sub", "plain"), 10)
	taskstest.File(t, filepath.Join(s.cache, "other"), 10)
	r, err := Guard{Home: s.home}.Open(s.cache, false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.RemoveContents(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "on-tmpfs")); err != nil {
		t.Errorf("a file on the mounted file system went: %v", err)
	}
	if len(out.Errors) != 1 || !strings.Contains(out.Errors[0].Error(), "another file system") {
		t.Errorf("errors %v", out.Errors)
	}
	if len(out.Removed) != 1 || filepath.Base(out.Removed[0].Path) != "other" {
		t.Errorf("removed %v, want only other (sub holds the mount)", out.Removed)
	}
	if _, err := os.Stat(filepath.Join(s.cache, "sub", "plain")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sub/plain should be gone: %v", err)
	}
}

func TestRemoveCountsHardLinksOnce(t *testing.T) {
	s := newSandbox(t)
	orig := taskstest.File(t, filepath.Join(s.cache, "orig"), 1000)
	if err := os.Link(orig, filepath.Join(s.cache, "second")); err != nil {
		t.Fatal(err)
	}
	r, _ := Guard{Home: s.home}.Open(s.cache, false)
	out, err := r.RemoveContents(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if out.Bytes != 1000 || out.Entries != 2 {
		t.Errorf("got %d bytes in %d entries, want 1000 in 2", out.Bytes, out.Entries)
	}
}

// A name that merely starts with two dots ("..data") is inside the folder
// like any other: it goes with the contents (".." itself stays refused,
// see TestRemoveRefusesWhatIsNotStrictlyInside).
func TestRemoveTakesNamesStartingWithTwoDots(t *testing.T) {
	s := newSandbox(t)
	taskstest.File(t, filepath.Join(s.cache, "..data", "x"), 10)
	taskstest.File(t, filepath.Join(s.cache, "..y"), 10)
	r, err := Guard{Home: s.home}.Open(s.cache, false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.RemoveContents(context.Background(), false)
	if err != nil || len(out.Errors) != 0 {
		t.Fatal(err, out.Errors)
	}
	if got := taskstest.Listing(t, s.cache); len(got) != 0 {
		t.Errorf("left in the cache: %q", got)
	}
	if _, err := os.Stat(filepath.Join(s.home, "keep-me")); err != nil {
		t.Error(err)
	}
}
