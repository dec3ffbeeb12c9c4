package taskstest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// File creates path, and the folders above it, as a sparse file of size
// bytes, and returns path.
func File(t testing.TB, path string, size int64) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteFile creates path, and the folders above it, holding content, and
// returns path.
func WriteFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Symlink creates link, and the folders above it, pointing at target.
func Symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// Listing returns every entry below root (root itself excluded), sorted,
// as its path relative to root with a decoration that tells what it is:
//
//	sub/            a directory
//	sub/link -> t   a symbolic link, never followed, and its target
//	sub/file (12)   anything else, and its size in bytes
//
// Tests take a listing before and after and compare them, so a file that
// changed size, a link that points elsewhere, or anything added or gone
// shows. An error, a missing root included, fails the test.
func Listing(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			rel += "/"
		case d.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			rel += " -> " + target
		default:
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel += fmt.Sprintf(" (%d)", fi.Size())
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// Without returns a copy of listing without the entries gone names. An
// entry of gone is a listing entry ("a/b/", "a/f (12)", "a/l -> t") or a
// bare path ("a/b", "a/f"); either way it takes the entry itself and, for
// a directory, everything below it.
func Without(listing []string, gone ...string) []string {
	return slices.DeleteFunc(slices.Clone(listing), func(l string) bool {
		for _, g := range gone {
			if l == g || strings.HasPrefix(l, g+" ") || strings.HasPrefix(l, strings.TrimSuffix(g, "/")+"/") {
				return true
			}
		}
		return false
	})
}

// Diff shows how two listings differ, one entry a line: "+ entry" for
// one only in got, "- entry" for one only in want; "" when they hold the
// same entries.
func Diff(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "+ %s\n", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	return b.String()
}
