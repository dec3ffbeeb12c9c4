package tail

import (
	"strings"
	"testing"
)

func TestRing(t *testing.T) {
	tl := New(2)
	if len(tl.Lines()) != 0 {
		t.Fatal("not empty")
	}
	for _, s := range []string{"a", "b", "c"} {
		tl.Add(s)
	}
	if got := strings.Join(tl.Lines(), ","); got != "b,c" {
		t.Errorf("lines %q", got)
	}
}

// Lines split across writes are joined; an unfinished last line waits for
// its newline or Flush; escapes and carriage returns go.
func TestWriteJoinsPartialLinesAndStrips(t *testing.T) {
	tl := New(3)
	for _, w := range []string{"one\ntw", "o\n\x1b[31mthree\x1b[0m\r\nfo", "ur"} {
		if n, err := tl.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	if got := strings.Join(tl.Lines(), ","); got != "one,two,three" {
		t.Errorf("before Flush: %q", got)
	}
	tl.Flush()
	if got := strings.Join(tl.Lines(), ","); got != "two,three,four" {
		t.Errorf("after Flush: %q", got)
	}
}

// A line longer than MaxLine is cut, however it arrives.
func TestWriteCapsLongLines(t *testing.T) {
	tl := New(2)
	long := strings.Repeat("x", 3*MaxLine)
	tl.Write([]byte(long[:MaxLine]))
	tl.Write([]byte(long[MaxLine:] + "\nshort\n"))
	ls := tl.Lines()
	if len(ls) != 2 || ls[1] != "short" {
		t.Fatalf("lines %d, last %q", len(ls), ls[len(ls)-1])
	}
	if want := strings.Repeat("x", MaxLine) + "…"; ls[0] != want {
		t.Errorf("long line kept as %d bytes, want %d", len(ls[0]), len(want))
	}
}
