// Package golden checks a screen frame, as text, against its golden file:
// that no line is wider than the terminal allows, that it fits the
// terminal's height, and that it is byte for byte the file's (which a
// test's -update flag rewrites). It is a leaf: tests of any package use
// it.
package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// Frame checks got, drawn for a terminal of width×height (height 0: any
// height), against the golden file path: every line at most width-1
// columns (the last column stays free, so the terminal never wraps),
// at most height lines, and equal to the file. With update it first
// rewrites the file with got; flag names the flag that does, for the
// message.
func Frame(t testing.TB, path, got string, width, height int, update bool, flag string) {
	t.Helper()
	for i, l := range strings.Split(got, "\n") {
		if n := utf8.RuneCountInString(l); n > width-1 {
			t.Errorf("%s: line %d is %d columns wide (at most %d):\n%s", path, i+1, n, width-1, l)
		}
	}
	if n := strings.Count(got, "\n"); height > 0 && n > height {
		t.Errorf("%s: %d lines, more than the screen's %d", path, n, height)
	}
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the frame differs from %s (go test %s rewrites it):\n--- got\n%s--- want\n%s", path, flag, got, want)
	}
}
