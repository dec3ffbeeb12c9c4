package dag

import (
	"bytes"
	"testing"
)

func TestWriteMermaidDefaultGraph(t *testing.T) {
	var b bytes.Buffer
	if err := defaultGraph(t).WriteMermaid(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "default.mmd", b.Bytes())
}

// Ids follow Order, whatever the names:
//
//	b-1(2) ─▶ a-2 ┄┄▶ c
func TestWriteMermaid(t *testing.T) {
	g := mustBuild(t, []Node{
		{Name: "c", After: []string{"a-2"}, Interactive: true},
		{Name: "a-2", Needs: []string{"b-1"}, Critical: true},
		{Name: "b-1", Phase: 2},
	})
	var b bytes.Buffer
	if err := g.WriteMermaid(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != smallMermaid {
		t.Errorf("WriteMermaid =\n%s\nwant\n%s", b.String(), smallMermaid)
	}
	if got := mermaidEscape(`say "hi"`); got != "say #quot;hi#quot;" {
		t.Errorf("mermaidEscape = %q", got)
	}
}

const smallMermaid = `flowchart LR
  n0["2 · b-1"]
  n1["a-2"]
  n2("c")
  n0 --> n1
  n1 -.-> n2
  classDef critical stroke-width:3px
  class n1 critical
`
