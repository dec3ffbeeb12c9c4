package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// ref is the oracle: what encoding/json makes of a line.
type ref struct {
	S  string   `json:"s"`
	I  int64    `json:"i"`
	F  float64  `json:"f"`
	FP *float64 `json:"fp"`
	BP *bool    `json:"bp"`
}

type got struct {
	s             []byte
	i             int64
	f, fp         float64
	fpSet, bp, bs bool
}

// decode reads line with a Parser the way a caller keeping ref's fields
// would.
func decode(line []byte) (got, error) {
	var g got
	var p Parser
	p.Reset(line)
	i := p.WS(0)
	if i >= len(line) {
		return g, ErrSyntax
	}
	var err error
	switch line[i] {
	case '{':
		i, err = p.Object(i, func(key []byte, i int) (int, error) {
			switch {
			case bytes.EqualFold(key, []byte("s")):
				return p.String(i, &g.s)
			case bytes.EqualFold(key, []byte("i")):
				return p.Int(i, &g.i)
			case bytes.EqualFold(key, []byte("f")):
				return p.Float(i, &g.f)
			case bytes.EqualFold(key, []byte("fp")):
				return p.FloatPtr(i, &g.fp, &g.fpSet)
			case bytes.EqualFold(key, []byte("bp")):
				return p.BoolPtr(i, &g.bp, &g.bs)
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
		return g, err
	}
	return g, p.End(i)
}

func agree(t *testing.T, line []byte) {
	t.Helper()
	var want ref
	werr := json.Unmarshal(line, &want)
	g, gerr := decode(line)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json error %v, Parser error %v", line, werr, gerr)
	}
	if werr != nil {
		return
	}
	if string(g.s) != want.S || g.i != want.I || g.f != want.F {
		t.Fatalf("%q: %q %d %v, want %q %d %v", line, g.s, g.i, g.f, want.S, want.I, want.F)
	}
	if g.fpSet != (want.FP != nil) || want.FP != nil && *want.FP != g.fp {
		t.Fatalf("%q: fp %v %v, want %v", line, g.fpSet, g.fp, want.FP)
	}
	if g.bs != (want.BP != nil) || want.BP != nil && *want.BP != g.bp {
		t.Fatalf("%q: bp %v %v, want %v", line, g.bs, g.bp, want.BP)
	}
}

var seeds = []string{
	`{"s":"a","i":1,"f":1.5,"fp":0.25,"bp":true}`,
	`{"s":null,"i":null,"f":null,"fp":null,"bp":null}`,
	`{"fp":1,"fp":null}`, `{"fp":null,"fp":2}`, `{"bp":true,"bp":null}`, `{"bp":false}`,
	`{"s":"a","s":null}`, `{"i":1,"i":null}`, `{"S":"x","s":"y"}`, `{"ſ":"fold"}`, `{"\u0073":"esc"}`,
	`{"s":1}`, `{"s":true}`, `{"s":{}}`, `{"s":[]}`, `{"i":"1"}`, `{"i":1.5}`, `{"i":1e3}`, `{"i":-0}`,
	`{"i":9223372036854775807}`, `{"i":9223372036854775808}`, `{"f":1e400}`, `{"f":-1e-400}`, `{"f":"1"}`,
	`{"fp":"x"}`, `{"fp":1e400}`, `{"fp":{}}`, `{"bp":1}`, `{"bp":"true"}`, `{"bp":[]}`, `{"bp":tru}`,
	`{"s":"\u00e9\ud800","x":"\xff"}`, "{\"s\":\"\xff\xfe\"}", `{"s":"a\"b\\c\/d\b\f\n\r\t"}`, `{"s":"\q"}`,
	`{"s":"` + "\x01" + `"}`, `{"s":"0123456789abcdef0123456789abcdef\\"}`, `{"s":"0123456789abcdef01234567"}`,
	`{"i":-}`, `{"i":-0}`, `{"i":0}`, `{"i":00}`, `{"i":-01}`, `{"i":123456789012345678}`, `{"i":-123456789012345678}`,
	`{"i":1234567890123456789}`, `{"i":-9223372036854775808}`, `{"i":-9223372036854775809}`, `{"i":1E2}`, `{"i":12a}`,
	`{"i":7 }`, `{"i":7}`, `{"i":7,"i":8.0}`, `{"i":1`, `{"i":-5}`,
	`null`, `[]`, `5`, `"s"`, `true`, `{}`, ` { } `, `{"a":[1,2,]}`, `{"a":{"b" 1}}`, `{"a":01}`, `{"a":1}x`,
	`{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":[[[{"b":[]}]]]}`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `[1 2]`,
}

func TestParserAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		agree(t, []byte(s))
	}
	deep := bytes.Repeat([]byte("["), MaxDepth+1)
	agree(t, append(append([]byte(`{"s":"t","a":`), deep...), append(bytes.Repeat([]byte("]"), MaxDepth+1), '}')...))
	agree(t, append(append([]byte(`{"s":"t","a":`), deep[1:]...), append(bytes.Repeat([]byte("]"), MaxDepth), '}')...))
}

// Is matches a key to a field as encoding/json does (here: as
// bytes.EqualFold, which the agreement above checks against it).
func TestIsIsEqualFold(t *testing.T) {
	names := []string{"s", "k", "timestamp", "input_tokens", "id"}
	keys := []string{"", "s", "S", "ſ", "k", "K", "\u212a", "K", "timestamp", "TimeStamp", "timeſtamp", "Timestamp ", "timestam",
		"input_tokens", "INPUT_TOKENS", "input_tokenſ", "_nput_tokens", "iD", "Id", "ID", "id", "\xffd", "@d", "`d", "i", "x"}
	for _, n := range names {
		for _, k := range keys {
			if got, want := Is([]byte(k), n), bytes.EqualFold([]byte(k), []byte(n)); got != want {
				t.Errorf("Is(%q, %q) = %v, want %v", k, n, got, want)
			}
		}
	}
}

func FuzzParser(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { agree(t, line) })
}

// Strings long enough to be searched many bytes at once agree too, with
// a quote, a backslash (escaping or not) or a control character at every
// place, the string ending there or running on to the end of the text.
func TestLongStringsAgree(t *testing.T) {
	for n := range 80 {
		for at := range n {
			for _, c := range []string{`"`, `\`, `\"`, `\n`, `\u00e9`, "\x00", "\x01", "\x1f", "\t", "\x7f", "é", "\x80", "\x9f", "\xa0", "\xa2", "\xdc", "\xff"} {
				body := []byte(strings.Repeat("a", n))
				s := string(body[:at]) + c + string(body[at:])
				agree(t, []byte(`{"s":"`+s+`","i":1}`))
				agree(t, []byte(`{"s":"`+s))
			}
		}
	}
}
