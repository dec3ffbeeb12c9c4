package table

import (
	"strings"
	"testing"
)

func TestMiddle(t *testing.T) {
	for _, c := range []struct {
		s    string
		w    int
		want string
	}{
		{"~/.cache/uv", 20, "~/.cache/uv"},
		{"~/nixos-config/.backups/CLAUDE.md.backup-20250101", 20, "~/nixos-c…p-20250101"},
		{"abcdef", 1, "…"},
		{"abcdef", 0, ""},
		{"äöüäöüäöü", 5, "äö…öü"},
	} {
		if got := Middle(c.s, c.w); got != c.want || Width(got) > c.w {
			t.Errorf("Middle(%q, %d) = %q, want %q", c.s, c.w, got, c.want)
		}
	}
}

// A table wider than its width: the path column gives way, cut in the
// middle; the numbers are whole and aligned right; no line is wider.
func TestLayoutFitsWidthAndNeverCutsANumber(t *testing.T) {
	rows := [][]string{
		{"backup", "age", "size"},
		{"~/nixos-config/.backups/a-very-long-file-name.nix.backup-20250101-000000", "13 d", "1,234,567.8 KiB"},
		{"~/short", "2 h", "1 B"},
	}
	got := Layout(rows, Options{Width: 40})
	want := "" +
		"backup              age             size\n" +
		"~/nixos-…1-000000  13 d  1,234,567.8 KiB\n" +
		"~/short             2 h              1 B\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, l := range strings.Split(got, "\n") {
		if Width(l) > 40 {
			t.Errorf("%q is wider than 40", l)
		}
	}
	// As wide as its cells with no width: nothing cut.
	if full := Layout(rows, Options{}); strings.Contains(full, "…") {
		t.Errorf("cut without a width:\n%s", full)
	}
}

// A long table shows its first rows, how many more there are, and its
// total row.
func TestLayoutMaxRowsKeepsTheFoot(t *testing.T) {
	rows := [][]string{{"cache", "size"}}
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		rows = append(rows, []string{n, "1 KiB"})
	}
	rows = append(rows, []string{"total", "6 KiB"})
	got := Layout(rows, Options{MaxRows: 4, Foot: 1})
	want := "cache   size\n" +
		"a      1 KiB\n" +
		"b      1 KiB\n" +
		"… 4 more (all in the log)\n" +
		"total  6 KiB\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if all := Layout(rows, Options{MaxRows: 7, Foot: 1}); strings.Contains(all, "more") {
		t.Errorf("cut a table that fits:\n%s", all)
	}
}

// Wrapping breaks at commas, and a word too wide for the column after its
// hyphens; kept columns stay whole; Under adds lines under a row.
func TestLayoutWrapAndUnder(t *testing.T) {
	rows := [][]string{{"TASK", "AFTER"}, {"learn-review", "learn-permissions,learn-mcp,learn-context"}}
	got := Layout(rows, Options{Width: 30, Wrap: true, Keep: []int{0}, Under: func(i int) []string { return []string{"  row " + rows[i][0]} }})
	want := "" +
		"TASK          AFTER\n" +
		"learn-review  learn-\n" +
		"              permissions,\n" +
		"              learn-mcp,\n" +
		"              learn-context\n" +
		"  row learn-review\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// A cell from disk cannot drive the terminal or add a line.
func TestLayoutEscapes(t *testing.T) {
	got := Layout([][]string{{"name"}, {"evil\x1b[2J\nline"}}, Options{Width: 80})
	if strings.Contains(got, "\x1b") || strings.Count(got, "\n") != 2 {
		t.Errorf("not escaped: %q", got)
	}
}
