package dag

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// WriteMermaid writes the graph as a Mermaid flowchart, left to right.
// Task names contain '-', which Mermaid ids may not, so task i of Order is
// n<i>, labelled like ["2 · build"]; interactive tasks have rounded
// corners, critical ones a thick border. Needs edges are -->, after edges
// -.->, in the order of Edges. The tasks of each host (build@web1 is
// web1's) are in a subgraph h<i> labelled with the host, after the tasks
// of the whole run. The output depends only on the graph.
// O(V+E); w gets one Write.
func (g *Graph) WriteMermaid(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("flowchart LR\n")
	id := func(name string) string { return fmt.Sprintf("n%d", g.index[name]) }
	var critical []string
	hosts := map[string]*bytes.Buffer{}
	for _, name := range g.order {
		n := g.nodes[name]
		w := &b
		if _, host := SplitHost(name); host != "" {
			if hosts[host] == nil {
				hosts[host] = &bytes.Buffer{}
			}
			w = hosts[host]
		}
		open, end := "[", "]"
		if n.Interactive {
			open, end = "(", ")"
		}
		fmt.Fprintf(w, "  %s%s\"%s\"%s\n", id(name), open, mermaidEscape(label(n)), end)
		if n.Critical {
			critical = append(critical, id(name))
		}
	}
	for i, host := range g.hosts {
		fmt.Fprintf(&b, "  subgraph h%d[\"%s\"]\n", i, mermaidEscape(host))
		for _, line := range strings.SplitAfter(hosts[host].String(), "\n") {
			if line != "" {
				b.WriteString("  " + line)
			}
		}
		b.WriteString("  end\n")
	}
	for _, e := range g.edges {
		arrow := "-->"
		if e.Kind == After {
			arrow = "-.->"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", id(e.From), arrow, id(e.To))
	}
	if len(critical) > 0 {
		b.WriteString("  classDef critical stroke-width:3px\n")
		fmt.Fprintf(&b, "  class %s critical\n", strings.Join(critical, ","))
	}
	_, err := w.Write(b.Bytes())
	return err
}

// mermaidEscape makes s safe inside a quoted Mermaid label.
func mermaidEscape(s string) string {
	return strings.ReplaceAll(s, `"`, "#quot;")
}
