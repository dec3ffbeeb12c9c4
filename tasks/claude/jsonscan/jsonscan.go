// Package jsonscan validates a JSON value and hands its caller the
// members it asks for, rejecting exactly the input encoding/json rejects.
// The family's readers of JSON Lines (the session logs' scan, the
// learning records) build on it a decoder for the few fields they keep:
// encoding/json spent most of their time validating and skipping values
// they never keep, a state machine call per byte; a Parser validates
// strings eight bytes at a time and allocates nothing for what it skips.
//
// What a Parser does not do is decode into Go values: its caller reads
// the members it wants with String, Int, Float, Bool and the like, which
// follow encoding/json's rules for the Go type named (null leaves a
// string or a number as it was; a value of the wrong type is a type
// error, which, like encoding/json, does not stop the validation of the
// rest of the line but fails it in the end).
//
// jsonscan imports nothing of this project's and never allocates for a
// value it only validates.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// ErrSyntax is returned for every input encoding/json would not have
// decoded without an error.
var ErrSyntax = errors.New("not the expected JSON")

// MaxDepth is encoding/json's nesting limit: a deeper value is rejected.
const MaxDepth = 10000

// Parser walks one JSON text. Its methods take the position of a value
// and return the position after it, or an error.
type Parser struct {
	b     []byte
	depth int
	// typed is set when a value had the wrong type for its field: like
	// encoding/json, the text is still read to its end (a syntax error
	// after it wins), then rejected.
	typed bool
	// watch are words counted in seen as strings of them are read.
	watch []string
	seen  [maxWatch]int
}

// maxWatch is how many words a Parser watches for at most.
const maxWatch = 4

// Reset starts over on b, watching for the same words.
func (p *Parser) Reset(b []byte) { *p = Parser{b: b, watch: p.watch} }

// Watch makes the parser count, from now on, the strings it reads (keys
// or values, skipped or not) whose content between the quotes, escapes
// untouched, is one of words (at most four). In valid JSON the bytes
// "word", quotes included, occur exactly there: inside a string a quote
// is escaped, so the bytes cannot straddle one; counting them as they
// are read spares a pass over the text looking for them.
func (p *Parser) Watch(words ...string) {
	if len(words) > maxWatch {
		panic("jsonscan: too many words to watch")
	}
	p.watch, p.seen = words, [maxWatch]int{}
}

// Seen is how many strings of the i-th watched word were read so far.
func (p *Parser) Seen(i int) int { return p.seen[i] }

// Typed reports whether a value had the wrong type so far; ClearTyped
// forgets it (for a value that turned out not to matter).
func (p *Parser) Typed() bool { return p.typed }

// ClearTyped forgets the type errors so far.
func (p *Parser) ClearTyped() { p.typed = false }

// Bytes is the text being parsed.
func (p *Parser) Bytes() []byte { return p.b }

// TypeError marks the text as holding a value of the wrong type for its
// field: End then fails it.
func (p *Parser) TypeError() { p.typed = true }

// End checks that only white space follows i, and that no value had the
// wrong type.
func (p *Parser) End(i int) error {
	if p.WS(i) != len(p.b) || p.typed {
		return ErrSyntax
	}
	return nil
}

// WS skips white space from i. Most text has none: a byte above the
// space is the answer at once.
func (p *Parser) WS(i int) int {
	if i < len(p.b) && p.b[i] > ' ' {
		return i
	}
	for i < len(p.b) && (p.b[i] == ' ' || p.b[i] == '\t' || p.b[i] == '\n' || p.b[i] == '\r') {
		i++
	}
	return i
}

// Is reports whether key names the field name as encoding/json matches a
// key to a field: exactly, else case-folded. name starts with a
// lower-case ASCII letter: a key starting with another ASCII byte than
// that letter or its upper case is told apart at once.
func Is(key []byte, name string) bool {
	if len(key) == 0 || key[0] < utf8.RuneSelf && key[0]|0x20 != name[0] {
		return false
	}
	return string(key) == name || bytes.EqualFold(key, []byte(name))
}

// Object reads an object at i, calling field with each (unescaped) key
// and the position of its value, which field must read.
func (p *Parser) Object(i int, field func(key []byte, i int) (int, error)) (int, error) {
	if p.depth++; p.depth > MaxDepth {
		return 0, ErrSyntax
	}
	defer func() { p.depth-- }()
	i = p.WS(i + 1)
	if i < len(p.b) && p.b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(p.b) || p.b[i] != '"' {
			return 0, ErrSyntax
		}
		raw, end, escaped, err := p.Str(i)
		if err != nil {
			return 0, err
		}
		key := raw
		if escaped {
			if key, err = Unquote(p.b[i:end]); err != nil {
				return 0, err
			}
		}
		i = p.WS(end)
		if i >= len(p.b) || p.b[i] != ':' {
			return 0, ErrSyntax
		}
		i = p.WS(i + 1)
		if i >= len(p.b) {
			return 0, ErrSyntax
		}
		if i, err = field(key, i); err != nil {
			return 0, err
		}
		var done bool
		if i, done, err = p.afterMember(i, '}'); err != nil || done {
			return i, err
		}
	}
}

