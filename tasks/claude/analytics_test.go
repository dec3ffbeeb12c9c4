package claude_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/lifecycle"
)

const wantMCPSection = "## 🔌 MCP Servers\n\n" +
	"**Configured**: 3 servers | **Used**: 2 | **Sessions**: 7 | **Analysis period**: 30 days\n\n" +
	"- **github** (user): 6 calls in 6 sessions, ~$4.05\n" +
	"- **nixos** (project): 1 call in 1 session, ~$0.30\n" +
	"- **unused-global** (user): unused\n\n" +
	"Details: `.claude/mcp-analytics.md`\n"

const wantToolSection = "## 📦 System Tool Usage\n\n" +
	"**Installed**: 7 tools | **Used**: 4 (57%) | **Analysis period**: 30 days\n\n" +
	"- Most used: rg (5: 3 you, 2 agents), fd (2: 2 you, 0 agents), htop (1: 1 you, 0 agents), jq (1: 0 you, 1 agents)\n" +
	"- Not used in 30 days: bat, black, rebuild-helper\n\n" +
	"Details: `.claude/tool-analytics.md`\n"

// sectionSplit cuts flakeClaudeMD around the two generated sections, by
// plain string search (not the code under test).
func sectionSplit() (before, mcp, tool, after string) {
	i := strings.Index(flakeClaudeMD, "## 🔌 MCP Servers")
	j := strings.Index(flakeClaudeMD, "## 📦 System Tool Usage")
	k := strings.Index(flakeClaudeMD, "## Footer")
	return flakeClaudeMD[:i], flakeClaudeMD[i:j], flakeClaudeMD[j:k], flakeClaudeMD[k:]
}

func stage(t *testing.T, f *fixture, project, id string) string {
	t.Helper()
	sc, exists, err := lifecycle.ReadSidecar(f.sessionPath(project, id))
	if err != nil {
		t.Fatal(err)
	}
	if !exists {
		return "none"
	}
	return string(sc.Stage)
}

func TestMCPAnalytics(t *testing.T) {
	f := newFixture(t)
	claudeMD := filepath.Join(f.flake, "CLAUDE.md")

	// A dry run says what it would do and changes nothing.
	env := f.mustRun("mcp-analytics", runOpts{dryRun: true})
	if f.read(claudeMD) != flakeClaudeMD || stage(t, f, f.webapp, "s3") != "none" {
		t.Error("the dry run changed something")
	}
	if _, err := os.Stat(filepath.Join(f.flake, ".claude", "mcp-analytics.md")); err == nil {
		t.Error("the dry run wrote the report")
	}
	if !hasLine(env.Report().Actions, "would update the section ## 🔌 MCP Servers of ~/nixos-config/CLAUDE.md") {
		t.Errorf("dry run actions %q", env.Report().Actions)
	}

	env = f.mustRun("mcp-analytics", runOpts{})
	rep := env.Report()
	if !hasLine(rep.Stats, "MCP: 2/3 servers used | 7 sessions") || !hasLine(rep.Stats, "1 malformed line skipped in the session logs") {
		t.Errorf("stats %q", rep.Stats)
	}
	report := f.read(filepath.Join(f.flake, ".claude", "mcp-analytics.md"))
	for _, row := range []string{
		"| github | user (~/.claude.json) | 6 | 6 | 600,000 | 100,000 | 2,500,000 | 0 | $4.05 |",
		"| playwright | not configured | 1 | 1 | 200,000 | 10,000 | 0 | 200,000 | $1.50 |",
		"| nixos | project (~/nixos-config/.claude/mcp.json) | 1 | 1 | 100,000 | 0 | 0 | 0 | $0.30 |",
		"| unused-global | user (~/.claude.json) | 0 | 0 | 0 | 0 | 0 | 0 | $0.00 |",
		"- Tokens in messages calling MCP tools: 3,710,000, estimated cost $5.85",
	} {
		if !strings.Contains(report, row) {
			t.Errorf("report lacks %q:\n%s", row, report)
		}
	}
	if strings.Contains(report, "sqlite") {
		t.Error("sqlite is another project's server, used only outside the window")
	}

	before, _, tool, after := sectionSplit()
	want := before + wantMCPSection + "\n" + tool + after
	if got := f.read(claudeMD); got != want {
		t.Errorf("CLAUDE.md:\n%s\nwant:\n%s", got, want)
	}

	// Lifecycle: raw → analyzed only; s1 stays where it was; s0 (outside
	// the window) is not touched.
	for id, want := range map[string]string{"s1": "insights_generated", "s2": "analyzed", "s3": "analyzed", "s5": "analyzed", "s0": "none"} {
		if got := stage(t, f, f.webapp, id); got != want {
			t.Errorf("%s: stage %s, want %s", id, got, want)
		}
	}
	if got := stage(t, f, f.flake, "s7"); got != "analyzed" {
		t.Errorf("s7: %s", got)
	}
	sc, _, _ := lifecycle.ReadSidecar(f.sessionPath(f.webapp, "s1"))
	if sc.InsightsGeneratedAt != "2025-02-21T10:00:00" || sc.AnalyzedAt != "" {
		t.Errorf("s1 sidecar rewritten: %+v", sc)
	}
	if !hasLine(rep.Actions, "marked 6 raw sessions analyzed") {
		t.Errorf("actions %q", rep.Actions)
	}

	// A second run changes nothing: same section, no session left raw.
	env = f.mustRun("mcp-analytics", runOpts{})
	if f.read(claudeMD) != want || hasLine(env.Report().Actions, "updated the section") || hasLine(env.Report().Actions, "marked") {
		t.Errorf("second run: %q", env.Report().Actions)
	}
}

