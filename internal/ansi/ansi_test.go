package ansi

import "testing"

func TestStrip(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\x1b[31;1mred\x1b[0m and \x1b]8;;http://x\x07link\x1b]8;;\x07\r", "red and link"},
		{"plain text", "plain text"},
		{"50%\r100%", "50%100%"},
		{"\x1b]0;title\x1b\\after", "after"},
		{"\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor"},
	} {
		if got := Strip(c.in); got != c.want {
			t.Errorf("Strip(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
