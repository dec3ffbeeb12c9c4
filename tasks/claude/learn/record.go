package learn

import (
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonscan"
)

// record is one line of a learning file reduced to what its analyzer
// counts: its time, up to five strings (by their index in the ledger's
// table, 0 being ""), a number, and the optional values set. What each
// slot means is the analyzer's (see its shape). A record is what the
// ledger keeps of a line instead of the line: a few bytes, not a hundred.
type record struct {
	Sec  int64
	Nsec int32
	Bits uint8 // hasF, hasB, valB
	S    [maxStrings]uint32
	I    int64
	F    float64
}

const maxStrings = 5

// record bits: which optional values the line set.
const (
	hasF uint8 = 1 << iota // a *float64 member was a number
	hasB                   // a *bool member was true or false
	valB                   // … and it was true
)

func (r *record) time() time.Time { return time.Unix(r.Sec, int64(r.Nsec)) }

// before reports whether r is older than t.
func (r *record) before(t time.Time) bool {
	s := t.Unix()
	return r.Sec < s || r.Sec == s && int(r.Nsec) < t.Nanosecond()
}

// kind is the Go type a member of a learning record decodes into, with
// encoding/json's rules for it.
type kind uint8

const (
	kTime     kind = iota // Timestamp
	kString               // string: slot of S
	kInt                  // int64: I
	kFloat                // float64: F
	kFloatPtr             // *float64: F and hasF
	kBoolPtr              // *bool: hasB and valB
)

// field is one member of a learning record.
type field struct {
	name string
	kind kind
	slot int // of values.s, for a string
}

// shape is the lines of one learning file: the members each is decoded
// into (as encoding/json decodes them into the analyzer's struct), and
// what of them the ledger keeps.
type shape struct {
	file   string // in the learning folder
	fields []field
	// keep may rewrite v's strings (trimmed, say) and returns false for
	// a line its analyzer never counts, whatever the window: it is not
	// kept, and not malformed either.
	keep func(v *values) bool
}

// values are one line's members, decoded.
type values struct {
	t    time.Time
	s    [maxStrings][]byte // alias the line unless unescaped
	i    int64
	f    float64
	fset bool
	b    bool
	bset bool
}

// fieldOf returns the field a member's key names, matched as encoding/json
// matches it (exactly, else case-folded), or nil.
func (sh *shape) fieldOf(key []byte) *field {
	for i := range sh.fields {
		if string(key) == sh.fields[i].name {
			return &sh.fields[i]
		}
	}
	for i := range sh.fields {
		if jsonscan.Is(key, sh.fields[i].name) {
			return &sh.fields[i]
		}
	}
	return nil
}

// decode reads line into v (reset first) and returns an error for every
// line encoding/json would not have decoded into the analyzer's struct
// without one, or whose timestamp is absent or the zero time (it cannot
// be placed in any window): the lines counted as malformed.
func (sh *shape) decode(p *jsonscan.Parser, line []byte, v *values) error {
	*v = values{}
	p.Reset(line)
	i := p.WS(0)
	if i >= len(line) {
		return jsonscan.ErrSyntax
	}
	var err error
	switch line[i] {
	case '{':
		i, err = p.Object(i, func(key []byte, i int) (int, error) {
			f := sh.fieldOf(key)
			if f == nil {
				return p.Skip(i)
			}
			switch f.kind {
			case kTime:
				// Timestamp.UnmarshalJSON is given the value as it is,
				// and its error ends the decoding.
				end, err := p.Skip(i)
				if err != nil {
					return 0, err
				}
				t, set, err := parseTimestamp(line[i:end])
				if err != nil {
					return 0, err
				}
				if set {
					v.t = t
				}
				return end, nil
			case kString:
				return p.String(i, &v.s[f.slot])
			case kInt:
				return p.Int(i, &v.i)
			case kFloat:
				return p.Float(i, &v.f)
			case kFloatPtr:
				return p.FloatPtr(i, &v.f, &v.fset)
			}
			return p.BoolPtr(i, &v.b, &v.bset)
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
	if err := p.End(i); err != nil {
		return err
	}
	if v.t.IsZero() { // absent, or null, or the zero time
		return jsonscan.ErrSyntax // cannot be placed in the window
	}
	return nil
}
