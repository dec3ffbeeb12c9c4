package dag

import "testing"

func TestEdgeKindString(t *testing.T) {
	for kind, want := range map[EdgeKind]string{Needs: "needs", After: "after", EdgeKind(7): "EdgeKind(7)"} {
		if got := kind.String(); got != want {
			t.Errorf("EdgeKind(%d).String() = %q, want %q", int(kind), got, want)
		}
	}
}
