package dag

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// edgeList prints edges compactly: "a>b" for needs, "a~>b" for after.
func edgeList(g *Graph) string {
	var parts []string
	for _, e := range g.Edges() {
		arrow := ">"
		if e.Kind == After {
			arrow = "~>"
		}
		parts = append(parts, e.From+arrow+e.To)
	}
	return strings.Join(parts, " ")
}

func TestSelectDefaultGraph(t *testing.T) {
	g := defaultGraph(t)
	cases := []struct {
		only, skip string
		order      string
		edges      string
	}{
		{only: "build", order: "build"},
		{only: "system", order: "flake-update build diff activate",
			edges: "flake-update>build build>diff diff~>activate"},
		{only: "2, 3", order: "build activate", edges: "build~>activate"},
		{only: "flake-update,activate", order: "flake-update activate", edges: "flake-update~>activate"},
		{only: "flake-update,diff", order: "flake-update diff", edges: "flake-update>diff"},
		{only: "7", order: "learn-permissions learn-mcp learn-context learn-workflows learn-instructions learn-cross-project learn-meta learn-review",
			edges: "learn-permissions~>learn-review learn-mcp~>learn-review learn-context~>learn-review learn-workflows~>learn-review " +
				"learn-instructions~>learn-review learn-cross-project~>learn-review learn-meta~>learn-review"},
		{only: "cleanup", order: "generations caches sessions backups"},
		{only: "activate,cleanup", order: "activate generations caches sessions backups",
			edges: "activate>generations activate~>sessions activate~>backups"},
		{only: "git,learn-review", order: "learn-review accept commit push",
			edges: "learn-review~>commit accept>commit commit>push"},
		{only: "system,git", skip: "diff", order: "flake-update build activate accept commit push",
			edges: "flake-update>build build~>activate activate>accept activate~>commit accept>commit commit>push"},
		{skip: "claude,learn,analytics,cleanup,git", order: "flake-update build diff activate",
			edges: "flake-update>build build>diff diff~>activate"},
		{only: "cleanup", skip: "9,caches", order: "sessions backups"},
		{skip: "system,claude,learn,analytics,cleanup,git", order: ""},
		{only: "build", skip: "build", order: ""},
	}
	for _, c := range cases {
		sub, err := g.Select(c.only, c.skip)
		if err != nil {
			t.Errorf("Select(%q, %q): %v", c.only, c.skip, err)
			continue
		}
		if got := strings.Join(sub.Order(), " "); got != c.order {
			t.Errorf("Select(%q, %q) order:\n  %s\nwant\n  %s", c.only, c.skip, got, c.order)
		}
		if got := edgeList(sub); got != c.edges {
			t.Errorf("Select(%q, %q) edges:\n  %s\nwant\n  %s", c.only, c.skip, got, c.edges)
		}
	}
}

