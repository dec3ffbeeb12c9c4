package termtext

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every rune that is not printable (by
// strconv.IsPrint, the rule %q uses: letters, marks, numbers, punctuation,
// symbols and the ASCII space) and every invalid UTF-8 byte written as a
// visible escape: \a \b \f \n \r \t \v for those, \xNN for other ASCII
// controls and for invalid bytes, \uNNNN or \UNNNNNNNN above. Tab and
// newline are escaped too: Escape is for one line, a name, a cell.
//
// A backslash is left as it is, so that escaping twice changes nothing: a
// name escaped by a task and its line escaped again by the renderer read
// the same. The price is that a name holding a literal `\x1b` reads like
// one holding ESC; both are visible, neither drives the terminal.
//
// Cost: one pass over s; s itself is returned when it is printable ASCII.
func Escape(s string) string { return escape(s, false) }

// EscapeText is Escape for a block of lines (a table, a diff): newlines
// and tabs are kept, everything else is escaped as Escape does.
func EscapeText(s string) string { return escape(s, true) }

func escape(s string, block bool) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(hex2(s[i]))
		case block && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case strconv.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			writeRuneEscape(&b, r)
		}
		i += size
	}
	return b.String()
}

func writeRuneEscape(b *strings.Builder, r rune) {
	switch r {
	case '\a':
		b.WriteString(`\a`)
	case '\b':
		b.WriteString(`\b`)
	case '\f':
		b.WriteString(`\f`)
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	case '\v':
		b.WriteString(`\v`)
	default:
		switch {
		case r < 0x80:
			b.WriteString(`\x`)
			b.WriteString(hex2(byte(r)))
		case r < 0x10000:
			b.WriteString(`\u`)
			b.WriteString(hexN(uint32(r), 4))
		default:
			b.WriteString(`\U`)
			b.WriteString(hexN(uint32(r), 8))
		}
	}
}

const digits = "0123456789abcdef"

func hex2(c byte) string { return string([]byte{digits[c>>4], digits[c&0xf]}) }

func hexN(v uint32, n int) string {
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = digits[v&0xf]
		v >>= 4
	}
	return string(out)
}
