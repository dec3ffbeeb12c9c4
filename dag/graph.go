package dag

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/dominikbraun/graph"
	"github.com/rebuild-nixos/rebuild/internal/hostname"
	"github.com/rebuild-nixos/rebuild/internal/suggest"
)

// Graph is a validated, acyclic graph of tasks. It is immutable once Build
// returns it, safe for concurrent reads, and every slice or map it returns
// is a fresh copy. The zero Graph is an empty graph.
type Graph struct {
	order   []string            // stable topological order
	index   map[string]int      // name → position in order
	nodes   map[string]Node     // normalised: Needs/After from the edges, sorted by order
	in      map[string][]Edge   // incoming edges, sorted by index of From
	out     map[string][]Edge   // outgoing edges, sorted by index of To
	edges   []Edge              // sorted by (index of To, index of From)
	ixEdges []IndexEdge         // edges as Order positions, in the same order
	groups  []string            // sorted
	byGroup map[string][]string // group → members in order
	byPhase map[int][]string    // phase → members in order
	byBase  map[string][]string // per-host task name → its instances (build → build@a, build@b), in order
	hosts   []string            // the hosts of per-host instances, in order of first appearance
	level   map[string]int      // longest chain of prerequisites, in edges
	waves   [][]string
}

// Build validates nodes and returns their graph. The first failure is
// returned, checked in this order: task by task, a malformed node
// (*NodeError: a name or group outside a-z, 0-9 and '-', a phase outside
// 0..14) or a repeated name (*DuplicateError); then an edge to an unknown
// task (*UnknownEdgeError, with a suggestion); then a cycle (*CycleError,
// the whole cycle). A pair of tasks joined by both a needs and an after edge gets one
// needs edge; an edge listed twice counts once.
//
// The order of nodes matters: it breaks ties in Order, so the same input
// always gives the same graph. Build does not keep nodes or its slices.
// Cost: O((V+E) log V).
func Build(nodes []Node) (*Graph, error) {
	pos := make(map[string]int, len(nodes))
	names := make([]string, len(nodes))
	for i, n := range nodes {
		if err := checkNode(n); err != nil {
			return nil, err
		}
		if _, dup := pos[n.Name]; dup {
			return nil, &DuplicateError{Name: n.Name}
		}
		pos[n.Name] = i
		names[i] = n.Name
	}

	// dominikbraun/graph holds vertices and edges while we validate; the
	// read model is copied out of it into plain slices below.
	lg := graph.New(func(n Node) string { return n.Name }, graph.Directed())
	for _, n := range nodes {
		if err := lg.AddVertex(n); err != nil {
			return nil, fmt.Errorf("dag: add task %q: %w", n.Name, err)
		}
	}
	for _, n := range nodes {
		// All needs edges go in before any after edge, so when a pair has
		// both, the needs edge is the one that stays.
		for _, kind := range []EdgeKind{Needs, After} {
			targets := n.Needs
			if kind == After {
				targets = n.After
			}
			for _, t := range targets {
				if _, ok := pos[t]; !ok {
					return nil, &UnknownEdgeError{Task: n.Name, Kind: kind, Target: t, Suggestion: suggest.Closest(t, names)}
				}
				err := lg.AddEdge(t, n.Name, graph.EdgeData(kind))
				if errors.Is(err, graph.ErrEdgeAlreadyExists) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("dag: add edge %q → %q: %w", t, n.Name, err)
				}
			}
		}
	}

	adj, err := lg.AdjacencyMap()
	if err != nil {
		return nil, fmt.Errorf("dag: adjacency: %w", err)
	}
	pred, err := lg.PredecessorMap()
	if err != nil {
		return nil, fmt.Errorf("dag: predecessors: %w", err)
	}
	order := kahn(names, pos, adj, pred)
	if len(order) < len(nodes) {
		cycle, err := findCycle(lg, adj)
		if err != nil {
			return nil, err
		}
		return nil, &CycleError{Cycle: cycle}
	}
	return newGraph(nodes, order, pred), nil
}

// newGraph fills the read model of a validated graph. O((V+E) log V).
func newGraph(nodes []Node, order []string, pred map[string]map[string]graph.Edge[string]) *Graph {
	g := &Graph{
		order:   order,
		index:   make(map[string]int, len(order)),
		nodes:   make(map[string]Node, len(order)),
		in:      make(map[string][]Edge, len(order)),
		out:     make(map[string][]Edge, len(order)),
		byGroup: map[string][]string{},
		byPhase: map[int][]string{},
		byBase:  map[string][]string{},
		level:   make(map[string]int, len(order)),
	}
	for i, name := range order {
		g.index[name] = i
	}
	given := make(map[string]Node, len(nodes))
	for _, n := range nodes {
		given[n.Name] = n
	}
	for _, to := range order {
		var in []Edge
		for from, e := range pred[to] {
			in = append(in, Edge{From: from, To: to, Kind: e.Properties.Data.(EdgeKind)})
		}
		slices.SortFunc(in, func(a, b Edge) int { return g.index[a.From] - g.index[b.From] })
		g.in[to] = in
		g.edges = append(g.edges, in...)
		for _, e := range in {
			g.ixEdges = append(g.ixEdges, IndexEdge{From: int32(g.index[e.From]), To: int32(g.index[to]), Kind: e.Kind})
		}
		for _, e := range in {
			g.out[e.From] = append(g.out[e.From], e)
		}
	}
	// Appending in order of To keeps every out list sorted already.

	for _, name := range order {
		n := given[name]
		n.Needs, n.After = nil, nil
		for _, e := range g.in[name] {
			if e.Kind == Needs {
				n.Needs = append(n.Needs, e.From)
			} else {
				n.After = append(n.After, e.From)
			}
		}
		var groups []string
		for _, gr := range n.Groups {
			if !slices.Contains(groups, gr) {
				groups = append(groups, gr)
				g.byGroup[gr] = append(g.byGroup[gr], name)
			}
		}
		n.Groups = groups
		if n.Phase != 0 {
			g.byPhase[n.Phase] = append(g.byPhase[n.Phase], name)
		}
		if base, host := SplitHost(name); host != "" {
			g.byBase[base] = append(g.byBase[base], name)
			if !slices.Contains(g.hosts, host) {
				g.hosts = append(g.hosts, host)
			}
		}
		g.nodes[name] = n

		lvl := 0
		for _, e := range g.in[name] {
			lvl = max(lvl, g.level[e.From]+1)
		}
		g.level[name] = lvl
		if lvl == len(g.waves) {
			g.waves = append(g.waves, nil)
		}
		g.waves[lvl] = append(g.waves[lvl], name)
	}
	for gr := range g.byGroup {
		g.groups = append(g.groups, gr)
	}
	slices.Sort(g.groups)
	return g
}

