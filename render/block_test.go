package render

import (
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"
)

// A question wider than the terminal wraps between words: no number is
// split across rows (the size "22.1 GiB" and the count stay whole), and
// no row is wider than the terminal less its last column.
func TestBlockRowsWrapBetweenWords(t *testing.T) {
	v := questionView{id: 1, label: "cleanup",
		text: []string{"Apply the cleanup plan: delete the 37 items marked goes (22.1 GiB) and keep the 12345 others?"},
		hint: "[y/n/c]"}
	for _, width := range []int{40, 52, 61, 80} {
		_, above, prompt := blockRows(palette{}, v, width, "")
		rows := append(above, prompt...)
		joined := strings.Join(rows, "\n")
		for _, word := range []string{"22.1", "GiB)", "12345", "37"} {
			if !strings.Contains(joined, word) {
				t.Errorf("width %d: %q split across rows:\n%s", width, word, joined)
			}
		}
		for _, r := range rows {
			if w := runewidth.StringWidth(r); w > width-1 {
				t.Errorf("width %d: row %q is %d columns", width, r, w)
			}
		}
	}
}
