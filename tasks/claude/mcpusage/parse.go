package mcpusage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// parsedLine is what one session log line carries for the scan: the same
// fields, with the same meaning, as encoding/json decoding the line into
//
//	struct {
//		Timestamp string `json:"timestamp"`
//		Cwd       string `json:"cwd"`
//		Message   *struct {
//			ID      string   `json:"id"`
//			Content contents `json:"content"`
//			Usage   *Usage   `json:"usage"`
//		} `json:"message"`
//	}
//
// (message read only on a line that mentions "usage" or "tool_use", as the
// scan always did), and the same lines rejected. encoding/json spent most
// of a scan validating and skipping tool results it never keeps, a state
// machine call per byte; parseLine validates them with a table lookup per
// byte and allocates only for the strings it keeps.
type parsedLine struct {
	Timestamp  []byte // aliases the line unless it had escapes
	Cwd        []byte
	HasMessage bool
	ID         []byte
	HasUsage   bool
	Usage      Usage
	Content    []item
}

// item is one block of message.content.
type item struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

var errSyntax = errors.New("session log line: not the expected JSON")

// maxDepth is encoding/json's nesting limit: a deeper line is rejected.
const maxDepth = 10000

// parser walks one line. Its methods return the position after what they
// read, or an error.
type parser struct {
	b     []byte
	depth int
	// typed is set when a value had the wrong type for its field: like
	// encoding/json, the line is still read to its end (a syntax error
	// after it wins), then rejected.
	typed bool
}

// parseLine reads one line into out (reset first). It returns errSyntax
// for every line encoding/json would not have decoded into the struct
// above without an error.
func parseLine(line []byte, out *parsedLine) error {
	*out = parsedLine{}
	p := parser{b: line}
	wantMessage := mentions(line)
	i := p.ws(0)
	if i >= len(line) {
		return errSyntax
	}
	var err error
	switch line[i] {
	case '{':
		i, err = p.object(i, func(key []byte, i int) (int, error) {
			switch {
			case bytes.EqualFold(key, []byte("timestamp")):
				return p.stringField(i, &out.Timestamp)
			case bytes.EqualFold(key, []byte("cwd")):
				return p.stringField(i, &out.Cwd)
			case wantMessage && bytes.EqualFold(key, []byte("message")):
				return p.message(i, out)
			}
			return p.skip(i)
		})
	case 'n':
		i, err = p.literal(i, "null")
	default:
		p.typed = true
		i, err = p.skip(i)
	}
	if err != nil {
		return err
	}
	if p.ws(i) != len(line) || p.typed {
		return errSyntax
	}
	return nil
}

// mentions reports whether line holds "usage" or "tool_use" (quotes
// included) anywhere, in one pass from quote to quote: most of a line's
// bytes are in long strings with few quotes.
func mentions(line []byte) bool {
	for {
		i := bytes.IndexByte(line, '"')
		if i < 0 {
			return false
		}
		line = line[i:]
		if bytes.HasPrefix(line, usageKey) || bytes.HasPrefix(line, toolUse) {
			return true
		}
		line = line[1:]
	}
}

// message reads the value of "message": null, or an object (merged into
// the one already read, as encoding/json fills an allocated pointer).
func (p *parser) message(i int, out *parsedLine) (int, error) {
	switch p.b[i] {
	case 'n':
		out.HasMessage, out.ID, out.HasUsage, out.Usage, out.Content = false, nil, false, Usage{}, nil
		return p.literal(i, "null")
	case '{':
		out.HasMessage = true
		return p.object(i, func(key []byte, i int) (int, error) {
			switch {
			case bytes.EqualFold(key, []byte("id")):
				return p.stringField(i, &out.ID)
			case bytes.EqualFold(key, []byte("usage")):
				return p.usage(i, out)
			case bytes.EqualFold(key, []byte("content")):
				return p.content(i, out)
			}
			return p.skip(i)
		})
	}
	p.typed = true
	return p.skip(i)
}

