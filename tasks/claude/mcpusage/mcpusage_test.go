package mcpusage

import "testing"

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
