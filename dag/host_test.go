package dag

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// hostNodes is a run over two hosts, as the catalogue expands it:
//
//	update ─▶ build@web1 ─▶ activate@web1 ─▶ commit
//	update ─▶ build@db.x ─▶ activate@db.x ─▶ commit
func hostNodes() []Node {
	return []Node{
		{Name: "update", Phase: 1, Groups: []string{"system"}, Critical: true},
		{Name: "build@web1", Phase: 2, Groups: []string{"system"}, Needs: []string{"update"}, Critical: true},
		{Name: "build@db.x", Phase: 2, Groups: []string{"system"}, Needs: []string{"update"}, Critical: true},
		{Name: "activate@web1", Phase: 3, Groups: []string{"system"}, Needs: []string{"build@web1"}},
		{Name: "activate@db.x", Phase: 3, Groups: []string{"system"}, Needs: []string{"build@db.x"}},
		{Name: "commit", Needs: []string{"activate@web1", "activate@db.x"}, Interactive: true},
	}
}

func TestBuildHostNames(t *testing.T) {
	g := mustBuild(t, hostNodes())
	if got := g.Hosts(); !reflect.DeepEqual(got, []string{"web1", "db.x"}) {
		t.Errorf("Hosts() = %q", got)
	}
	if got := mustBuild(t, defaultNodes()).Hosts(); got != nil {
		t.Errorf("Hosts() of a graph without hosts = %q, want nil", got)
	}
	for _, name := range []string{"build@web1", "build@Web_1", "build@10.0.0.1", "a-b@h-1.example.org"} {
		if _, err := Build([]Node{{Name: name}}); err != nil {
			t.Errorf("Build(%q): %v", name, err)
		}
	}
	cases := []struct{ name, want string }{
		{"build@", `task "build@": name has host "", which is empty`},
		{"@web1", `task "@web1": name is empty`},
		{"Build@web1", `task "Build@web1": name has 'B': use a-z, 0-9 and '-'`},
		{"build@web 1", `task "build@web 1": name has host "web 1", which has ' ': a host name is a letter or a digit, then letters, digits, '-', '_' and '.' (no '@', no spaces)`},
		{"build@a@b", `task "build@a@b": name has host "a@b", which has '@': a host name is a letter or a digit, then letters, digits, '-', '_' and '.' (no '@', no spaces)`},
		{"build@-x", `task "build@-x": name has host "-x", which has '-': a host name is a letter or a digit, then letters, digits, '-', '_' and '.' (no '@', no spaces)`},
		{"build@..", `task "build@..": name has host "..", which has '.': a host name is a letter or a digit, then letters, digits, '-', '_' and '.' (no '@', no spaces)`},
	}
	for _, c := range cases {
		_, err := Build([]Node{{Name: c.name}})
		var ne *NodeError
		if !errors.As(err, &ne) || err.Error() != c.want {
			t.Errorf("Build(%q) = %v, want *NodeError %q", c.name, err, c.want)
		}
	}
}

func TestParseSelectorHosts(t *testing.T) {
	got, err := ParseSelector("build@web1, build@Db_2.x,commit")
	if err != nil || !reflect.DeepEqual(got, []string{"build@web1", "build@Db_2.x", "commit"}) {
		t.Errorf("ParseSelector = %q, %v", got, err)
	}
	for in, want := range map[string]string{
		"build@":     `selector "build@": item "build@": host "" is empty`,
		"@web1":      `selector "@web1": item "@web1": no task before '@' (a task on one host is NAME@HOST, e.g. build@web1)`,
		"Build@web1": `selector "Build@web1": item "Build@web1": uppercase letter 'B' (names are lowercase)`,
		"build@a@b":  `selector "build@a@b": item "build@a@b": host "a@b" has '@': a host name is a letter or a digit, then letters, digits, '-', '_' and '.' (no '@', no spaces)`,
	} {
		_, err := ParseSelector(in)
		var se *SelectorError
		if !errors.As(err, &se) || err.Error() != want {
			t.Errorf("ParseSelector(%q) = %v, want %q", in, err, want)
		}
	}
}

