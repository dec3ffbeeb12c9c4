package fsutil

import (
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Tilde shows path with the home directory written as ~, the way the
// tasks list paths to the person and in the summary.
func Tilde(home, path string) string {
	if home == "" || home == "/" {
		return path
	}
	home = filepath.Clean(home)
	switch {
	case path == home:
		return "~"
	case strings.HasPrefix(path, home+"/"):
		return "~" + path[len(home):]
	}
	return path
}

// Table lays rows out in columns separated by two spaces; a column whose
// every cell (past the header row) looks like a number or a size is
// aligned right. Lines carry no trailing spaces.
func Table(rows [][]string) string {
	if len(rows) == 0 {
		return ""
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
