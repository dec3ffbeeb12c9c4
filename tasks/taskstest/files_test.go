package taskstest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestListing(t *testing.T) {
	root := t.TempDir()
	File(t, filepath.Join(root, "a/sparse"), 5000)
	WriteFile(t, filepath.Join(root, "a/b/text"), "hello")
	Symlink(t, "../elsewhere", filepath.Join(root, "c/link"))
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := []string{"a/", "a/b/", "a/b/text (5)", "a/sparse (5000)", "c/", "c/link -> ../elsewhere", "empty/"}
	if got := Listing(t, root); !slices.Equal(got, want) {
		t.Errorf("listing:\n%s", Diff(got, want))
	}
}

func TestWithout(t *testing.T) {
	l := []string{"a/", "a/b/", "a/b/text (5)", "a/bc (1)", "a/sparse (5000)", "c/", "c/link -> x", "d (3)"}
	for _, c := range []struct {
		gone []string
		want []string
	}{
		{[]string{"a/b/"}, []string{"a/", "a/bc (1)", "a/sparse (5000)", "c/", "c/link -> x", "d (3)"}},
		{[]string{"a/b"}, []string{"a/", "a/bc (1)", "a/sparse (5000)", "c/", "c/link -> x", "d (3)"}},
		{[]string{"a/sparse", "c/link -> x", "d (3)"}, []string{"a/", "a/b/", "a/b/text (5)", "a/bc (1)", "c/"}},
		{[]string{"c/link", "missing"}, []string{"a/", "a/b/", "a/b/text (5)", "a/bc (1)", "a/sparse (5000)", "c/", "d (3)"}},
	} {
		if got := Without(l, c.gone...); !slices.Equal(got, c.want) {
			t.Errorf("without %q:\n%s", c.gone, Diff(got, c.want))
		}
	}
	if len(l) != 8 {
		t.Errorf("Without changed its argument: %q", l)
	}
}

func TestDiff(t *testing.T) {
	if got := Diff([]string{"a", "b"}, []string{"b", "c"}); got != "+ a\n- c\n" {
		t.Errorf("%q", got)
	}
	if got := Diff([]string{"a"}, []string{"a"}); got != "" {
		t.Errorf("%q", got)
	}
}