// checkNode rejects what could never be selected or drawn safely.
func checkNode(n Node) error {
	if msg := nameProblem(n.Name); msg != "" {
		return &NodeError{Task: n.Name, Msg: "name " + msg}
	}
	if n.Phase < 0 || n.Phase > 14 {
		return &NodeError{Task: n.Name, Msg: fmt.Sprintf("seed %d out of range (1–14, or 0 for none)", n.Phase)}
	}
	for _, gr := range n.Groups {
		if msg := kebabProblem(gr); msg != "" {
			return &NodeError{Task: n.Name, Msg: fmt.Sprintf("group %q: %s", gr, msg)}
		}
	}
	return nil
}

// nameProblem says what is wrong with a task name, "" if nothing: a
// kebab-case name, or the instance of a per-host task, a kebab-case name,
// one '@' and its host's name (build@web1).
func nameProblem(s string) string {
	base, host, perHost := strings.Cut(s, HostSep)
	if !perHost {
		return kebabProblem(s)
	}
	if msg := kebabProblem(base); msg != "" {
		return msg
	}
	if msg := hostname.Problem(host); msg != "" {
		return fmt.Sprintf("has host %q, which %s", host, msg)
	}
	return ""
}

// HostSep joins a per-host task's name and its host's: build@web1 (the
// same as tasks.HostSep, which dag does not import).
const HostSep = "@"

// SplitHost splits a task name into the task and its host: "build@web1"
// is ("build", "web1"); a task of the whole run has host "".
func SplitHost(name string) (task, host string) {
	task, host, _ = strings.Cut(name, HostSep)
	return task, host
}

// kebabProblem says what is wrong with a task or group name, "" if nothing.
func kebabProblem(s string) string {
	if s == "" {
		return "is empty"
	}
	for _, r := range s {
		if !isNameRune(r) {
			return fmt.Sprintf("has %q: use a-z, 0-9 and '-'", r)
		}
	}
	return ""
}

func isNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-'
}

// Len returns the number of tasks. O(1).
func (g *Graph) Len() int { return len(g.order) }

// Node returns the task called name, with Needs and After as the graph has
// them (deduplicated, sorted by Order). O(degree).
func (g *Graph) Node(name string) (Node, bool) {
	n, ok := g.nodes[name]
	if !ok {
		return Node{}, false
	}
	return n.clone(), true
}

// Nodes returns every task in Order, as Node would. O(V+E).
func (g *Graph) Nodes() []Node {
	out := make([]Node, len(g.order))
	for i, name := range g.order {
		out[i] = g.nodes[name].clone()
	}
	return out
}

// Edges returns every edge, sorted by the Order index of To, then of From.
// O(E).
func (g *Graph) Edges() []Edge {
	return slices.Clone(g.edges)
}

// IndexEdge is an edge as the positions of its tasks in Order.
type IndexEdge struct {
	From, To int32
	Kind     EdgeKind
}

// IndexEdges yields Edges with each task given as its position in Order,
// in the same order: for a walk of the graph that looks no name up and
// copies nothing. Computed once in Build; a walk is O(E).
func (g *Graph) IndexEdges() iter.Seq[IndexEdge] {
	return func(yield func(IndexEdge) bool) {
		for _, e := range g.ixEdges {
			if !yield(e) {
				return
			}
		}
	}
}

// Prereqs returns the edges into name, sorted by the Order index of From;
// nil for an unknown name. O(in-degree).
func (g *Graph) Prereqs(name string) []Edge {
	return slices.Clone(g.in[name])
}

// Dependents returns the edges out of name, sorted by the Order index of
// To; nil for an unknown name. O(out-degree).
func (g *Graph) Dependents(name string) []Edge {
	return slices.Clone(g.out[name])
}

// Hosts returns the hosts of the per-host tasks (build@web1 is web1's),
// in the order their first task comes in Order; nil when every task is
// the whole run's. O(hosts).
func (g *Graph) Hosts() []string {
	return slices.Clone(g.hosts)
}

// Groups returns every group name used by a task, sorted. O(groups).
func (g *Graph) Groups() []string {
	return slices.Clone(g.groups)
}
