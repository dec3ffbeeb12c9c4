package dag

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Shared fixtures and helpers for the tests of every file.

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// defaultNodes is the default graph of DESIGN.md, in phase order:
//
//	flake-update(1) ─▶ build(2) ─▶ diff ┄┄▶ activate(3) ─▶ claude-config(4) ┄┄▶ mcp-analytics(5)
//	                                                                      ┄┄▶ tool-analytics(6)
//	learn-permissions, learn-mcp, learn-context, learn-workflows,
//	learn-instructions, learn-cross-project, learn-meta (7, all start at once) ┄┄▶ learn-review(7)
//	activate ─▶ accept(8) ─▶ commit(8) ◀┄┄ claude-config, mcp-analytics, tool-analytics, learn-review
//	accept ─▶ generations(9)      commit ─▶ push(14)
//	disk(10) and caches(11) start at once
//	mcp-analytics ┄┄▶ sessions(12) ◀┄┄ learn-review      claude-config ┄┄▶ backups(13)
//
// (─▶ needs, ┄┄▶ after.) Critical and interactive flags are those of PHASES.md.
func defaultNodes() []Node {
	analyzers := []string{
		"learn-permissions", "learn-mcp", "learn-context", "learn-workflows",
		"learn-instructions", "learn-cross-project", "learn-meta",
	}
	nodes := []Node{
		{Name: "flake-update", Phase: 1, Groups: []string{"system"}, Critical: true},
		{Name: "build", Phase: 2, Groups: []string{"system"}, Needs: []string{"flake-update"}, Critical: true},
		{Name: "diff", Groups: []string{"system"}, Needs: []string{"build"}},
		{Name: "activate", Phase: 3, Groups: []string{"system"}, After: []string{"diff"}, Critical: true},
		{Name: "claude-config", Phase: 4, Groups: []string{"claude"}, Needs: []string{"activate"}},
		{Name: "mcp-analytics", Phase: 5, Groups: []string{"claude", "analytics"}, After: []string{"claude-config"}},
		{Name: "tool-analytics", Phase: 6, Groups: []string{"claude", "analytics"}, After: []string{"claude-config"}},
	}
	for _, a := range analyzers {
		nodes = append(nodes, Node{Name: a, Phase: 7, Groups: []string{"learn"}})
	}
	nodes = append(nodes,
		Node{Name: "learn-review", Phase: 7, Groups: []string{"learn"}, After: analyzers, Interactive: true},
		Node{Name: "accept", Phase: 8, Groups: []string{"git"}, Needs: []string{"activate"}, Interactive: true},
		Node{Name: "commit", Phase: 8, Groups: []string{"git"}, Needs: []string{"accept"},
			After: []string{"claude-config", "mcp-analytics", "tool-analytics", "learn-review"}, Interactive: true},
		Node{Name: "generations", Phase: 9, Groups: []string{"cleanup"}, Needs: []string{"accept"}, Interactive: true},
		Node{Name: "disk", Phase: 10, Groups: []string{"analytics"}},
		Node{Name: "caches", Phase: 11, Groups: []string{"cleanup"}, Interactive: true},
		Node{Name: "sessions", Phase: 12, Groups: []string{"claude", "cleanup"},
			After: []string{"mcp-analytics", "learn-review"}, Interactive: true},
		Node{Name: "backups", Phase: 13, Groups: []string{"claude", "cleanup"}, After: []string{"claude-config"}, Interactive: true},
		Node{Name: "push", Phase: 14, Groups: []string{"git"}, Needs: []string{"commit"}, Interactive: true},
	)
	return nodes
}

func defaultGraph(t testing.TB) *Graph {
	t.Helper()
	return mustBuild(t, defaultNodes())
}

func mustBuild(t testing.TB, nodes []Node) *Graph {
	t.Helper()
	g, err := Build(nodes)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return g
}

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./dag/ -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test ./dag/ -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// closure returns, for every task, the tasks reachable from it by one or
// more edges; with needsOnly, along needs edges only.
func closure(g *Graph, needsOnly bool) map[string]map[string]bool {
	reach := map[string]map[string]bool{}
	for _, from := range g.Order() {
		seen := map[string]bool{}
		stack := []string{from}
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, e := range g.Dependents(v) {
				if needsOnly && e.Kind != Needs || seen[e.To] {
					continue
				}
				seen[e.To] = true
				stack = append(stack, e.To)
			}
		}
		reach[from] = seen
	}
	return reach
}

// randomDAG returns 1 to 12 tasks given in a random order, with random
// needs and after edges that all follow a hidden random rank (so there is
// no cycle), some pairs joined twice, phases 0–3 and groups ga, gb, gc.
func randomDAG(r *rand.Rand) []Node {
	n := 1 + r.IntN(12)
	rank := r.Perm(n) // rank[i] is the hidden topological position of task i
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i].Name = fmt.Sprintf("t%d", i)
		nodes[i].Phase = r.IntN(4)
		for _, gr := range []string{"ga", "gb", "gc"} {
			if r.IntN(3) == 0 {
				nodes[i].Groups = append(nodes[i].Groups, gr)
			}
		}
	}
	for i := range nodes {
		for j := range nodes {
			if rank[j] >= rank[i] || r.IntN(10) >= 3 {
				continue
			}
			switch r.IntN(5) {
			case 0, 1:
				nodes[i].Needs = append(nodes[i].Needs, nodes[j].Name)
			case 2, 3:
				nodes[i].After = append(nodes[i].After, nodes[j].Name)
			default: // both kinds, and a repeat: needs must win, once
				nodes[i].After = append(nodes[i].After, nodes[j].Name)
				nodes[i].Needs = append(nodes[i].Needs, nodes[j].Name, nodes[j].Name)
			}
		}
	}
	r.Shuffle(n, func(a, b int) { nodes[a], nodes[b] = nodes[b], nodes[a] })
	return nodes
}
