package claude_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// Claude Code keeps a project's shared MCP servers in <project>/.mcp.json
// (committed with the project). learn-mcp and mcp-analytics read it
// beside <project>/.claude/mcp.json.
func TestProjectMCPJSONIsRead(t *testing.T) {
	f := newFixture(t)
	f.write(filepath.Join(f.webapp, ".mcp.json"), `{"mcpServers": {"team-db": {"command": "db-mcp", "args": ["--ro"]}}}`)
	f.write(filepath.Join(f.flake, ".mcp.json"), `{"mcpServers": {"nix-docs": {"type": "stdio", "command": "nix-docs-mcp"}}}`)

	// team-db was loaded in webapp's five sessions of the window and never
	// called; the servers of .claude/mcp.json are judged as before.
	got, _ := f.analyze("learn-mcp")
	expect(t, "learn-mcp", got,
		"remove-mcp-server .claude.json unused-global",
		"remove-mcp-server projects/webapp/.claude/mcp.json sqlite",
		"remove-mcp-server projects/webapp/.mcp.json team-db",
		"remove-mcp-server .claude.json github at projects/~/projects/webapp/mcpServers")
	for _, s := range f.handedOn("learn-mcp") {
		if s.Server == "team-db" && (!strings.Contains(s.Text, "project (~/projects/webapp/.mcp.json)") || len(s.JSONPath) != 1 || s.JSONPath[0] != "mcpServers") {
			t.Errorf("team-db: %q at %q", s.Text, s.JSONPath)
		}
	}

	f.mustRun("mcp-analytics", runOpts{})
	report := f.read(filepath.Join(f.flake, ".claude", "mcp-analytics.md"))
	for _, row := range []string{
		"| nix-docs | project (~/nixos-config/.mcp.json) | 0 | 0 | 0 | 0 | 0 | 0 | $0.00 |",
		"| nixos | project (~/nixos-config/.claude/mcp.json) | 1 | 1 | 100,000 | 0 | 0 | 0 | $0.30 |",
	} {
		if !strings.Contains(report, row) {
			t.Errorf("report lacks %q:\n%s", row, report)
		}
	}
}

// A broken .mcp.json is a warning naming it; the project's other file
// still counts.
func TestBrokenProjectMCPJSONIsAWarning(t *testing.T) {
	f := newFixture(t)
	bad := f.write(filepath.Join(f.webapp, ".mcp.json"), `{"mcpServers": `)
	got, rep := f.analyze("learn-mcp")
	if !hasLine(rep.Warnings, bad+": unexpected end of JSON input") {
		t.Errorf("warnings %q", rep.Warnings)
	}
	expect(t, "learn-mcp", got,
		"remove-mcp-server .claude.json unused-global",
		"remove-mcp-server projects/webapp/.claude/mcp.json sqlite",
		"remove-mcp-server .claude.json github at projects/~/projects/webapp/mcpServers")
}