// --only=cleanup keeps the tasks' attributes and their order.
func TestSelectCleanup(t *testing.T) {
	sub, err := defaultGraph(t).Select("cleanup", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Node{
		{Name: "generations", Phase: 9, Groups: []string{"cleanup"}, Interactive: true},
		{Name: "caches", Phase: 11, Groups: []string{"cleanup"}, Interactive: true},
		{Name: "sessions", Phase: 12, Groups: []string{"claude", "cleanup"}, Interactive: true},
		{Name: "backups", Phase: 13, Groups: []string{"claude", "cleanup"}, Interactive: true},
	}
	if got := sub.Nodes(); !reflect.DeepEqual(got, want) {
		t.Errorf("Nodes() =\n%+v\nwant\n%+v", got, want)
	}
	var b bytes.Buffer
	if err := sub.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != cleanupText {
		t.Errorf("WriteText =\n%s\nwant\n%s", b.String(), cleanupText)
	}
}

func TestSelectTransitive(t *testing.T) {
	cases := []struct {
		name       string
		nodes      []Node
		only, skip string
		want       string
	}{
		{
			// c ─▶ b ─▶ a; select a, c: c ─▶ a
			name:  "all needs",
			nodes: []Node{{Name: "a", Needs: []string{"b"}}, {Name: "b", Needs: []string{"c"}}, {Name: "c"}},
			only:  "a,c",
			want:  "c>a",
		},
		{
			// c ─▶ b ┄┄▶ a; select a, c: c ┄┄▶ a
			name:  "one after",
			nodes: []Node{{Name: "a", After: []string{"b"}}, {Name: "b", Needs: []string{"c"}}, {Name: "c"}},
			only:  "a,c",
			want:  "c~>a",
		},
		{
			// c ─▶ x ─▶ a and c ┄┄▶ y ─▶ a: some path is all needs, so c ─▶ a
			name: "some all-needs path",
			nodes: []Node{
				{Name: "c"}, {Name: "y", After: []string{"c"}}, {Name: "x", Needs: []string{"c"}},
				{Name: "a", Needs: []string{"x", "y"}},
			},
			skip: "x,y",
			want: "c>a",
		},
		{
			// c ┄┄▶ a directly and c ─▶ x ─▶ a: the direct after edge becomes needs
			name: "needs wins over a direct after",
			nodes: []Node{
				{Name: "c"}, {Name: "x", Needs: []string{"c"}}, {Name: "a", Needs: []string{"x"}, After: []string{"c"}},
			},
			skip: "x",
			want: "c>a",
		},
		{
			// c ─▶ x ─▶ b ─▶ y ─▶ a: only the nearest selected ancestor, no c ─▶ a
			name: "nearest only",
			nodes: []Node{
				{Name: "c"}, {Name: "x", Needs: []string{"c"}}, {Name: "b", Needs: []string{"x"}},
				{Name: "y", Needs: []string{"b"}}, {Name: "a", Needs: []string{"y"}},
			},
			only: "a,b,c",
			want: "c>b b>a",
		},
		{
			// d ─▶ x, e ┄┄▶ x, x ─▶ a, x ─▶ b: fan in and fan out, one edge per pair
			name: "diamond through one",
			nodes: []Node{
				{Name: "d"}, {Name: "e"}, {Name: "x", Needs: []string{"d"}, After: []string{"e"}},
				{Name: "a", Needs: []string{"x"}}, {Name: "b", Needs: []string{"x"}},
			},
			skip: "x",
			want: "d>a e~>a d>b e~>b",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub, err := mustBuild(t, c.nodes).Select(c.only, c.skip)
			if err != nil {
				t.Fatal(err)
			}
			if got := edgeList(sub); got != c.want {
				t.Errorf("edges = %q, want %q", got, c.want)
			}
		})
	}
}

func TestSelectErrors(t *testing.T) {
	g := defaultGraph(t)
	_, err := g.Select("build,,diff", "")
	var se *SelectorError
	if !errors.As(err, &se) || se.Input != "build,,diff" {
		t.Errorf("Select with an empty item = %v, want *SelectorError", err)
	}
	_, err = g.Select("", "Build")
	if !errors.As(err, &se) || se.Item != "Build" {
		t.Errorf("Select with uppercase skip = %v, want *SelectorError", err)
	}
	_, err = g.Select("biuld", "")
	var ue *UnknownSelectorError
	if !errors.As(err, &ue) || err.Error() != unknownBiuld {
		t.Errorf("Select(biuld) = %v\nwant %s", err, unknownBiuld)
	}
	_, err = g.Select("", "15")
	if !errors.As(err, &ue) || ue.Token != "15" {
		t.Errorf("Select(skip 15) = %v, want *UnknownSelectorError", err)
	}
}

// Over random DAGs and random selections: the result holds exactly the
// selected tasks in the original order; every edge it has follows a path of
// the original (a needs edge an all-needs path); every pair of selected
// tasks joined by a path in the original is still ordered; every original
// edge between two selected tasks is kept, at least as strong.
func TestSelectProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		g := mustBuild(t, randomDAG(r))
		only := randomSelector(r, g)
		skip := ""
		if r.IntN(2) == 0 {
			skip = randomSelector(r, g)
		}
		sub, err := g.Select(only, skip)
		if err != nil {
			t.Fatalf("graph %d: Select(%q, %q): %v", i, only, skip, err)
		}
		want := map[string]bool{}
		if only == "" {
			for _, n := range g.Order() {
				want[n] = true
			}
		} else {
			tokens, _ := ParseSelector(only)
			want, _ = g.Resolve(tokens)
		}
		tokens, _ := ParseSelector(skip)
		drop, _ := g.Resolve(tokens)
		for n := range drop {
			delete(want, n)
		}
		var wantOrder []string
		for _, n := range g.Order() {
			if want[n] {
				wantOrder = append(wantOrder, n)
			}
		}
		if got := sub.Order(); !slices.Equal(got, wantOrder) {
			t.Fatalf("graph %d: Select(%q, %q) order %v, want %v", i, only, skip, got, wantOrder)
		}
		if err := checkSubgraph(g, sub); err != "" {
			t.Fatalf("graph %d: Select(%q, %q): %s", i, only, skip, err)
		}
	}
}