func TestToolAnalytics(t *testing.T) {
	f := newFixture(t)
	env := f.mustRun("tool-analytics", runOpts{})
	rep := env.Report()
	if !hasLine(rep.Stats, "Tools: 4/7 used | 57% adoption") || !hasLine(rep.Stats, "2 malformed lines skipped in command-source.jsonl") {
		t.Errorf("stats %q", rep.Stats)
	}
	report := f.read(filepath.Join(f.flake, ".claude", "tool-analytics.md"))
	for _, l := range []string{
		"- Commands: 13 (10 by you, 3 by agents: claude-code 2, cursor 1)",
		"| ripgrep | rg | 5 | 3 | 2 |",
		"| rebuild-helper | rebuild-helper | 0 | 0 | 0 |",
		"| git | 4 | 4 | 0 |",
	} {
		if !strings.Contains(report, l) {
			t.Errorf("report lacks %q:\n%s", l, report)
		}
	}
	// Then mcp-analytics: both sections replaced, every other byte kept.
	f.mustRun("mcp-analytics", runOpts{})
	before, _, _, after := sectionSplit()
	want := before + wantMCPSection + "\n" + wantToolSection + "\n" + after
	if got := f.read(filepath.Join(f.flake, "CLAUDE.md")); got != want {
		t.Errorf("CLAUDE.md:\n%s\nwant:\n%s", got, want)
	}
}

func TestAnalyticsWithoutInputs(t *testing.T) {
	f := newFixture(t)
	os.Remove(filepath.Join(f.home, ".local", "share", "fish", "command-source.jsonl"))
	_, err := f.run("tool-analytics", runOpts{})
	if o, ok := tasks.AsOutcome(err); !ok || o.Reason != "no data: no fish command log at ~/.local/share/fish/command-source.jsonl" {
		t.Errorf("%v", err)
	}
	_, err = f.run("tool-analytics", runOpts{options: map[string]any{"packages": "~/nowhere.nix"}})
	if o, ok := tasks.AsOutcome(err); !ok || o.Reason != "no data: no ~/nowhere.nix" {
		t.Errorf("%v", err)
	}
	os.RemoveAll(f.projects)
	_, err = f.run("mcp-analytics", runOpts{})
	if o, ok := tasks.AsOutcome(err); !ok || o.Reason != "no data: no session logs in ~/.claude/projects" {
		t.Errorf("%v", err)
	}
	if f.read(filepath.Join(f.flake, "CLAUDE.md")) != flakeClaudeMD {
		t.Error("CLAUDE.md changed")
	}
}

