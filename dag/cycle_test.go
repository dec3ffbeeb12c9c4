package dag

import (
	"errors"
	"reflect"
	"testing"
)

func TestBuildCycles(t *testing.T) {
	cases := []struct {
		name  string
		nodes []Node
		want  string
	}{
		{
			// a ─▶ a
			name:  "self edge",
			nodes: []Node{{Name: "a", Needs: []string{"a"}}},
			want:  "cycle: a → a",
		},
		{
			// a ─▶ b ┄┄▶ a
			name:  "two",
			nodes: []Node{{Name: "b", Needs: []string{"a"}}, {Name: "a", After: []string{"b"}}},
			want:  "cycle: a → b → a",
		},
		{
			// a ─▶ b ─▶ c ─▶ a, given so that no other rotation could come first
			name: "three",
			nodes: []Node{
				{Name: "c", Needs: []string{"b"}},
				{Name: "b", Needs: []string{"a"}},
				{Name: "a", Needs: []string{"c"}},
			},
			want: "cycle: a → b → c → a",
		},
		{
			// x ─▶ a ─▶ b ─▶ c ─▶ a, c ─▶ y ─▶ z, w alone
			name: "buried",
			nodes: []Node{
				{Name: "z", Needs: []string{"y"}},
				{Name: "x"},
				{Name: "w"},
				{Name: "y", After: []string{"c"}},
				{Name: "b", Needs: []string{"a"}},
				{Name: "c", After: []string{"b"}},
				{Name: "a", Needs: []string{"x", "c"}},
			},
			want: "cycle: a → b → c → a",
		},
		{
			// m ─▶ n ─▶ m and d ─▶ e ─▶ f ─▶ d: the cycle with the smallest name
			name: "two cycles",
			nodes: []Node{
				{Name: "m", Needs: []string{"n"}},
				{Name: "n", Needs: []string{"m"}},
				{Name: "e", Needs: []string{"d"}},
				{Name: "f", Needs: []string{"e"}},
				{Name: "d", Needs: []string{"f"}},
			},
			want: "cycle: d → e → f → d",
		},
		{
			// b ─▶ c ─▶ d ─▶ b and b ─▶ d: the shortest cycle through b
			name: "shortest through the smallest",
			nodes: []Node{
				{Name: "b", Needs: []string{"d"}},
				{Name: "c", Needs: []string{"b"}},
				{Name: "d", Needs: []string{"c", "b"}},
			},
			want: "cycle: b → d → b",
		},
		{
			// s ─▶ s inside s ─▶ t ─▶ s
			name:  "self edge inside a larger cycle",
			nodes: []Node{{Name: "s", Needs: []string{"s", "t"}}, {Name: "t", Needs: []string{"s"}}},
			want:  "cycle: s → s",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 20 { // map order inside must not leak into the message
				_, err := Build(c.nodes)
				var ce *CycleError
				if !errors.As(err, &ce) {
					t.Fatalf("Build = %v, want *CycleError", err)
				}
				if got := err.Error(); got != c.want {
					t.Fatalf("Error() = %q, want %q", got, c.want)
				}
				if first, last := ce.Cycle[0], ce.Cycle[len(ce.Cycle)-1]; first != last {
					t.Fatalf("Cycle %v does not end where it starts", ce.Cycle)
				}
			}
		})
	}
}

// A long ring is reported whole, starting at its smallest name:
//
//	a ─▶ b ─▶ c ─▶ d ─▶ e ─▶ a
func TestBuildCycleIsWhole(t *testing.T) {
	for _, cycle := range [][]string{
		{"a", "b", "c", "d", "e", "a"},
		{"m", "q", "n", "m"},
	} {
		var nodes []Node
		for i := 1; i < len(cycle); i++ {
			nodes = append(nodes, Node{Name: cycle[i], Needs: []string{cycle[i-1]}})
		}
		_, err := Build(nodes)
		var ce *CycleError
		if !errors.As(err, &ce) || !reflect.DeepEqual(ce.Cycle, cycle) {
			t.Errorf("Build = %v, want cycle %v", err, cycle)
		}
	}
}
