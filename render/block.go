package render

import (
	"strings"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// questionView is an open question as the live display draws it: one
// block under the area, the prompt line at the bottom.
//
//	activate ›
//	  Changes to the running system:
//	    foo 1.1 → 1.2
//	? Activate /nix/store/…-nixos-system-demo? [Y/n] y▌
type questionView struct {
	// id is new each time a question is put on screen; 0 is no question.
	id      uint64
	label   string
	body    []string // the task's text: a diff, a table
	text    []string // the question; its first line gets "? "
	options []string // a MultiSelect's numbered list, under the question
	hint    string   // what may be answered
	note    string   // why the last answer was not taken
	input   string   // typed so far
}

// blockRows lays v out for a terminal of width columns (each row at most
// width-1 columns, so the terminal never wraps one): the header, then
// above (the body, the question but its prompt line, the options), then
// the note and the prompt rows with what was typed; the cursor belongs
// at the end of the last row. answered, when not "", is shown in place of
// the input (the block as it stays on screen once answered).
func blockRows(p palette, v questionView, width int, answered string) (header, above, prompt []string) {
	w := max(width-1, 10)
	header = []string{fit(w, seg{blockTitle(v.label) + " ›", func(s string) string { return p.bold(p.cyan(s)) }})}
	for _, l := range v.body {
		above = append(above, wrapSegs(w, seg{"  " + l, nil})...)
	}
	qmark := seg{"? ", func(s string) string { return p.bold(p.cyan(s)) }}
	text := v.text
	if len(text) == 0 {
		text = []string{""}
	}
	last := text[len(text)-1]
	if len(v.options) > 0 {
		last = ""
	} else {
		text = text[:len(text)-1]
	}
	for i, l := range text {
		segs := []seg{{l, nil}}
		if i == 0 {
			segs = append([]seg{qmark}, segs...)
		}
		above = append(above, wrapSegs(w, segs...)...)
	}
	for _, o := range v.options {
		above = append(above, wrapSegs(w, seg{o, nil})...)
	}
	if v.note != "" {
		prompt = append(prompt, wrapSegs(w, seg{v.note, p.yellow})...)
	}
	var segs []seg
	switch {
	case len(v.options) > 0:
		segs = []seg{{v.hint, p.dim}}
	case len(v.text) <= 1:
		segs = []seg{qmark, {last, nil}, {" " + v.hint, p.dim}}
	default:
		segs = []seg{{last, nil}, {" " + v.hint, p.dim}}
	}
	segs = append(segs, seg{" ", nil})
	rows := wrapSegs(w, segs...)
	input := v.input
	if answered != "" {
		input = answered
	}
	// The input goes on the prompt's last row, its end always in sight.
	room := w - runewidth.StringWidth(stripped(rows[len(rows)-1]))
	if room < min(12, w/3) {
		rows, room = append(rows, ""), w
	}
	if runewidth.StringWidth(input) > room {
		input = "…" + tailWidth(input, room-1)
	}
	rows[len(rows)-1] += input
	return header, above, append(prompt, rows...)
}

// blockTitle is the title of a block under a task's label: a per-host
// task's names its host first ("web1 · accept"), so that the person knows
// which machine a question is about before reading it.
func blockTitle(label string) string {
	if task, host := tasks.SplitHost(label); host != "" {
		return host + " · " + task
	}
	return label
}

// wrapSegs lays segs out in rows of at most width columns, each piece in
// its segment's colour. A row is cut after its last space when it has
// one and the word after it fits in a row, so a number or a word is not
// split across rows (the tasks lay their tables out to fit, so a table's
// row is not cut at all); a word wider than a row is cut where the
// terminal would have wrapped it.
func wrapSegs(width int, segs ...seg) []string {
	var rows []string
	var b strings.Builder
	left := width
	for _, s := range segs {
		t := s.text
		for t != "" {
			piece := headWidth(t, left)
			if piece != t {
				// Break after the last space, when the word that then
				// begins the next row fits in one (a long path is cut
				// where the terminal would have wrapped it instead).
				if i := strings.LastIndexByte(piece, ' '); i > 0 {
					word, _, _ := strings.Cut(t[i+1:], " ")
					if runewidth.StringWidth(word) <= width {
						piece = piece[:i+1]
					}
				}
			}
			if piece == "" && left == width {
				// A character wider than a whole row: it goes alone.
				_, size := utf8.DecodeRuneInString(t)
				piece = t[:size]
			}
			if piece != "" {
				if s.style != nil {
					b.WriteString(s.style(piece))
				} else {
					b.WriteString(piece)
				}
				left -= runewidth.StringWidth(piece)
				t = t[len(piece):]
			}
			if t != "" {
				rows = append(rows, b.String())
				b.Reset()
				left = width
			}
		}
	}
	return append(rows, b.String())
}

// headWidth is the longest start of s at most w columns wide.
func headWidth(s string, w int) string {
	n := 0
	for i, r := range s {
		rw := runewidth.RuneWidth(r)
		if n+rw > w {
			return s[:i]
		}
		n += rw
	}
	return s
}

// tailWidth is the longest end of s at most w columns wide.
func tailWidth(s string, w int) string {
	rs := []rune(s)
	n := 0
	i := len(rs)
	for i > 0 {
		rw := runewidth.RuneWidth(rs[i-1])
		if n+rw > w {
			break
		}
		n += rw
		i--
	}
	return string(rs[i:])
}

// stripped is s without the colours of palette.
func stripped(s string) string { return clean(s) }
