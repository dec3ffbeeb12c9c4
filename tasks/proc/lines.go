package proc

import (
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/tail"
)

// lastMeaningful returns the newest kept line of t worth showing as a
// status.
func lastMeaningful(t *tail.Tail) (string, bool) {
	lines := t.Lines()
	for i := len(lines) - 1; i >= 0; i-- {
		if Meaningful(lines[i]) {
			return strings.TrimSpace(lines[i]), true
		}
	}
	return "", false
}

// Meaningful reports whether a line is worth showing as a status: not
// blank, not only punctuation.
func Meaningful(line string) bool {
	return strings.IndexFunc(line, func(r rune) bool {
		return r > ' ' && !strings.ContainsRune("-=*#.~_|", r)
	}) >= 0
}
