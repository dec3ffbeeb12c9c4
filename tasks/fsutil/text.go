package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/table"
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
// may hand in cells it escaped itself. It is as wide as its cells, for
// the log: tasks.Env.ShowTable fits a table to the terminal.
func Table(rows [][]string) string { return table.Layout(rows, table.Options{}) }
