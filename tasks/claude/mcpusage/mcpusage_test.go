package mcpusage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServerOf(t *testing.T) {
	for in, want := range map[string]string{
		"mcp__github__search":           "github",
		"mcp__claude_ai_Notion__search": "claude_ai_Notion",
		"mcp__x":                        "",
		"mcp____tool":                   "",
		"Bash":                          "",
	} {
		got, ok := ServerOf(in)
		if got != want || ok != (want != "") {
			t.Errorf("ServerOf(%q) = %q %v", in, got, ok)
		}
	}
}

func TestUsageCost(t *testing.T) {
	u := Usage{Input: 1_000_000, Output: 1_000_000, CacheRead: 1_000_000, CacheWrite: 1_000_000}
	if c := u.Cost(); c != 3+15+0.3+3.75 {
		t.Errorf("cost %v", c)
	}
	if thousands(1234567) != "1,234,567" || thousands(-1000) != "-1,000" || thousands(12) != "12" {
		t.Error("thousands")
	}
}

func TestSameCommand(t *testing.T) {
	if !SameCommand([]byte(`{"a": 1, "b": [1,2]}`), []byte(`{"b":[1,2],"a":1}`)) {
		t.Error("same configuration, other order")
	}
	if SameCommand([]byte(`{"a": 1}`), []byte(`{"a": 2}`)) {
		t.Error("different configurations")
	}
}

// ReadProject reads <project>/.mcp.json (Claude Code's project scope) and
// <project>/.claude/mcp.json; a file that does not parse is an error
// naming it, and the other file's servers are still returned.
func TestReadProjectReadsBothFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if s, err := ReadProject(dir); err != nil || len(s) != 0 {
		t.Fatalf("no files: %v, %v", s, err)
	}
	shared := write(".mcp.json", `{"mcpServers": {"b": {"command": "b"}, "a": {"command": "a"}}}`)
	old := write(".claude/mcp.json", `{"mcpServers": {"c": {"command": "c"}}}`)
	s, err := ReadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, srv := range s {
		if srv.Scope != Project || srv.Project != dir || len(srv.Path) != 1 {
			t.Errorf("%+v", srv)
		}
		got = append(got, srv.Name+" "+srv.File)
	}
	want := []string{"a " + shared, "b " + shared, "c " + old}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("servers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	write(".mcp.json", `{"mcpServers": [}`)
	s, err = ReadProject(dir)
	if err == nil || !strings.Contains(err.Error(), shared+": ") {
		t.Errorf("error %v", err)
	}
	if len(s) != 1 || s[0].Name != "c" {
		t.Errorf("servers of the good file: %+v", s)
	}
}