// randomSelector names a few tasks, phases or groups of g, or "".
func randomSelector(r *rand.Rand, g *Graph) string {
	if r.IntN(4) == 0 {
		return ""
	}
	names := g.Order()
	var tokens []string
	for range 1 + r.IntN(4) {
		switch r.IntN(4) {
		case 0:
			if gr := g.Groups(); len(gr) > 0 {
				tokens = append(tokens, gr[r.IntN(len(gr))])
				continue
			}
			fallthrough
		case 1:
			if n, _ := g.Node(names[r.IntN(len(names))]); n.Phase > 0 {
				tokens = append(tokens, strconv.Itoa(n.Phase))
				continue
			}
			fallthrough
		default:
			tokens = append(tokens, names[r.IntN(len(names))])
		}
	}
	return strings.Join(tokens, ",")
}

// checkSubgraph says how sub fails to be a selection of g, or "".
func checkSubgraph(g, sub *Graph) string {
	reach, needsReach := closure(g, false), closure(g, true)
	subReach := closure(sub, false)
	for _, n := range sub.Nodes() {
		orig, ok := g.Node(n.Name)
		if !ok {
			return "unknown task " + n.Name
		}
		if n.Phase != orig.Phase || !reflect.DeepEqual(n.Groups, orig.Groups) ||
			n.Critical != orig.Critical || n.Interactive != orig.Interactive {
			return "attributes of " + n.Name + " changed"
		}
	}
	seen := map[[2]string]bool{}
	for _, e := range sub.Edges() {
		pair := [2]string{e.From, e.To}
		if seen[pair] {
			return "duplicate edge " + e.From + " → " + e.To
		}
		seen[pair] = true
		if !reach[e.From][e.To] {
			return "edge " + e.From + " → " + e.To + " follows no path"
		}
		if e.Kind == Needs && !needsReach[e.From][e.To] {
			return "needs edge " + e.From + " → " + e.To + " follows no all-needs path"
		}
	}
	for _, e := range g.Edges() {
		if _, ok := sub.Node(e.From); !ok {
			continue
		}
		if _, ok := sub.Node(e.To); !ok {
			continue
		}
		kept := false
		for _, se := range sub.Prereqs(e.To) {
			kept = kept || se.From == e.From && (se.Kind == Needs || e.Kind == After)
		}
		if !kept {
			return "edge " + e.From + " → " + e.To + " (" + e.Kind.String() + ") lost"
		}
	}
	for _, a := range sub.Order() {
		for _, b := range sub.Order() {
			if reach[a][b] && !subReach[a][b] {
				return "lost the order " + a + " before " + b
			}
		}
	}
	return ""
}

func FuzzSelect(f *testing.F) {
	for _, c := range [][2]string{
		{"", ""}, {"cleanup", ""}, {"build,activate", ""}, {"7", "learn-review"},
		{"", "system"}, {"system,git", "diff"}, {"biuld", ""}, {"a,,b", ""}, {"", "Build"},
		{"1,2,3,4,5,6,7,8,9,10,11,12,13,14", "claude"}, {" 3 ", " 3 "}, {"0", ""}, {"15", "-"},
	} {
		f.Add(c[0], c[1])
	}
	g := defaultGraph(f)
	f.Fuzz(func(t *testing.T, only, skip string) {
		sub, err := g.Select(only, skip)
		if err != nil {
			var se *SelectorError
			var ue *UnknownSelectorError
			if sub != nil || !errors.As(err, &se) && !errors.As(err, &ue) {
				t.Fatalf("Select(%q, %q) = %v, %v (%T)", only, skip, sub, err, err)
			}
			return
		}
		if msg := checkSubgraph(g, sub); msg != "" {
			t.Fatalf("Select(%q, %q): %s", only, skip, msg)
		}
		var b bytes.Buffer
		for _, write := range []func(w *bytes.Buffer) error{
			func(w *bytes.Buffer) error { return sub.WriteText(w) },
			func(w *bytes.Buffer) error { return sub.WriteDOT(w) },
			func(w *bytes.Buffer) error { return sub.WriteMermaid(w) },
			func(w *bytes.Buffer) error { return sub.WriteJSON(w) },
		} {
			if err := write(&b); err != nil {
				t.Fatal(err)
			}
		}
	})
}

const cleanupText = `wave 1
  9 · generations  [interactive]  (cleanup)
 11 · caches       [interactive]  (cleanup)
 12 · sessions     [interactive]  (claude, cleanup)
 13 · backups      [interactive]  (claude, cleanup)
`
