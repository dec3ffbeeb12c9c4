// Package mdsection finds, replaces, removes and moves the sections of a
// Markdown document (CLAUDE.md) by their heading, touching no other byte:
// everything outside the section operated on is kept byte for byte, line
// endings included.
//
// A section is its ATX heading line ("## Title") and everything up to the
// next heading of the same or a higher level (or the end). Lines inside
// fenced code blocks (``` or ~~~) are never taken for headings.
//
// mdsection imports nothing of this project's and never prints.
package mdsection

import (
	"bytes"
	"strings"
	"unicode"
)

// Heading is one heading of a document and the byte range of its section.
type Heading struct {
	Level int    // 1–6
	Title string // the text after the #s, trimmed
	Start int    // offset of the heading line
	End   int    // offset just past the section (the next heading of level ≤ Level, or len(doc))
}

// Headings returns every heading of doc in order. O(len(doc)).
func Headings(doc []byte) []Heading {
	var hs []Heading
	fence := ""
	for off := 0; off < len(doc); {
		end := bytes.IndexByte(doc[off:], '\n')
		next := len(doc)
		if end >= 0 {
			next = off + end + 1
		}
		line := strings.TrimRight(string(doc[off:next]), "\r\n")
		trimmed := strings.TrimLeft(line, " ")
		if len(line)-len(trimmed) <= 3 {
			if f := fenceOf(trimmed); f != "" {
				switch {
				case fence == "":
					fence = f
				case strings.HasPrefix(trimmed, fence) && strings.TrimSpace(strings.TrimLeft(trimmed, fence[:1])) == "":
					fence = ""
				}
			} else if fence == "" && len(line) == len(trimmed) {
				if lvl, title, ok := atx(line); ok {
					hs = append(hs, Heading{Level: lvl, Title: title, Start: off})
				}
			}
		}
		off = next
	}
	for i := range hs {
		hs[i].End = len(doc)
		for j := i + 1; j < len(hs); j++ {
			if hs[j].Level <= hs[i].Level {
				hs[i].End = hs[j].Start
				break
			}
		}
	}
	return hs
}

func fenceOf(line string) string {
	for _, c := range []string{"```", "~~~"} {
		if strings.HasPrefix(line, c) {
			n := 0
			for n < len(line) && line[n] == c[0] {
				n++
			}
			return line[:n]
		}
	}
	return ""
}

func atx(line string) (int, string, bool) {
	n := 0
	for n < len(line) && line[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || (n < len(line) && line[n] != ' ' && line[n] != '\t') {
		return 0, "", false
	}
	title := strings.TrimSpace(line[n:])
	title = strings.TrimSpace(strings.TrimRight(title, "#"))
	return n, title, true
}

// Normalize folds a title for comparison: lower case, leading symbols
// (emoji, punctuation) dropped, runs of spaces collapsed. "## 🔌 MCP
// Servers" and "mcp servers" compare equal.
func Normalize(title string) string {
	title = strings.TrimLeftFunc(title, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	return strings.Join(strings.Fields(strings.ToLower(title)), " ")
}

// Find returns the first heading whose title matches title (see
// Normalize) at the given level (0 = any level).
func Find(doc []byte, level int, title string) (Heading, bool) {
	want := Normalize(title)
	for _, h := range Headings(doc) {
		if (level == 0 || h.Level == level) && Normalize(h.Title) == want {
			return h, true
		}
	}
	return Heading{}, false
}

// Replace replaces the section with the given heading (level and title
// taken from its first line, e.g. "## 🔌 MCP Servers\n…") by section, and
// returns the new document; doc is not modified. When doc has no such
// section, section is appended at the end, after a blank line. The bytes
// before and after the section are kept exactly.
func Replace(doc, section []byte) []byte {
	first, _, _ := bytes.Cut(section, []byte("\n"))
	lvl, title, ok := atx(strings.TrimRight(string(first), "\r"))
	if !ok {
		lvl, title = 0, string(first)
	}
	if len(section) > 0 && section[len(section)-1] != '\n' {
		section = append(append([]byte(nil), section...), '\n')
	}
	if h, found := Find(doc, lvl, title); found {
		var out []byte
		out = append(out, doc[:h.Start]...)
		out = append(out, section...)
		rest := doc[h.End:]
		if len(rest) > 0 && !bytes.HasSuffix(section, []byte("\n\n")) {
			out = append(out, '\n') // keep a blank line before the next heading
		}
		return append(out, rest...)
	}
	out := append([]byte(nil), doc...)
	if len(out) > 0 {
		if out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		if !bytes.HasSuffix(out, []byte("\n\n")) {
			out = append(out, '\n')
		}
	}
	return append(out, section...)
}

// Remove deletes the section h (from Headings or Find) and returns the
// new document.
func Remove(doc []byte, h Heading) []byte {
	out := append([]byte(nil), doc[:h.Start]...)
	return append(out, doc[h.End:]...)
}

// MoveUp moves section h to just before the first heading of its level
// that comes before it in the same parent section; ok is false when it is
// already first.
func MoveUp(doc []byte, h Heading) ([]byte, bool) {
	hs := Headings(doc)
	target := -1
	for _, o := range hs {
		if o.Start >= h.Start {
			break
		}
		if o.Level < h.Level {
			target = -1 // a new parent: only siblings under it count
			continue
		}
		if o.Level == h.Level && target < 0 {
			target = o.Start
		}
	}
	if target < 0 {
		return doc, false
	}
	sec := append([]byte(nil), doc[h.Start:h.End]...)
	between := doc[target:h.Start]
	rest := doc[h.End:]
	if !bytes.HasSuffix(sec, []byte("\n")) {
		sec = append(sec, '\n')
	}
	if !bytes.HasSuffix(sec, []byte("\n\n")) {
		// The last section had no blank line after it; it needs one now,
		// and the blank line that preceded it is now at the very end.
		sec = append(sec, '\n')
		if len(rest) == 0 && bytes.HasSuffix(between, []byte("\n\n")) {
			between = between[:len(between)-1]
		}
	}
	var out []byte
	out = append(out, doc[:target]...)
	out = append(out, sec...)
	out = append(out, between...)
	return append(out, rest...), true
}