// --only build selects build on every host; build@web1 one of them; a
// group every host's members.
func TestResolveHosts(t *testing.T) {
	g := mustBuild(t, hostNodes())
	for tok, want := range map[string][]string{
		"build":         {"build@db.x", "build@web1"},
		"build@web1":    {"build@web1"},
		"activate@db.x": {"activate@db.x"},
		"system":        {"activate@db.x", "activate@web1", "build@db.x", "build@web1", "update"},
		"3":             {"activate@db.x", "activate@web1"},
	} {
		got, err := g.Resolve([]string{tok})
		if err != nil || !reflect.DeepEqual(keys(got), want) {
			t.Errorf("Resolve(%q) = %v, %v; want %v", tok, keys(got), err, want)
		}
	}
	_, err := g.Resolve([]string{"biuld"})
	want := `unknown task, group or phase "biuld" (did you mean "build"?); valid: tasks update, build, activate, commit` +
		` (a per-host task on one host: NAME@HOST, hosts web1, db.x); groups system; phases 1–14 present: 1, 2, 3`
	if err == nil || err.Error() != want {
		t.Errorf("Resolve(biuld) = %v\nwant %s", err, want)
	}
	_, err = g.Resolve([]string{"build@web2"})
	var ue *UnknownSelectorError
	if !errors.As(err, &ue) || ue.Token != "build@web2" {
		t.Errorf("Resolve(build@web2) = %v, want *UnknownSelectorError", err)
	}
}

// --only build on two hosts keeps the order through the unselected
// update: nothing joins the builds, and commit waits for both.
func TestSelectHosts(t *testing.T) {
	g := mustBuild(t, hostNodes())
	sub, err := g.Select("build,commit", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := sub.Order(); !reflect.DeepEqual(got, []string{"build@web1", "build@db.x", "commit"}) {
		t.Errorf("Order = %q", got)
	}
	n, _ := sub.Node("commit")
	if !reflect.DeepEqual(n.Needs, []string{"build@web1", "build@db.x"}) {
		t.Errorf("commit needs %q", n.Needs)
	}
}

func TestDrawHosts(t *testing.T) {
	g := mustBuild(t, hostNodes())
	var b bytes.Buffer
	if err := g.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Tasks []map[string]any
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for _, task := range back.Tasks {
		_, want := SplitHost(task["name"].(string))
		host, has := task["host"]
		if want == "" && has || want != "" && host != want {
			t.Errorf("task %v: host %v, want %q", task["name"], host, want)
		}
	}

	b.Reset()
	if err := g.WriteDOT(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != hostDOT {
		t.Errorf("DOT =\n%s\nwant\n%s", got, hostDOT)
	}
	b.Reset()
	if err := g.WriteMermaid(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != hostMermaid {
		t.Errorf("Mermaid =\n%s\nwant\n%s", got, hostMermaid)
	}
	b.Reset()
	if err := g.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "  2 · build@web1     needs update  [critical]  (system)\n") {
		t.Errorf("text:\n%s", b.String())
	}
}

const hostDOT = `digraph rebuild {
  rankdir=LR;
  node [shape=ellipse, fontname="sans-serif"];
  edge [fontname="sans-serif"];
  "update" [label="1 · update", style="bold", tooltip="system"];
  "commit" [label="commit", shape=box, style="rounded"];
  subgraph "cluster_web1" {
    label="web1";
    "build@web1" [label="2 · build@web1", style="bold", tooltip="system"];
    "activate@web1" [label="3 · activate@web1", tooltip="system"];
  }
  subgraph "cluster_db.x" {
    label="db.x";
    "build@db.x" [label="2 · build@db.x", style="bold", tooltip="system"];
    "activate@db.x" [label="3 · activate@db.x", tooltip="system"];
  }
  "update" -> "build@web1";
  "update" -> "build@db.x";
  "build@web1" -> "activate@web1";
  "build@db.x" -> "activate@db.x";
  "activate@web1" -> "commit";
  "activate@db.x" -> "commit";
}
`

const hostMermaid = `flowchart LR
  n0["1 · update"]
  n5("commit")
  subgraph h0["web1"]
    n1["2 · build@web1"]
    n3["3 · activate@web1"]
  end
  subgraph h1["db.x"]
    n2["2 · build@db.x"]
    n4["3 · activate@db.x"]
  end
  n0 --> n1
  n0 --> n2
  n1 --> n3
  n2 --> n4
  n3 --> n5
  n4 --> n5
  classDef critical stroke-width:3px
  class n0,n1,n2 critical
`
