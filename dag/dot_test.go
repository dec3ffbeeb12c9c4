package dag

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestWriteDOTDefaultGraph(t *testing.T) {
	var b bytes.Buffer
	if err := defaultGraph(t).WriteDOT(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "default.dot", b.Bytes())
}

// Quotes and backslashes cannot appear in a task name, but labels are
// escaped anyway.
func TestDOTQuote(t *testing.T) {
	if got, want := dotQuote(`a"b\c`), `"a\"b\\c"`; got != want {
		t.Errorf("dotQuote = %s, want %s", got, want)
	}
}

// Graphviz accepts what we write: the default graph, a selection and the
// empty graph.
func TestWriteDOTGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz dot not installed")
	}
	full := defaultGraph(t)
	sub, err := full.Select("system,cleanup", "")
	if err != nil {
		t.Fatal(err)
	}
	for name, g := range map[string]*Graph{"default": full, "selection": sub, "empty": mustBuild(t, nil)} {
		var in bytes.Buffer
		if err := g.WriteDOT(&in); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(dot, "-Tsvg")
		cmd.Stdin = &in
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("%s: dot -Tsvg: %v\n%s", name, err, stderr.String())
			continue
		}
		if !strings.Contains(out.String(), "<svg") {
			t.Errorf("%s: dot -Tsvg wrote no svg", name)
		}
		if g.Len() > 0 && !strings.Contains(out.String(), "2 · build") {
			t.Errorf("%s: svg lacks the label of build", name)
		}
	}
}
