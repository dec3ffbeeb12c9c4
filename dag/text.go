package dag

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// label is how drawings name a task: "2 · build", or "diff" without a phase.
func label(n Node) string {
	if n.Phase == 0 {
		return n.Name
	}
	return strconv.Itoa(n.Phase) + " · " + n.Name
}

// WriteText writes the graph for people: one block per wave ("wave 1" is
// the first), one line per task in Order, like
//
//	wave 2
//	  2 · build          needs flake-update  [critical]  (system)
//
//	wave 3
//	    · diff           needs build  (system)
//
// with after edges as "after x, y", the flags in brackets and the groups in
// parentheses at the end. An empty graph writes "no tasks". The output
// depends only on the graph. O(V+E); w gets one Write.
func (g *Graph) WriteText(w io.Writer) error {
	var b bytes.Buffer
	if len(g.order) == 0 {
		b.WriteString("no tasks\n")
	}
	width := 0
	for _, name := range g.order {
		width = max(width, len(name))
	}
	for i, wave := range g.waves {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "wave %d\n", i+1)
		for _, name := range wave {
			n := g.nodes[name]
			phase := ""
			if n.Phase != 0 {
				phase = strconv.Itoa(n.Phase)
			}
			line := fmt.Sprintf("%3s · %-*s", phase, width, n.Name)
			var parts []string
			if len(n.Needs) > 0 {
				parts = append(parts, "needs "+strings.Join(n.Needs, ", "))
			}
			if len(n.After) > 0 {
				parts = append(parts, "after "+strings.Join(n.After, ", "))
			}
			var flags []string
			if n.Critical {
				flags = append(flags, "critical")
			}
			if n.Interactive {
				flags = append(flags, "interactive")
			}
			if len(flags) > 0 {
				parts = append(parts, "["+strings.Join(flags, ", ")+"]")
			}
			if len(n.Groups) > 0 {
				parts = append(parts, "("+strings.Join(n.Groups, ", ")+")")
			}
			if len(parts) > 0 {
				line += "  " + strings.Join(parts, "  ")
			}
			b.WriteString(strings.TrimRight(line, " "))
			b.WriteByte('\n')
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