// afterMember reads what follows a member or an element at i: a comma,
// and next is where the next one starts; or end, the closing bracket,
// and next is past it (done). Anything else is a syntax error.
func (p *Parser) afterMember(i int, end byte) (next int, done bool, err error) {
	i = p.WS(i)
	if i >= len(p.b) {
		return 0, false, ErrSyntax
	}
	switch p.b[i] {
	case ',':
		return p.WS(i + 1), false, nil
	case end:
		return i + 1, true, nil
	}
	return 0, false, ErrSyntax
}

// Array reads an array at i, calling elem with the position of each
// value, which elem must read.
func (p *Parser) Array(i int, elem func(i int) (int, error)) (int, error) {
	if p.depth++; p.depth > MaxDepth {
		return 0, ErrSyntax
	}
	defer func() { p.depth-- }()
	i = p.WS(i + 1)
	if i < len(p.b) && p.b[i] == ']' {
		return i + 1, nil
	}
	for {
		if i >= len(p.b) {
			return 0, ErrSyntax
		}
		var err error
		if i, err = elem(i); err != nil {
			return 0, err
		}
		var done bool
		if i, done, err = p.afterMember(i, ']'); err != nil || done {
			return i, err
		}
	}
}

// Skip validates the value at i and returns the position after it.
func (p *Parser) Skip(i int) (int, error) {
	if i >= len(p.b) {
		return 0, ErrSyntax
	}
	switch c := p.b[i]; {
	case c == '"':
		_, end, _, err := p.Str(i)
		return end, err
	case c == '{':
		return p.Object(i, func(_ []byte, i int) (int, error) { return p.Skip(i) })
	case c == '[':
		return p.Array(i, p.Skip)
	case c == 't':
		return p.Literal(i, "true")
	case c == 'f':
		return p.Literal(i, "false")
	case c == 'n':
		return p.Literal(i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return p.Number(i)
	}
	return 0, ErrSyntax
}

// Literal reads lit (true, false, null) at i.
func (p *Parser) Literal(i int, lit string) (int, error) {
	if len(p.b)-i < len(lit) || string(p.b[i:i+len(lit)]) != lit {
		return 0, ErrSyntax
	}
	return i + len(lit), nil
}

// Number validates JSON's number grammar.
func (p *Parser) Number(i int) (int, error) {
	b := p.b
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, ErrSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, ErrSyntax
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, ErrSyntax
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i, nil
}

const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = '"' * ones
	slashs = '\\' * ones
)

// skipPlain returns the position of the first byte from i on that is not
// plain (a quote, a backslash or a control character), or len(b). A
// short run (a key, most values) is searched eight bytes at a time for
// all three at once; a long one (a tool's output) is searched for its
// quote and for a backslash before it with bytes.IndexByte, which
// compares many bytes at once, and then for control characters eight
// bytes at a time.
func skipPlain(b []byte, i int) int {
	for n := min(len(b), i+64); i+8 <= n; i += 8 {
		if m := stops(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	if len(b)-i < 8 {
		for ; i < len(b); i++ {
			if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
				return i
			}
		}
		return i
	}
	rest := b[i:]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		end = len(rest)
	}
	if k := bytes.IndexByte(rest[:end], '\\'); k >= 0 {
		end = k
	}
	if c := firstControl(rest[:end]); c >= 0 {
		end = c
	}
	return i + end
}

// stops marks, in an 8-byte word read little-endian, the bytes that end
// a run of plain ones: its lowest mark is the first quote, backslash or
// control character (marks above it may be false, never one below).
func stops(w uint64) uint64 { return zero(w^quotes) | zero(w^slashs) | below(w) }

// zero marks the zero bytes of w, the lowest one exactly.
func zero(w uint64) uint64 { return (w - ones) &^ w & highs }

// below is not zero for an 8-byte word that holds a control character (a
// byte below 0x20), and zero for one that does not.
func below(w uint64) uint64 { return (w - 0x20*ones) &^ w & highs }

// firstControl returns the index of the first control character in b, or -1.
func firstControl(b []byte) int {
	i := 0
	for ; i+32 <= len(b); i += 32 {
		le := binary.LittleEndian
		if below(le.Uint64(b[i:]))|below(le.Uint64(b[i+8:]))|below(le.Uint64(b[i+16:]))|below(le.Uint64(b[i+24:])) != 0 {
			break
		}
	}
	for ; i+8 <= len(b); i += 8 {
		if below(binary.LittleEndian.Uint64(b[i:])) != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] < 0x20 {
			return i
		}
	}
	return -1
}

