package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/rebuild-nixos/rebuild/internal/termtext"
)

// Tilde shows path with the home directory written as ~, the way the
// tasks list paths to the person, in their logs and in the summary. A
// path comes from disk and may hold anything a file name can: it is
// escaped (termtext.Escape), so it can neither drive the terminal nor
// break the line it is shown in.
func Tilde(home, path string) string {
	if home == "" || home == "/" {
		return termtext.Escape(path)
	}
	home = filepath.Clean(home)
	switch {
	case path == home:
		return "~"
	case strings.HasPrefix(path, home+"/"):
		return "~" + termtext.Escape(path[len(home):])
	}
	return termtext.Escape(path)
}

// TildeAll is Tilde of each of paths.
func TildeAll(home string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = Tilde(home, p)
	}
	return out
}

// TildeErrors rewrites each *fs.PathError of errs as its path, with ~
// (Tilde), and what went wrong, for a warning or the summary; other
// errors are kept as they are.
func TildeErrors(home string, errs []error) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		var pe *fs.PathError
		if errors.As(e, &pe) {
			out[i] = fmt.Errorf("%s: %v", Tilde(home, pe.Path), pe.Err)
		} else {
			out[i] = e
		}
	}
	return out
}

// FirstErrors lists up to n of errs on one line, with how many more of
// total (errs may hold only the first few) are left to the log.
func FirstErrors(errs []error, total, n int) string {
	var parts []string
	for i, e := range errs {
		if i == n {
			break
		}
		parts = append(parts, e.Error())
	}
	s := strings.Join(parts, "; ")
	if total > len(parts) {
		s += fmt.Sprintf("; and %d more (see the log)", total-len(parts))
	}
	return s
}

// Table lays rows out in columns separated by two spaces; a column whose
// every cell (past the header row) looks like a number or a size is
// aligned right. Lines carry no trailing spaces. Every cell is escaped
// (termtext.Escape: a name from disk cannot drive the terminal or add a
// line to the table); escaping a cell twice changes nothing, so a caller
// may hand in cells it escaped itself.
func Table(rows [][]string) string {
	if len(rows) == 0 {
		return ""
	}
	escaped := make([][]string, len(rows))
	for i, r := range rows {
		escaped[i] = make([]string, len(r))
		for c, cell := range r {
			escaped[i][c] = termtext.Escape(cell)
		}
	}
	rows = escaped
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
			width[c] = max(width[c], utf8.RuneCountInString(cell))
			if i > 0 && cell != "" && !numeric(cell) {
				right[c] = false
			}
		}
	}
	var b strings.Builder
	for _, r := range rows {
		var line strings.Builder
		for c := range cols {
			cell := ""
			if c < len(r) {
				cell = r[c]
			}
			pad := strings.Repeat(" ", width[c]-utf8.RuneCountInString(cell))
			if c > 0 {
				line.WriteString("  ")
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
	return b.String()
}

// numeric: digits with separators, optionally followed by a unit ("1.2 GiB",
// "12,345", "3 d").
func numeric(s string) bool {
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
