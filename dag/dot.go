package dag

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// WriteDOT writes the graph in Graphviz DOT, left to right: tasks in Order
// with quoted ids and labels like "2 · build", critical tasks bold,
// interactive tasks as rounded boxes, needs edges solid and after edges
// dashed, edges in the order of Edges. The tasks of each host (build@web1
// is web1's) are drawn in a cluster labelled with the host, after the
// tasks of the whole run, hosts in order. The output depends only on the
// graph and is accepted by `dot -Tsvg`. O(V+E); w gets one Write.
func (g *Graph) WriteDOT(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("digraph rebuild {\n")
	b.WriteString("  rankdir=LR;\n")
	b.WriteString("  node [shape=ellipse, fontname=\"sans-serif\"];\n")
	b.WriteString("  edge [fontname=\"sans-serif\"];\n")
	// The tasks of one host are drawn in a box of their own, its chain;
	// the whole run's tasks stand outside.
	clusters := map[string]*bytes.Buffer{}
	for _, name := range g.order {
		n := g.nodes[name]
		w := &b
		if _, host := SplitHost(name); host != "" {
			if clusters[host] == nil {
				clusters[host] = &bytes.Buffer{}
			}
			w = clusters[host]
		}
		attrs := []string{"label=" + dotQuote(label(n))}
		var styles []string
		if n.Interactive {
			attrs = append(attrs, "shape=box")
			styles = append(styles, "rounded")
		}
		if n.Critical {
			styles = append(styles, "bold")
		}
		if len(styles) > 0 {
			attrs = append(attrs, "style="+dotQuote(strings.Join(styles, ",")))
		}
		if len(n.Groups) > 0 {
			attrs = append(attrs, "tooltip="+dotQuote(strings.Join(n.Groups, ", ")))
		}
		fmt.Fprintf(w, "  %s [%s];\n", dotQuote(name), strings.Join(attrs, ", "))
	}
	for _, host := range g.hosts {
		fmt.Fprintf(&b, "  subgraph %s {\n    label=%s;\n", dotQuote("cluster_"+host), dotQuote(host))
		for _, line := range strings.SplitAfter(clusters[host].String(), "\n") {
			if line != "" {
				b.WriteString("  " + line)
			}
		}
		b.WriteString("  }\n")
	}
	for _, e := range g.edges {
		fmt.Fprintf(&b, "  %s -> %s", dotQuote(e.From), dotQuote(e.To))
		if e.Kind == After {
			b.WriteString(" [style=dashed]")
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// dotQuote returns s as a DOT double-quoted string.
func dotQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}