// usage reads message.usage: null or an object of integer counts.
func (p *parser) usage(i int, out *parsedLine) (int, error) {
	switch p.b[i] {
	case 'n':
		out.HasUsage, out.Usage = false, Usage{}
		return p.literal(i, "null")
	case '{':
		out.HasUsage = true
		u := &out.Usage
		return p.object(i, func(key []byte, i int) (int, error) {
			switch {
			case bytes.EqualFold(key, []byte("input_tokens")):
				return p.intField(i, &u.Input)
			case bytes.EqualFold(key, []byte("output_tokens")):
				return p.intField(i, &u.Output)
			case bytes.EqualFold(key, []byte("cache_read_input_tokens")):
				return p.intField(i, &u.CacheRead)
			case bytes.EqualFold(key, []byte("cache_creation_input_tokens")):
				return p.intField(i, &u.CacheWrite)
			}
			return p.skip(i)
		})
	}
	p.typed = true
	return p.skip(i)
}

// content reads message.content like contents.UnmarshalJSON: only a list
// whose bytes mention "tool_use" is read, into fresh items.
func (p *parser) content(i int, out *parsedLine) (int, error) {
	if p.b[i] != '[' {
		return p.skip(i)
	}
	end, err := p.skip(i)
	if err != nil || !bytes.Contains(p.b[i:end], toolUse) {
		return end, err
	}
	var items []item
	_, err = p.array(i, func(i int) (int, error) {
		items = append(items, item{})
		it := &items[len(items)-1]
		switch p.b[i] {
		case 'n':
			return p.literal(i, "null")
		case '{':
			return p.object(i, func(key []byte, i int) (int, error) {
				switch {
				case bytes.EqualFold(key, []byte("type")):
					return p.stringInto(i, &it.Type)
				case bytes.EqualFold(key, []byte("id")):
					return p.stringInto(i, &it.ID)
				case bytes.EqualFold(key, []byte("name")):
					return p.stringInto(i, &it.Name)
				}
				return p.skip(i)
			})
		}
		p.typed = true
		return p.skip(i)
	})
	out.Content = items
	return end, err
}

func (p *parser) ws(i int) int {
	for i < len(p.b) && (p.b[i] == ' ' || p.b[i] == '\t' || p.b[i] == '\n' || p.b[i] == '\r') {
		i++
	}
	return i
}

// object reads an object at i, calling field with each (unescaped) key
// and the position of its value.
func (p *parser) object(i int, field func(key []byte, i int) (int, error)) (int, error) {
	if p.depth++; p.depth > maxDepth {
		return 0, errSyntax
	}
	defer func() { p.depth-- }()
	i = p.ws(i + 1)
	if i < len(p.b) && p.b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(p.b) || p.b[i] != '"' {
			return 0, errSyntax
		}
		raw, end, escaped, err := p.str(i)
		if err != nil {
			return 0, err
		}
		key := raw
		if escaped {
			if key, err = unquote(p.b[i:end]); err != nil {
				return 0, err
			}
		}
		i = p.ws(end)
		if i >= len(p.b) || p.b[i] != ':' {
			return 0, errSyntax
		}
		i = p.ws(i + 1)
		if i >= len(p.b) {
			return 0, errSyntax
		}
		if i, err = field(key, i); err != nil {
			return 0, err
		}
		i = p.ws(i)
		if i >= len(p.b) {
			return 0, errSyntax
		}
		switch p.b[i] {
		case ',':
			i = p.ws(i + 1)
		case '}':
			return i + 1, nil
		default:
			return 0, errSyntax
		}
	}
}

// array reads an array at i, calling elem with the position of each value.
func (p *parser) array(i int, elem func(i int) (int, error)) (int, error) {
	if p.depth++; p.depth > maxDepth {
		return 0, errSyntax
	}
	defer func() { p.depth-- }()
	i = p.ws(i + 1)
	if i < len(p.b) && p.b[i] == ']' {
		return i + 1, nil
	}
	for {
		if i >= len(p.b) {
			return 0, errSyntax
		}
		var err error
		if i, err = elem(i); err != nil {
			return 0, err
		}
		i = p.ws(i)
		if i >= len(p.b) {
			return 0, errSyntax
		}
		switch p.b[i] {
		case ',':
			i = p.ws(i + 1)
		case ']':
			return i + 1, nil
		default:
			return 0, errSyntax
		}
	}
}

