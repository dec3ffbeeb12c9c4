package mcpusage

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The lines of one assistant message are counted as one message however
// they are spread: Claude Code writes each content block as a line, and a
// tool_result (or a subagent's message) can come between two blocks of
// the same message. Its tokens are counted once.
func TestScanCountsAMessageOnceWhenItsLinesAreApart(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ts := now.Add(-time.Hour).Format(time.RFC3339Nano)
	type obj = map[string]any
	assistant := func(id string, u Usage, content ...obj) obj {
		return obj{"type": "assistant", "timestamp": ts, "cwd": "/p",
			"message": obj{"id": id, "role": "assistant", "content": content, "usage": u}}
	}
	toolUse := func(id, name string) obj { return obj{"type": "tool_use", "id": id, "name": name, "input": obj{}} }
	// A tool result line as Claude Code writes it for a subagent (Task):
	// the subagent's own usage rides along in toolUseResult.
	result := func(id string) obj {
		return obj{"type": "user", "timestamp": ts, "cwd": "/p",
			"message":       obj{"role": "user", "content": []obj{{"type": "tool_result", "tool_use_id": id, "content": "ok"}}},
			"toolUseResult": obj{"totalTokens": 1234, "usage": obj{"input_tokens": 1000, "output_tokens": 234}}}
	}
	big := Usage{Input: 100_000, Output: 10_000, CacheRead: 500_000}
	small := Usage{Input: 2_000, Output: 300}
	lines := []obj{
		// m1: a subagent and two github calls in parallel, the subagent's
		// result between them.
		assistant("m1", big, obj{"type": "text", "text": "Let me look."}),
		assistant("m1", big, toolUse("t0", "Task")),
		result("t0"),
		assistant("m1", big, toolUse("t1", "mcp__github__search")),
		result("t1"),
		assistant("m1", big, toolUse("t2", "mcp__github__get_file")),
		result("t2"),
		// m2 and m3 interleaved (a subagent's message between m2's lines).
		assistant("m2", small, toolUse("t3", "mcp__nixos__search")),
		assistant("m3", small, toolUse("t4", "mcp__github__search")),
		result("t3"),
		assistant("m2", small, toolUse("t5", "mcp__nixos__options")),
		// The same tool use written twice is one invocation.
		assistant("m2", small, toolUse("t5", "mcp__nixos__options")),
	}
	var b strings.Builder
	for _, l := range lines {
		j, _ := json.Marshal(l)
		b.Write(j)
		b.WriteByte('\n')
	}
	p := filepath.Join(t.TempDir(), "proj", "s1.jsonl")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := ScanFiles(context.Background(), []string{p}, Options{Since: now.AddDate(0, 0, -30)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ServerUse{
		"github": {Invocations: 3, Sessions: 1, Usage: Usage{Input: 102_000, Output: 10_300, CacheRead: 500_000}},
		"nixos":  {Invocations: 2, Sessions: 1, Usage: small},
	}
	for name, w := range want {
		got := sc.Servers[name]
		if got == nil || *got != w {
			t.Errorf("%s: %+v, want %+v", name, got, w)
		}
	}
	if len(sc.Servers) != len(want) {
		t.Errorf("servers %v", sc.Servers)
	}
}

// A message whose lines have thousands of other messages between them
// (more than are held open: those that call no server are let go) is still
// counted once, and whole.
func TestScanCountsAMessageOnceAcrossManyOthers(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ts := now.Add(-time.Hour).Format(time.RFC3339Nano)
	var b strings.Builder
	line := func(id, content string, in int) {
		b.WriteString(`{"type":"assistant","timestamp":"` + ts + `","message":{"id":"` + id + `","content":` + content +
			`,"usage":{"input_tokens":` + strconv.Itoa(in) + `}}}` + "\n")
	}
	line("keep", `[{"type":"tool_use","id":"a","name":"mcp__github__x"}]`, 7)
	for i := range 3 * maxOpenMessages {
		line("m"+strconv.Itoa(i), `[{"type":"text","text":"x"}]`, 1)
	}
	line("keep", `[{"type":"tool_use","id":"b","name":"mcp__github__y"}]`, 7)
	p := filepath.Join(t.TempDir(), "s.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := ScanFiles(context.Background(), []string{p}, Options{Since: now.AddDate(0, 0, -30)})
	if err != nil {
		t.Fatal(err)
	}
	if g := sc.Servers["github"]; g == nil || g.Invocations != 2 || g.Usage != (Usage{Input: 7}) {
		t.Errorf("github %+v", g)
	}
}
