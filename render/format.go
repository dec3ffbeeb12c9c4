package render

import (
	"fmt"
	"github.com/pterm/pterm"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/rebuild-nixos/rebuild/internal/ansi"
	"github.com/rebuild-nixos/rebuild/internal/termtext"
	"github.com/rebuild-nixos/rebuild/schedule"
)

// palette colours text only when on; it is the one place colour is made,
// so plain and json can never emit an escape code by accident. The styles
// are pterm's; whether to colour at all is decided here (--no-color,
// NO_COLOR, not a terminal), never through pterm's package-wide switches.
type palette struct{ on bool }

var (
	styleBold   = pterm.NewStyle(pterm.Bold)
	styleDim    = pterm.NewStyle(pterm.Fuzzy)
	styleRed    = pterm.NewStyle(pterm.FgRed)
	styleGreen  = pterm.NewStyle(pterm.FgGreen)
	styleYellow = pterm.NewStyle(pterm.FgYellow)
	styleCyan   = pterm.NewStyle(pterm.FgCyan)
	styleNotice = pterm.NewStyle(pterm.Bold, pterm.FgYellow)
)

func (p palette) wrap(st *pterm.Style, s string) string {
	if !p.on || s == "" {
		return s
	}
	return st.Sprint(s)
}

func (p palette) bold(s string) string   { return p.wrap(styleBold, s) }
func (p palette) dim(s string) string    { return p.wrap(styleDim, s) }
func (p palette) red(s string) string    { return p.wrap(styleRed, s) }
func (p palette) green(s string) string  { return p.wrap(styleGreen, s) }
func (p palette) yellow(s string) string { return p.wrap(styleYellow, s) }
func (p palette) cyan(s string) string   { return p.wrap(styleCyan, s) }
func (p palette) notice(s string) string { return p.wrap(styleNotice, s) }

// Symbols of the finished states (see the package doc).
const (
	symOK     = "✔"
	symWarn   = "⚠"
	symFail   = "✖"
	symSkip   = "↷"
	symNotice = "!"
)

// symbol is the mark of a finished task and its colour.
func symbol(p palette, s schedule.State, critical bool) string {
	switch s {
	case schedule.Succeeded:
		return p.green(symOK)
	case schedule.Failed:
		if critical {
			return p.red(symFail)
		}
		return p.yellow(symWarn)
	case schedule.UpstreamFailed, schedule.Canceled, schedule.RolledBack:
		return p.red(symFail)
	case schedule.Skipped, schedule.Declined:
		return p.dim(symSkip)
	}
	return "?"
}

// dur formats a duration for people: 0.4s, 9.8s, 39s, 1m02s, 2h05m.
func dur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// clean makes text from a task safe for one line of any mode: escape
// sequences go, tabs and newlines become spaces, and every other control
// character, C1 control, invalid byte or non-printing rune is shown
// escaped (termtext), never passed to the terminal.
func clean(s string) string {
	s = ansi.Strip(s)
	return termtext.Escape(lineSpaces.Replace(s))
}

// lineSpaces works on bytes, so an invalid byte reaches the escaping as
// it is (strings.Map would turn it into U+FFFD and hide what it was).
var lineSpaces = strings.NewReplacer("\t", " ", "\n", " ")

// cleanText makes a block a task shows (a table, a diff) safe for the
// terminal: its lines and tabs are kept, everything else that does not
// print is shown escaped. Colour codes are not stripped but shown: such
// text is not a command's output.
func cleanText(s string) string { return termtext.EscapeText(s) }

// seg is a piece of a line with its colour, so a line can be cut to the
// terminal's width before it is coloured.
type seg struct {
	text  string
	style func(string) string
}

// fit joins segs, cut to width columns (an ellipsis marks the cut), and
// colours each piece.
func fit(width int, segs ...seg) string {
	var b strings.Builder
	left := width
	for _, s := range segs {
		if left <= 0 {
			break
		}
		t := s.text
		if w := runewidth.StringWidth(t); w > left {
			t = runewidth.Truncate(t, left, "…")
			left = 0
		} else {
			left -= w
		}
		if s.style != nil {
			t = s.style(t)
		}
		b.WriteString(t)
	}
	return b.String()
}

// pad fills s with spaces to w columns.
func pad(s string, w int) string { return runewidth.FillRight(s, w) }

// finishLine is the permanent line of a finished task, shared by tty and
// the summary: "✔ build 1m39s" or "✖ activate upstream-failed: needs build, which failed".
func finishLine(p palette, e schedule.Event, nameWidth int) string {
	var b strings.Builder
	b.WriteString(symbol(p, e.State, e.Critical))
	b.WriteString(" ")
	b.WriteString(pad(e.Task, nameWidth))
	if e.Duration > 0 {
		b.WriteString(" ")
		b.WriteString(p.dim(dur(e.Duration)))
	}
	if e.State != schedule.Succeeded {
		b.WriteString("  ")
		word := string(e.State)
		switch {
		case e.State == schedule.Failed && e.Critical:
			word = p.red(word)
		case e.State == schedule.Failed:
			word = p.yellow(word)
		}
		b.WriteString(word)
		if r := clean(e.Reason); r != "" {
			b.WriteString(": ")
			b.WriteString(r)
		}
	}
	return b.String()
}

// nameWidth is the width of the name column: the longest task name,
// capped so one long user task name cannot push everything right.
func nameWidth(ts []TaskInfo) int {
	w := 0
	for _, t := range ts {
		if n := runewidth.StringWidth(t.Name); n > w {
			w = n
		}
	}
	return min(w, 24)
}
