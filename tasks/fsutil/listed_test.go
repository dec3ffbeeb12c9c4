package fsutil

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// What was listed is what goes: an entry replaced since (by a folder, by
// another file, by a symlink) stays and is reported; the others go.
func TestRemoveListedOnlyWhatIsStillThere(t *testing.T) {
	s := newSandbox(t)
	for _, n := range []string{"to-folder", "to-file", "to-link", "same"} {
		taskstest.File(t, filepath.Join(s.cache, n), 10)
	}
	taskstest.File(t, filepath.Join(s.cache, "dir", "f"), 10)
	r, err := Guard{Home: s.home}.Open(s.cache, false)
	if err != nil {
		t.Fatal(err)
	}
	list, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, filepath.Base(l.Path))
		if l.Ino == 0 || (filepath.Base(l.Path) == "dir") != (l.Type == os.ModeDir) {
			t.Errorf("listed %+v", l)
		}
	}
	if !slices.Equal(names, []string{"dir", "same", "to-file", "to-folder", "to-link"}) {
		t.Fatalf("listed %q", names)
	}

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(s.cache, "to-folder")))
	taskstest.File(t, filepath.Join(s.cache, "to-folder", "precious"), 100)
	taskstest.File(t, filepath.Join(s.cache, "to-file.new"), 20)
	must(os.Rename(filepath.Join(s.cache, "to-file.new"), filepath.Join(s.cache, "to-file")))
	must(os.Remove(filepath.Join(s.cache, "to-link")))
	taskstest.Symlink(t, s.outside, filepath.Join(s.cache, "to-link"))
	// dir is replaced by another folder holding the same names.
	must(os.Rename(filepath.Join(s.cache, "dir"), filepath.Join(s.home, "old-dir")))
	taskstest.File(t, filepath.Join(s.cache, "dir", "f"), 10)

	before := taskstest.Listing(t, s.base)
	for _, dry := range []bool{true, false} {
		out, err := r.RemoveListed(context.Background(), list, dry)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Removed) != 1 || filepath.Base(out.Removed[0].Path) != "same" {
			t.Errorf("dry %v: removed %v, want only same", dry, out.Removed)
		}
		want := map[string]string{
			"to-folder": "listed as a file, now a folder",
			"to-file":   "listed as a file, now another file",
			"to-link":   "listed as a file, now a symlink",
			"dir":       "listed as a folder, now another folder",
		}
		for _, e := range out.Errors {
			if !errors.Is(e, ErrChanged) {
				t.Errorf("dry %v: error %v does not wrap ErrChanged", dry, e)
			}
			name := filepath.Base(strings.SplitN(strings.TrimPrefix(e.Error(), "remove "), ":", 2)[0])
			if w, ok := want[name]; !ok || !strings.Contains(e.Error(), w) {
				t.Errorf("dry %v: error %q, want one saying %q", dry, e, w)
			}
			delete(want, name)
		}
		if len(want) != 0 {
			t.Errorf("dry %v: no error for %v", dry, want)
		}
	}
	if got, want := taskstest.Listing(t, s.base), taskstest.Without(before, "home/.cache/tool/same"); !slices.Equal(got, want) {
		t.Errorf("after removal:\n%s", taskstest.Diff(got, want))
	}
}

// Recheck fails once the root's path leads somewhere else.
func TestRecheck(t *testing.T) {
	s := newSandbox(t)
	r, err := Guard{Home: s.home}.Open(s.cache, false)
	if err != nil {
		t.Fatal(err)
	}
	if real, err := r.Recheck(); err != nil || real != r.Real {
		t.Fatalf("unchanged: %q, %v", real, err)
	}
	if err := os.Rename(s.cache, s.cache+".moved"); err != nil {
		t.Fatal(err)
	}
	taskstest.Symlink(t, s.outside, s.cache)
	if _, err := r.Recheck(); !errors.Is(err, ErrChanged) {
		t.Errorf("replaced by a link: %v, want ErrChanged", err)
	}
	os.Remove(s.cache)
	if err := os.Mkdir(s.cache, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Recheck(); !errors.Is(err, ErrChanged) {
		t.Errorf("replaced by another folder: %v, want ErrChanged", err)
	}
}
