package termtext

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain.txt", "plain.txt"},
		{"", ""},
		{"Grüße, 日本語 😀 e\u0301", "Grüße, 日本語 😀 e\u0301"}, // ordinary UTF-8 stays readable
		{"x\x1b]0;PWNED\x07\x1b[2J", `x\x1b]0;PWNED\a\x1b[2J`},
		{"tab\there\nnew\rcr\v\f\b", `tab\there\nnew\rcr\v\f\b`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"c1 \u009b2J \u0090", `c1 \u009b2J \u0090`},               // C1 as UTF-8
		{"raw \x9b2J \x90q \xff\xfe", `raw \x9b2J \x90q \xff\xfe`}, // invalid bytes
		{"bidi \u202eevil\u2066", `bidi \u202eevil\u2066`},
		{"line\u2028sep", `line\u2028sep`},
		{"tag \U000e0041", `tag \U000e0041`},
		{`back\slash \x1b`, `back\slash \x1b`}, // left alone: escaping twice changes nothing
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEscapeText(t *testing.T) {
	in := "name\tsize\n\x1b[2Jevil\t1 KiB\n"
	if got, want := EscapeText(in), "name\tsize\n\\x1b[2Jevil\t1 KiB\n"; got != want {
		t.Errorf("EscapeText = %q, want %q", got, want)
	}
}

func TestEscapeLeavesPrintableASCIIAlone(t *testing.T) {
	s := "a perfectly ordinary name (1).txt"
	if got := Escape(s); got != s {
		t.Errorf("got %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { Escape(s) }); n != 0 {
		t.Errorf("%v allocations for printable ASCII, want 0", n)
	}
}

// unsafe returns the first rune of out that must not reach a terminal
// raw: below 0x20 (tab and, for a block, newline aside), DEL, a C1
// control, an invalid byte, or any other rune that does not print.
func unsafe(out string, block bool) (string, bool) {
	for i, r := range out {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(out[i:], "\uFFFD"):
			return out[i : i+1], true
		case block && (r == '\n' || r == '\t'):
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			return string(r), true
		}
	}
	return "", false
}

// FuzzEscape: whatever a name holds, what Escape and EscapeText give is
// valid UTF-8 with no control character (but tab and newline in a block),
// escaping it again changes nothing, and printable text is kept.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"plain", "x\x1b]0;PWNED\x07\x1b[2J", "\x9b2J\x90q\x1b\\", "\u009b\u202e\xff", "a\tb\nc", `\x1b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, block := range []bool{false, true} {
			out := escape(s, block)
			if c, bad := unsafe(out, block); bad {
				t.Fatalf("escape(%q, %v) = %q lets %q through", s, block, out, c)
			}
			if !utf8.ValidString(out) {
				t.Fatalf("escape(%q, %v) = %q is not valid UTF-8", s, block, out)
			}
			if again := escape(out, block); again != out {
				t.Fatalf("escaping %q twice gives %q, not %q", s, again, out)
			}
		}
		printable := strings.IndexFunc(s, func(r rune) bool { return r == utf8.RuneError || !strconv.IsPrint(r) }) < 0
		if printable && utf8.ValidString(s) && Escape(s) != s {
			t.Fatalf("printable %q changed to %q", s, Escape(s))
		}
	})
}
