package dag

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestWriteJSONDefaultGraph(t *testing.T) {
	g := defaultGraph(t)
	var b bytes.Buffer
	if err := g.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "default.json", b.Bytes())

	// It reads back into the graph it came from.
	var back struct {
		Tasks []struct {
			Name                  string
			Phase                 int `json:"seed"`
			Groups, Needs, After  []string
			Critical, Interactive bool
			Wave                  int
		}
		Edges []struct{ From, To, Kind string }
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	waves := g.Waves()
	for i, n := range g.Nodes() {
		got := back.Tasks[i]
		if got.Name != n.Name || got.Phase != n.Phase || !reflect.DeepEqual(got.Groups, n.Groups) ||
			len(got.Needs) != len(n.Needs) || len(got.After) != len(n.After) ||
			got.Critical != n.Critical || got.Interactive != n.Interactive {
			t.Errorf("task %d = %+v, want %+v", i, got, n)
		}
		if got.Wave < 1 || got.Wave > len(waves) || !contains(waves[got.Wave-1], n.Name) {
			t.Errorf("task %s: wave %d does not hold it", n.Name, got.Wave)
		}
	}
	edges := g.Edges()
	if len(back.Edges) != len(edges) {
		t.Fatalf("%d edges, want %d", len(back.Edges), len(edges))
	}
	for i, e := range edges {
		if got := back.Edges[i]; got.From != e.From || got.To != e.To || got.Kind != e.Kind.String() {
			t.Errorf("edge %d = %+v, want %+v", i, got, e)
		}
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// Empty lists are [], never null:
//
//	a
func TestWriteJSONEmptyLists(t *testing.T) {
	for g, want := range map[*Graph]string{
		mustBuild(t, []Node{{Name: "a"}}): oneTaskJSON,
		mustBuild(t, nil):                 "{\n  \"tasks\": [],\n  \"edges\": []\n}\n",
	} {
		var b bytes.Buffer
		if err := g.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("WriteJSON =\n%s\nwant\n%s", b.String(), want)
		}
	}
}

const oneTaskJSON = `{
  "tasks": [
    {
      "name": "a",
      "seed": 0,
      "groups": [],
      "needs": [],
      "after": [],
      "critical": false,
      "interactive": false,
      "wave": 1
    }
  ],
  "edges": []
}
`
