package dag

import (
	"bytes"
	"encoding/json"
	"io"
)

type jsonGraph struct {
	Tasks []jsonTask `json:"tasks"`
	Edges []jsonEdge `json:"edges"`
}

type jsonTask struct {
	Name        string   `json:"name"`
	Host        string   `json:"host,omitempty"`
	Phase       int      `json:"seed"`
	Groups      []string `json:"groups"`
	Needs       []string `json:"needs"`
	After       []string `json:"after"`
	Critical    bool     `json:"critical"`
	Interactive bool     `json:"interactive"`
	Wave        int      `json:"wave"`
}

type jsonEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Kind string `json:"kind"`
}

// WriteJSON writes the graph as indented JSON:
//
//	{"tasks": [{"name", "seed", "groups", "needs", "after", "critical",
//	            "interactive", "wave"}, …], "edges": [{"from", "to", "kind"}, …]}
//
// Tasks are in Order and edges in the order of Edges; kind is "needs" or
// "after", seed (the phase number) is 0 for none, and wave counts from 1 as in WriteText
// (Waves()[wave-1] holds the task). Empty lists are [] rather than null.
// A per-host task's instance (build@web1) also has "host": "web1"; a task
// of the whole run has no host key, so a graph without hosts is written as
// it always was.
// O(V+E); w gets one Write.
func (g *Graph) WriteJSON(w io.Writer) error {
	out := jsonGraph{Tasks: []jsonTask{}, Edges: []jsonEdge{}}
	for _, name := range g.order {
		n := g.nodes[name]
		_, host := SplitHost(name)
		out.Tasks = append(out.Tasks, jsonTask{
			Name:        n.Name,
			Host:        host,
			Phase:       n.Phase,
			Groups:      nonNil(n.Groups),
			Needs:       nonNil(n.Needs),
			After:       nonNil(n.After),
			Critical:    n.Critical,
			Interactive: n.Interactive,
			Wave:        g.level[name] + 1,
		})
	}
	for _, e := range g.edges {
		out.Edges = append(out.Edges, jsonEdge{From: e.From, To: e.To, Kind: e.Kind.String()})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
