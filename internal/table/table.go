// Package table lays out the text tables rebuild shows the person — the
// caches, sessions, backups and generations the tasks list, `rebuild
// list` — for a terminal of a given width: columns separated by two
// spaces, numbers aligned right and never cut, other cells cut in the
// middle ("~/.cache/…/old.bak", keeping a path's start and its name) or
// wrapped at their commas and spaces, and a long table shortened to its
// first rows with "… N more (all in the log)". Width 0 lays a table out as
// wide as its cells, for logs. Every cell is escaped (termtext.Escape), so
// a name from disk cannot drive the terminal or add a line.
//
// It owns layout only, and imports nothing of ours but termtext: the
// tasks' contract (tasks) and their helpers (tasks/fsutil) both use it.
package table

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rebuild-nixos/rebuild/internal/termtext"
)

// Options say how a table is laid out.
type Options struct {
	// Width is the most columns a line may take; 0: as wide as the cells.
	Width int
	// MaxRows is how many rows below the header are shown (the Foot rows
	// among them); 0: all. The rows left out become one line "… N more
	// (all in the log)" above the Foot rows.
	MaxRows int
	// Foot is how many of the last rows (a total) are always shown.
	Foot int
	// Wrap wraps a cell too wide for its column onto more lines, at its
	// commas and spaces (and, in a word wider than the column, after its
	// hyphens), instead of cutting it.
	Wrap bool
	// Keep are columns that are never narrowed (names to be read whole).
	Keep []int
	// Under, when set, gives lines to print under a row (by its index in
	// the rows given; not the header), e.g. a task's edges; they are
	// printed as they are, so the caller fits them to Width.
	Under func(row int) []string
}

// Gap is the space between two columns.
const Gap = 2

// minColumn is the narrowest a column is cut to while the table fits
// otherwise; minCut the narrowest when it does not.
const (
	minColumn = 8
	minCut    = 4
)

// Layout lays rows out; the first row is the header. Lines carry no
// trailing spaces; the text ends with a newline (or is "" without rows).
func Layout(rows [][]string, o Options) string {
	if len(rows) == 0 {
		return ""
	}
	rows = escaped(rows)
	index := make([]int, len(rows)) // the row's index in the rows given
	for i := range index {
		index[i] = i
	}
	rows, more := limit(rows, o)
	if more > 0 {
		index, _ = limit(index, o)
	}
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	width := make([]int, cols)
	right := make([]bool, cols)
	for c := range right {
		right[c] = len(rows) > 1
	}
	for i, r := range rows {
		for c, cell := range r {
			width[c] = max(width[c], Width(cell))
			if i > 0 && cell != "" && !Numeric(cell) {
				right[c] = false
			}
		}
	}
	if o.Width > 0 {
		mins := make([]int, cols)
		for c := range mins {
			switch {
			case right[c] || slices.Contains(o.Keep, c):
				mins[c] = width[c] // a number is never cut
			case o.Wrap:
				for _, r := range rows {
					if c < len(r) {
						for _, p := range pieces(r[c], 0) {
							mins[c] = max(mins[c], Width(strings.TrimRight(p, " ")))
						}
					}
				}
			case c < len(rows[0]):
				mins[c] = min(width[c], max(Width(rows[0][c]), minColumn))
			default:
				mins[c] = min(width[c], minColumn)
			}
		}
		width = Fit(width, mins, o.Width, Gap)
		// Still too wide: the columns that may be narrowed are, cutting
		// what does not fit, so that no line is wider than the terminal.
		for c := range mins {
			if !right[c] && !slices.Contains(o.Keep, c) {
				mins[c] = min(mins[c], minCut)
			}
		}
		width = Fit(width, mins, o.Width, Gap)
	}
	var b strings.Builder
	moreAt := len(rows) - o.Foot
	for i, r := range rows {
		if more > 0 && i == moreAt {
			b.WriteString(More(more) + "\n")
		}
		cells := make([][]string, cols)
		lines := 1
		for c := range cols {
			cell := ""
			if c < len(r) {
				cell = r[c]
			}
			switch {
			case Width(cell) <= width[c]:
				cells[c] = []string{cell}
			case o.Wrap:
				cells[c] = wrap(cell, width[c])
			default:
				cells[c] = []string{Middle(cell, width[c])}
			}
			lines = max(lines, len(cells[c]))
		}
		for l := range lines {
			var line strings.Builder
			for c := range cols {
				cell := ""
				if l < len(cells[c]) {
					cell = cells[c][l]
				}
				pad := strings.Repeat(" ", max(width[c]-Width(cell), 0))
				if c > 0 {
					line.WriteString(strings.Repeat(" ", Gap))
				}
				if right[c] {
					line.WriteString(pad + cell)
				} else {
					line.WriteString(cell + pad)
				}
			}
			b.WriteString(strings.TrimRight(line.String(), " "))
			b.WriteByte('\n')
		}
		if o.Under != nil && i > 0 {
			for _, u := range o.Under(index[i]) {
				b.WriteString(strings.TrimRight(u, " ") + "\n")
			}
		}
	}
	if more > 0 && moreAt >= len(rows) {
		b.WriteString(More(more) + "\n")
	}
	return b.String()
}