// Str validates the string at i (which is '"'). raw is its content
// between the quotes, escapes untouched; escaped says whether it had any,
// so that raw is not its value. raw may not be UTF-8 (see String).
func (p *Parser) Str(i int) (raw []byte, end int, escaped bool, err error) {
	b := p.b
	start := i + 1
	i = start
	for {
		i = skipPlain(b, i)
		if i >= len(b) {
			return nil, 0, false, ErrSyntax
		}
		switch b[i] {
		case '"':
			if p.watch != nil {
				p.note(b[start:i])
			}
			return b[start:i], i + 1, escaped, nil
		case '\\':
			escaped = true
			if i+1 >= len(b) {
				return nil, 0, false, ErrSyntax
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return nil, 0, false, ErrSyntax
				}
				for _, h := range b[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, 0, false, ErrSyntax
					}
				}
				i += 6
			default:
				return nil, 0, false, ErrSyntax
			}
		default: // a control character
			return nil, 0, false, ErrSyntax
		}
	}
}

// note counts raw if it is a watched word.
func (p *Parser) note(raw []byte) {
	for k, w := range p.watch {
		if len(raw) == len(w) && string(raw) == w {
			p.seen[k]++
		}
	}
}

// Unquote is the value of a validated quoted string, decoded as
// encoding/json does (invalid UTF-8 and lone surrogates become U+FFFD).
func Unquote(quoted []byte) ([]byte, error) {
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return nil, ErrSyntax
	}
	return []byte(s), nil
}

// String reads a member of Go type string at i: a string sets *dst
// (aliasing the text unless it had escapes or bytes that are not UTF-8),
// null leaves it, another type is a type error.
func (p *Parser) String(i int, dst *[]byte) (int, error) {
	if p.b[i] != '"' {
		if p.b[i] != 'n' {
			p.typed = true
		}
		return p.Skip(i)
	}
	raw, end, escaped, err := p.Str(i)
	if err != nil {
		return 0, err
	}
	// A value kept must be what encoding/json makes of it: escapes
	// decoded, bytes that are not UTF-8 replaced. (A key needs neither
	// for the latter: such a byte folds to no letter of a field's name.)
	if escaped || !utf8.Valid(raw) {
		if raw, err = Unquote(p.b[i:end]); err != nil {
			return 0, err
		}
	}
	*dst = raw
	return end, nil
}

// Int reads a member of Go type int64 at i: a number that is not an
// integer of int64's range is a type error, as is a string; null leaves
// *dst. An integer of at most 18 digits (every token count) is summed
// as it is read; others go through strconv, as encoding/json does.
func (p *Parser) Int(i int, dst *int64) (int, error) {
	b := p.b
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	var v int64
	k := j
	for ; k < len(b) && k-j < 19 && b[k] >= '0' && b[k] <= '9'; k++ {
		v = v*10 + int64(b[k]-'0')
	}
	// A short integer, its end not part of a longer number (nor a
	// leading zero before more digits, which Number rejects).
	if n := k - j; n > 0 && n <= 18 && (n == 1 || b[j] != '0') &&
		(k == len(b) || b[k] != '.' && b[k] != 'e' && b[k] != 'E' && (b[k] < '0' || b[k] > '9')) {
		if j > i {
			v = -v
		}
		*dst = v
		return k, nil
	}
	raw, end, err := p.number(i)
	if raw != nil {
		if v, perr := strconv.ParseInt(string(raw), 10, 64); perr != nil {
			p.typed = true
		} else {
			*dst = v
		}
	}
	return end, err
}

// Float reads a member of Go type float64 at i: a number out of
// float64's range is a type error, as is a string; null leaves *dst.
func (p *Parser) Float(i int, dst *float64) (int, error) {
	raw, end, err := p.number(i)
	if raw != nil {
		if v, perr := strconv.ParseFloat(string(raw), 64); perr != nil {
			p.typed = true
		} else {
			*dst = v
		}
	}
	return end, err
}

// number reads a number member at i, as encoding/json would for a field
// of a number type, and returns its text for strconv (which, called
// directly, makes no string of it), and nil for a value of another kind,
// validated: null leaves the field, others are type errors.
func (p *Parser) number(i int) (raw []byte, end int, err error) {
	c := p.b[i]
	if c != '-' && (c < '0' || c > '9') {
		if c != 'n' {
			p.typed = true
		}
		end, err = p.Skip(i)
		return nil, end, err
	}
	if end, err = p.Number(i); err != nil {
		return nil, 0, err
	}
	return p.b[i:end], end, nil
}

// FloatPtr reads a member of Go type *float64 at i: null clears *set, a
// number sets *dst and *set, another type is a type error.
func (p *Parser) FloatPtr(i int, dst *float64, set *bool) (int, error) {
	if p.b[i] == 'n' {
		*set = false
		return p.Literal(i, "null")
	}
	c := p.b[i]
	if c == '-' || c >= '0' && c <= '9' {
		*set = true
		*dst = 0
	}
	return p.Float(i, dst)
}

// BoolPtr reads a member of Go type *bool at i: null clears *set, true
// or false sets *dst and *set, another type is a type error.
func (p *Parser) BoolPtr(i int, dst, set *bool) (int, error) {
	switch p.b[i] {
	case 'n':
		*set = false
		return p.Literal(i, "null")
	case 't':
		*set, *dst = true, true
		return p.Literal(i, "true")
	case 'f':
		*set, *dst = true, false
		return p.Literal(i, "false")
	}
	p.typed = true
	return p.Skip(i)
}
