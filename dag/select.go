package dag

import "fmt"

// Select returns the subgraph for `--only only --skip skip`: the tasks only
// resolves to (every task when only is blank), minus the tasks skip
// resolves to. Errors from ParseSelector and Resolve are returned as they
// are, only's before skip's. Selecting nothing is allowed and gives an
// empty graph.
//
// Order between selected tasks is kept through unselected ones: when a
// selected task b reaches a selected task a only through unselected tasks,
// the result has an edge b→a, of kind Needs if every edge along some such
// path is Needs (b failing would have left a upstream-failed), else After.
// Derived edges come only from the nearest selected ancestors: a path that
// passes through a selected task is that task's edge to carry. Edges
// between two selected tasks are kept as they are, except that an After
// edge becomes Needs when an all-needs path also joins the pair. There is
// never more than one edge per pair. The result's Order is g's Order
// restricted to the selection.
//
// O(S·(V+E)) for S selected tasks.
func (g *Graph) Select(only, skip string) (*Graph, error) {
	onlyTokens, err := ParseSelector(only)
	if err != nil {
		return nil, err
	}
	skipTokens, err := ParseSelector(skip)
	if err != nil {
		return nil, err
	}
	keep := make(map[string]bool, len(g.order))
	if onlyTokens == nil {
		for _, name := range g.order {
			keep[name] = true
		}
	} else if keep, err = g.Resolve(onlyTokens); err != nil {
		return nil, err
	}
	drop, err := g.Resolve(skipTokens)
	if err != nil {
		return nil, err
	}
	for name := range drop {
		delete(keep, name)
	}

	var nodes []Node
	for _, name := range g.order {
		if !keep[name] {
			continue
		}
		n := g.nodes[name].clone()
		n.Needs, n.After = nil, nil
		// Prerequisites come out sorted by g's Order, so the result is
		// stable; within one node there is one edge per prerequisite.
		for _, p := range g.nearestSelected(name, keep) {
			if p.needs {
				n.Needs = append(n.Needs, p.name)
			} else {
				n.After = append(n.After, p.name)
			}
		}
		nodes = append(nodes, n)
	}
	sub, err := Build(nodes)
	if err != nil {
		// A subgraph of a DAG with edges that follow its paths is a DAG.
		return nil, fmt.Errorf("dag: select: internal error: %w", err)
	}
	return sub, nil
}

type prereq struct {
	name  string
	needs bool
}

// nearestSelected walks backwards from task to through unselected tasks and
// returns the selected tasks where the walk stops, each once, sorted by
// Order, with needs set when some path from it is all needs edges.
// O(V+E).
func (g *Graph) nearestSelected(to string, keep map[string]bool) []prereq {
	type state struct {
		name  string
		needs bool
	}
	found := map[string]bool{} // selected prerequisite → reached by an all-needs path
	seen := map[state]bool{}
	stack := []state{{to, true}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range g.in[s.name] {
			next := state{e.From, s.needs && e.Kind == Needs}
			if keep[e.From] {
				found[e.From] = found[e.From] || next.needs
				continue
			}
			// An all-needs visit covers everything a mixed one would find.
			if seen[next] || seen[state{next.name, true}] {
				continue
			}
			seen[next] = true
			stack = append(stack, next)
		}
	}
	out := make([]prereq, 0, len(found))
	for _, name := range g.order {
		if needs, ok := found[name]; ok {
			out = append(out, prereq{name, needs})
		}
	}
	return out
}
