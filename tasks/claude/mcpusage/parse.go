package mcpusage

import (
	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonscan"
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
// scan always did: that is, holds one of them as a string), and the same lines rejected. encoding/json spent most
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
	// items is room for Content, kept from line to line.
	items []item
}

// item is one block of message.content: its type, id and name, aliasing
// the line unless they had escapes.
type item struct {
	Type, ID, Name []byte
}

var errSyntax = jsonscan.ErrSyntax

// parser walks one line.
type parser struct{ jsonscan.Parser }

// parseLine reads one line into out (reset first). It returns errSyntax
// for every line encoding/json would not have decoded into the struct
// above without an error.
//
// Whether the line mentions "usage" or "tool_use" is known only at its
// end (the parser counts those strings as it reads them, see
// jsonscan.Parser.Watch): the message is read as if it did, and what it
// held (values, type errors) is dropped at the end if it did not.
func parseLine(line []byte, out *parsedLine) error {
	*out = parsedLine{items: out.items[:0]}
	var p parser
	p.Reset(line)
	p.Watch(watched...)
	i := p.WS(0)
	if i >= len(line) {
		return errSyntax
	}
	var err error
	var msgTyped bool // a value of the message had the wrong type
	switch line[i] {
	case '{':
		i, err = p.Object(i, func(key []byte, i int) (int, error) {
			switch {
			case jsonscan.Is(key, "timestamp"):
				return p.String(i, &out.Timestamp)
			case jsonscan.Is(key, "cwd"):
				return p.String(i, &out.Cwd)
			case jsonscan.Is(key, "message"):
				typed := p.Typed()
				p.ClearTyped()
				end, err := p.message(i, out)
				msgTyped = msgTyped || p.Typed()
				p.ClearTyped()
				if typed {
					p.TypeError()
				}
				return end, err
			}
			return p.Skip(i)
		})
	case 'n':
		i, err = p.Literal(i, "null")
	default:
		p.TypeError()
		i, err = p.Skip(i)
	}
	if err != nil {
		return err
	}
	switch {
	case p.Seen(seenUsage)+p.Seen(seenToolUse) == 0:
		out.HasMessage, out.ID, out.HasUsage, out.Usage, out.Content = false, nil, false, Usage{}, nil
	case msgTyped:
		p.TypeError()
	}
	return p.End(i)
}

// watched are the strings whose presence decides whether a line's
// message is read; seenUsage and seenToolUse index them.
var watched = []string{"usage", "tool_use"}

const (
	seenUsage = iota
	seenToolUse
)

// message reads the value of "message": null, or an object (merged into
// the one already read, as encoding/json fills an allocated pointer).
func (p *parser) message(i int, out *parsedLine) (int, error) {
	switch p.Bytes()[i] {
	case 'n':
		out.HasMessage, out.ID, out.HasUsage, out.Usage, out.Content = false, nil, false, Usage{}, nil
		return p.Literal(i, "null")
	case '{':
		out.HasMessage = true
		return p.Object(i, func(key []byte, i int) (int, error) {
			switch {
			case jsonscan.Is(key, "id"):
				return p.String(i, &out.ID)
			case jsonscan.Is(key, "usage"):
				return p.usage(i, out)
			case jsonscan.Is(key, "content"):
				return p.content(i, out)
			}
			return p.Skip(i)
		})
	}
	p.TypeError()
	return p.Skip(i)
}

// usage reads message.usage: null or an object of integer counts.
func (p *parser) usage(i int, out *parsedLine) (int, error) {
	switch p.Bytes()[i] {
	case 'n':
		out.HasUsage, out.Usage = false, Usage{}
		return p.Literal(i, "null")
	case '{':
		out.HasUsage = true
		u := &out.Usage
		return p.Object(i, func(key []byte, i int) (int, error) {
			switch {
			case jsonscan.Is(key, "input_tokens"):
				return p.Int(i, &u.Input)
			case jsonscan.Is(key, "output_tokens"):
				return p.Int(i, &u.Output)
			case jsonscan.Is(key, "cache_read_input_tokens"):
				return p.Int(i, &u.CacheRead)
			case jsonscan.Is(key, "cache_creation_input_tokens"):
				return p.Int(i, &u.CacheWrite)
			}
			return p.Skip(i)
		})
	}
	p.TypeError()
	return p.Skip(i)
}

// content reads message.content like contents.UnmarshalJSON: only a list
// whose bytes mention "tool_use" is read, into fresh items. The list is
// read once, as if it did; what it held (items, type errors) is dropped
// when it did not.
func (p *parser) content(i int, out *parsedLine) (int, error) {
	b := p.Bytes()
	if b[i] != '[' {
		return p.Skip(i)
	}
	before := p.Seen(seenToolUse)
	typed := p.Typed()
	p.ClearTyped()
	// The room kept from line to line, unless an earlier list of this
	// line holds it.
	room := out.Content == nil
	var items []item
	if room {
		items = out.items[:0]
	}
	end, err := p.Array(i, func(i int) (int, error) {
		items = append(items, item{})
		it := &items[len(items)-1]
		switch b[i] {
		case 'n':
			return p.Literal(i, "null")
		case '{':
			return p.Object(i, func(key []byte, i int) (int, error) {
				switch {
				case jsonscan.Is(key, "type"):
					return p.String(i, &it.Type)
				case jsonscan.Is(key, "id"):
					return p.String(i, &it.ID)
				case jsonscan.Is(key, "name"):
					return p.String(i, &it.Name)
				}
				return p.Skip(i)
			})
		}
		p.TypeError()
		return p.Skip(i)
	})
	if err != nil {
		return 0, err
	}
	if p.Seen(seenToolUse) == before { // no "tool_use" in the list: left as it was
		p.ClearTyped()
	} else {
		out.Content = items
	}
	if room {
		out.items = items[:0] // grown, maybe
	}
	if typed {
		p.TypeError()
	}
	return end, nil
}
