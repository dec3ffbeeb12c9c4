package dag

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestWriteTextDefaultGraph(t *testing.T) {
	var b bytes.Buffer
	if err := defaultGraph(t).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "default.txt", b.Bytes())
}

// The small graph shows every kind of line:
//
//	a(1) ─▶ b ┄┄▶ c(14)
//	a ┄┄┄┄┄┄┄┄┄▶ c
func TestWriteText(t *testing.T) {
	g := mustBuild(t, []Node{
		{Name: "a", Phase: 1, Critical: true},
		{Name: "b", Needs: []string{"a"}, Groups: []string{"x", "y"}},
		{Name: "c", Phase: 14, Needs: []string{"b"}, After: []string{"a"}, Interactive: true, Critical: true},
	})
	var b bytes.Buffer
	if err := g.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != smallText {
		t.Errorf("WriteText =\n%s\nwant\n%s", b.String(), smallText)
	}

	b.Reset()
	if err := mustBuild(t, nil).WriteText(&b); err != nil || b.String() != "no tasks\n" {
		t.Errorf("empty graph: %q, %v", b.String(), err)
	}
}

// Every writer hands back the error of the io.Writer.
func TestWriteErrors(t *testing.T) {
	g := defaultGraph(t)
	for name, write := range map[string]func(io.Writer) error{
		"text": g.WriteText, "dot": g.WriteDOT, "mermaid": g.WriteMermaid, "json": g.WriteJSON,
	} {
		if err := write(failWriter{}); !errors.Is(err, errFail) {
			t.Errorf("%s: error %v, want %v", name, err, errFail)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

var errFail = errors.New("disk full")

const smallText = `wave 1
  1 · a  [critical]

wave 2
    · b  needs a  (x, y)

wave 3
 14 · c  needs b  after a  [critical, interactive]
`