// With a state directory, mcp-analytics and learn-mcp keep a record of
// each session log and later read only what was appended; what they report
// is byte for byte what a full read reports.
func TestSessionAnalyticsFromRecordsEqualAFullRead(t *testing.T) {
	f := newFixture(t)
	state := t.TempDir()
	reportPath := filepath.Join(f.flake, ".claude", "mcp-analytics.md")
	both := func(when string) {
		t.Helper()
		inc := f.mustRun("mcp-analytics", runOpts{stateDir: state})
		incReport := f.read(reportPath)
		full := f.mustRun("mcp-analytics", runOpts{})
		if fullReport := f.read(reportPath); incReport != fullReport {
			t.Fatalf("%s: the report from records differs from a full read:\n%s\n---\n%s", when, incReport, fullReport)
		}
		if a, b := strings.Join(inc.Report().Stats, "\n"), strings.Join(full.Report().Stats, "\n"); a != b {
			t.Fatalf("%s: stats from records %q, from a full read %q", when, a, b)
		}
		incLearn := f.mustRun("learn-mcp", runOpts{stateDir: state})
		fullLearn := f.mustRun("learn-mcp", runOpts{})
		if a, b := strings.Join(incLearn.Report().Stats, "\n"), strings.Join(fullLearn.Report().Stats, "\n"); a != b {
			t.Fatalf("%s: learn-mcp from records %q, from a full read %q", when, a, b)
		}
	}
	both("first run")
	if fi, err := os.Stat(filepath.Join(state, "claude-sessions.rec")); err != nil || fi.Size() == 0 {
		t.Fatalf("no session records kept: %v", err)
	}
	log := f.sessionPath(f.flake, "s7")
	more := sessionLog("s7", f.flake, 0.5, githubCall, playwrightCall)
	fh, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(more); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	both("after appending")
	if err := os.Remove(f.sessionPath(f.webapp, "s2")); err != nil {
		t.Fatal(err)
	}
	both("after deleting a log")
}

// With a state directory, the six analyzers of learning files keep a
// ledger of each file and later read only what was appended; what they
// report and hand on is byte for byte what a full read gives.
func TestLearningAnalyzersFromLedgersEqualAFullRead(t *testing.T) {
	f := newFixture(t)
	state := t.TempDir()
	files := map[string]string{
		"learn-permissions": "permission_approvals.jsonl", "learn-context": "context_usage.jsonl",
		"learn-workflows": "workflow_commands.jsonl", "learn-instructions": "policy_violations.jsonl",
		"learn-cross-project": "project_patterns.jsonl", "learn-meta": "meta_metrics.jsonl",
	}
	both := func(when string) {
		t.Helper()
		for name := range files {
			inc := f.mustRun(name, runOpts{stateDir: state, dryRun: true})
			incSugg, _ := json.Marshal(f.handedOn(name))
			full := f.mustRun(name, runOpts{dryRun: true})
			fullSugg, _ := json.Marshal(f.handedOn(name))
			a, b := inc.Report(), full.Report()
			if !reflect.DeepEqual(a, b) || string(incSugg) != string(fullSugg) {
				t.Fatalf("%s: %s from its ledger:\n%+v\n%s\nfrom a full read:\n%+v\n%s", when, name, a, incSugg, b, fullSugg)
			}
		}
	}
	both("first run")
	for name := range files {
		if _, err := os.Stat(filepath.Join(state, "claude-learning", name+".rec")); err != nil {
			t.Fatalf("no ledger kept for %s: %v", name, err)
		}
	}
	perms := filepath.Join(f.learning, "permission_approvals.jsonl")
	f.write(perms, f.read(perms)+jsonLines(approval(0.5, "Bash(cargo build)", "s7", f.api), "{broken"))
	both("after appending")
	f.write(perms, jsonLines(approval(1, "Bash(git status)", "s1", f.webapp)))
	both("after truncating")
}
