package termtext

import (
	"strconv"
	"unicode/utf8"
)

// JSON rewrites one marshaled JSON text so that it carries no raw control
// character and nothing else that does not print. encoding/json already
// escapes the C0 controls, replaces invalid UTF-8 with U+FFFD and escapes
// U+2028 and U+2029, but writes DEL, the C1 controls (U+0080–U+009F: CSI,
// DCS, OSC, SOS, PM, APC … in their one-character form) and the bidi
// controls as they are, and a terminal showing json output may act on
// them. Every rune from U+007F up that strconv.IsPrint refuses is
// rewritten as a \uXXXX escape (a surrogate pair above U+FFFF): the JSON
// stays valid and decodes to the same strings.
//
// b must be valid JSON as encoding/json writes it: valid UTF-8, with such
// runes only inside strings. It is returned as it is when there is
// nothing to rewrite, which a line of ASCII never has.
func JSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < 0x7f {
		i++
	}
	if i == len(b) {
		return b
	}
	var out []byte
	start := 0 // b[start:i] is not copied yet
	for i < len(b) {
		if b[i] < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if strconv.IsPrint(r) || (r == utf8.RuneError && size == 1) {
			i += size
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b)+12)
		}
		out = append(out, b[start:i]...)
		if r > 0xffff {
			r -= 0x10000
			out = appendU(appendU(out, 0xd800+(r>>10)), 0xdc00+(r&0x3ff))
		} else {
			out = appendU(out, r)
		}
		i += size
		start = i
	}
	if out == nil {
		return b
	}
	return append(out, b[start:]...)
}

func appendU(out []byte, r rune) []byte {
	return append(out, '\\', 'u', digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf])
}