// skip validates the value at i and returns the position after it.
func (p *parser) skip(i int) (int, error) {
	if i >= len(p.b) {
		return 0, errSyntax
	}
	switch c := p.b[i]; {
	case c == '"':
		_, end, _, err := p.str(i)
		return end, err
	case c == '{':
		return p.object(i, func(_ []byte, i int) (int, error) { return p.skip(i) })
	case c == '[':
		return p.array(i, p.skip)
	case c == 't':
		return p.literal(i, "true")
	case c == 'f':
		return p.literal(i, "false")
	case c == 'n':
		return p.literal(i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number(i)
	}
	return 0, errSyntax
}

func (p *parser) literal(i int, lit string) (int, error) {
	if len(p.b)-i < len(lit) || string(p.b[i:i+len(lit)]) != lit {
		return 0, errSyntax
	}
	return i + len(lit), nil
}

// number validates JSON's number grammar.
func (p *parser) number(i int) (int, error) {
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
		return 0, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, errSyntax
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
			return 0, errSyntax
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i, nil
}

// plain marks the bytes a string may hold as they are: not a quote, a
// backslash or a control character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special reports whether any byte of w (8 bytes of a string) is a
// quote, a backslash or a control character, eight at a time.
func special(w uint64) bool {
	zero := func(v uint64) uint64 { return (v - ones) &^ v & highs }
	return (w-0x20*ones)&^w&highs|zero(w^('"'*ones))|zero(w^('\\'*ones)) != 0
}

// str validates the string at i (which is '"'). raw is its content
// between the quotes, escapes untouched; escaped says whether it had any,
// so that raw is not its value. raw may not be UTF-8 (see value).
func (p *parser) str(i int) (raw []byte, end int, escaped bool, err error) {
	b := p.b
	start := i + 1
	i = start
	for {
		for i+8 <= len(b) && !special(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			return nil, 0, false, errSyntax
		}
		switch b[i] {
		case '"':
			return b[start:i], i + 1, escaped, nil
		case '\\':
			escaped = true
			if i+1 >= len(b) {
				return nil, 0, false, errSyntax
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return nil, 0, false, errSyntax
				}
				for _, h := range b[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, 0, false, errSyntax
					}
				}
				i += 6
			default:
				return nil, 0, false, errSyntax
			}
		default: // a control character
			return nil, 0, false, errSyntax
		}
	}
}

// unquote is the value of a validated quoted string, decoded as
// encoding/json does (invalid UTF-8 and lone surrogates become U+FFFD).
func unquote(quoted []byte) ([]byte, error) {
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return nil, errSyntax
	}
	return []byte(s), nil
}

// stringField reads a string field: null leaves it, another type is a
// type error.
func (p *parser) stringField(i int, dst *[]byte) (int, error) {
	if p.b[i] != '"' {
		if p.b[i] != 'n' {
			p.typed = true
		}
		return p.skip(i)
	}
	raw, end, escaped, err := p.str(i)
	if err != nil {
		return 0, err
	}
	// A value kept must be what encoding/json makes of it: escapes
	// decoded, bytes that are not UTF-8 replaced. (A key needs neither
	// for the latter: such a byte folds to no letter of a field's name.)
	if escaped || !utf8.Valid(raw) {
		if raw, err = unquote(p.b[i:end]); err != nil {
			return 0, err
		}
	}
	*dst = raw
	return end, nil
}

func (p *parser) stringInto(i int, dst *string) (int, error) {
	var b []byte
	set := p.b[i] == '"'
	end, err := p.stringField(i, &b)
	if set && err == nil {
		*dst = string(b)
	}
	return end, err
}

// intField reads an int64 field: a number that is not an integer of
// int64's range is a type error, as is a string; null leaves it.
func (p *parser) intField(i int, dst *int64) (int, error) {
	c := p.b[i]
	if c != '-' && (c < '0' || c > '9') {
		if c != 'n' {
			p.typed = true
		}
		return p.skip(i)
	}
	end, err := p.number(i)
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(string(p.b[i:end]), 10, 64)
	if perr != nil {
		p.typed = true
	} else {
		*dst = n
	}
	return end, nil
}