// More is the line that stands for n rows left out.
func More(n int) string { return fmt.Sprintf("… %d more (all in the log)", n) }

// limit keeps the header, the first rows and the Foot rows, MaxRows
// below the header in all with the "more" line; it returns how many
// rows it left out.
func limit[T any](rows []T, o Options) ([]T, int) {
	body := len(rows) - 1
	if o.MaxRows <= 0 || body <= o.MaxRows {
		return rows, 0
	}
	foot := min(max(o.Foot, 0), body)
	keep := max(o.MaxRows-1-foot, 1) // one line says how many more
	out := append([]T{}, rows[:1+keep]...)
	out = append(out, rows[len(rows)-foot:]...)
	return out, body - keep - foot
}

func escaped(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for c, cell := range r {
			out[i][c] = termtext.Escape(cell)
		}
	}
	return out
}

// Fit narrows widths, the columns of a line with gap spaces between
// them, until the line fits in total columns: always the widest column
// that is still wider than its minimum, so that the widest give first and
// narrow ones keep their cells whole. It stops when every column is at
// its minimum (the line is then wider than total). O(columns × excess).
func Fit(widths, mins []int, total, gap int) []int {
	w := append([]int(nil), widths...)
	sum := gap * max(len(w)-1, 0)
	for _, x := range w {
		sum += x
	}
	for sum > total {
		best := -1
		for c := range w {
			if w[c] > mins[c] && (best < 0 || w[c] > w[best]) {
				best = c
			}
		}
		if best < 0 {
			break
		}
		w[best]--
		sum--
	}
	return w
}

// Middle cuts s to w columns by putting "…" in place of its middle,
// keeping a little more of the end (a path's file name) than of the
// start. s as it is when it fits.
func Middle(s string, w int) string {
	n := Width(s)
	if n <= w {
		return s
	}
	if w <= 0 {
		return ""
	}
	rs := []rune(s)
	head := (w - 1) / 2
	tail := w - 1 - head
	return string(rs[:head]) + "…" + string(rs[len(rs)-tail:])
}

// wrap breaks s into lines of at most w columns after its commas and
// spaces, and in a word still too wide after its hyphens; a piece with
// no break that is still too wide is cut in the middle.
func wrap(s string, w int) []string {
	var lines []string
	cur := ""
	for _, p := range pieces(s, w) {
		if cur != "" && Width(strings.TrimRight(cur+p, " ")) > w {
			lines = append(lines, strings.TrimRight(cur, " "))
			cur = ""
		}
		cur += p
	}
	lines = append(lines, strings.TrimRight(cur, " "))
	for i, l := range lines {
		lines[i] = Middle(l, w)
	}
	return lines
}

// pieces splits s after each comma and space, and a piece wider than w
// after each hyphen too (w 0: every piece), keeping every character.
func pieces(s string, w int) []string {
	var out []string
	for _, p := range splitAfter(s, ", ") {
		if w == 0 || Width(strings.TrimRight(p, " ")) > w {
			out = append(out, splitAfter(p, "-")...)
		} else {
			out = append(out, p)
		}
	}
	return out
}

// splitAfter splits s after each of the bytes in seps.
func splitAfter(s, seps string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(seps, s[i]) >= 0 {
			out = append(out, s[start:i+1])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// Width is how many columns s takes: one per rune (the tables' cells are
// escaped, and paths and numbers are narrow).
func Width(s string) int { return utf8.RuneCountInString(s) }

// Numeric reports whether a cell is a number, maybe with a unit: digits
// with separators, optionally followed by a unit ("1.2 GiB", "12,345",
// "3 d").
func Numeric(s string) bool {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return false
	}
	num, _, _ := strings.Cut(s, " ")
	for _, r := range num {
		if (r < '0' || r > '9') && r != '.' && r != ',' && r != '%' {
			return false
		}
	}
	return true
}
