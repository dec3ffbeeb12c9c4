package claude_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude"
	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// review runs learn-review with p; it asks at most one question with the
// review's keys, and a pick among the suggestions only after "c".
func (f *fixture) review(p *taskstest.Prompter, o runOpts) (*tasks.Env, error) {
	f.t.Helper()
	o.prompt = p
	env, err := f.run("learn-review", o)
	offered := p.Offered()
	if len(offered) > 0 {
		if got := strings.Join(offered[0], " "); got != "y=apply all n=none: reject all c=choose s=skip: ask next run" {
			f.t.Errorf("choices %q", got)
		}
	}
	if len(offered) > 2 {
		f.t.Errorf("%d questions asked, want one (and a pick after c): %q", len(offered), p.Asked())
	}
	return env, err
}

// interactive is a terminal that gives answers, in order: a rune to the
// review question, an []int to the pick after "c".
func interactive(t *testing.T, answers ...any) *taskstest.Prompter {
	return &taskstest.Prompter{T: t, Terminal: true, Answers: answers}
}

func outcomeOf(t *testing.T, err error) *tasks.Outcome {
	t.Helper()
	o, ok := tasks.AsOutcome(err)
	if !ok {
		t.Fatalf("got %v, want skipped or declined", err)
	}
	return o
}

func lineCount(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func TestReviewAcceptAddsExactlyThatPattern(t *testing.T) {
	f := newFixture(t)
	settings := filepath.Join(f.webapp, ".claude", "settings.local.json")
	f.mustRun("learn-permissions", runOpts{})
	p := interactive(t, 'y')
	env, err := f.review(p, runOpts{})
	if err != nil {
		t.Fatal(err)
	}
	text := f.read(settings)
	var got map[string]any
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("not valid JSON: %v\n%s", err, text)
	}
	want := map[string]any{
		"model": "opus",
		"permissions": map[string]any{
			"allow": []any{"Bash(ls:*)", "Bash(git status:*)"},
			"deny":  []any{"Bash(curl:*)"},
		},
		"env": map[string]any{"FOO": "bar"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settings.local.json:\n%s", text)
	}
	if !(strings.Index(text, `"model"`) < strings.Index(text, `"permissions"`) && strings.Index(text, `"permissions"`) < strings.Index(text, `"env"`)) {
		t.Errorf("keys reordered:\n%s", text)
	}
	if len(p.Printed()) != 1 || !strings.Contains(p.Printed()[0], `undo: remove "Bash(git status:*)" from permissions.allow in ~/projects/webapp/.claude/settings.local.json`) {
		t.Errorf("shown %q", p.Printed())
	}
	if b := p.Bodies(); len(b) != 1 || !strings.Contains(b[0], `allow Bash(git status:*)`) {
		t.Errorf("the question's body is %q, want the suggestion", b)
	}
	rep := env.Report()
	if !hasLine(rep.Actions, "applied: allow Bash(git status:*) in ~/projects/webapp") ||
		!hasLine(rep.Stats, "reviewed 1 of 1: 1 applied, 0 rejected, 0 could not be applied") {
		t.Errorf("report %+v", rep)
	}
	var out learn.Outcome
	if err := json.Unmarshal([]byte(lastLine(f.read(filepath.Join(f.learning, "meta_metrics.jsonl")))), &out); err != nil ||
		out.Component != "learn-permissions" || !out.Accepted || !out.Applied || out.SuggestionType != learn.AllowPermission {
		t.Errorf("meta_metrics: %+v %v", out, err)
	}
	// The sessions the approvals came from: implemented (forward from
	// insights_generated and from raw alike); s4 was not among them.
	for id, want := range map[string]string{"s1": "implemented", "s2": "implemented", "s3": "implemented", "s4": "none"} {
		if got := stage(t, f, f.webapp, id); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	// Applying it again changes nothing: the pattern is there.
	f.values = tasks.NewValues()
	f.mustRun("learn-permissions", runOpts{})
	if len(f.handedOn("learn-permissions")) != 0 {
		t.Error("an allowed pattern was suggested again")
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestReviewRejectionIsRememberedFor90Days(t *testing.T) {
	f := newFixture(t)
	settings := filepath.Join(f.webapp, ".claude", "settings.local.json")
	before := f.read(settings)
	f.mustRun("learn-permissions", runOpts{})
	env, err := f.review(interactive(t, 'n'), runOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if f.read(settings) != before {
		t.Error("a rejected suggestion changed the file")
	}
	rejections := filepath.Join(f.learning, "suggestion_rejections.jsonl")
	var r learn.Rejection
	if err := json.Unmarshal([]byte(f.read(rejections)), &r); err != nil || r.SuggestionID != f.handedOn("learn-permissions")[0].ID {
		t.Errorf("rejection log %q (%v)", f.read(rejections), err)
	}
	if !hasLine(env.Report().Actions, "rejected, not offered again for 90 days") {
		t.Errorf("actions %q", env.Report().Actions)
	}

	// The next run does not offer it.
	f.values = tasks.NewValues()
	f.mustRun("learn-permissions", runOpts{})
	p := interactive(t)
	_, err = f.review(p, runOpts{})
	if o := outcomeOf(t, err); o.Reason != "no new suggestions: the 1 found was rejected in the last 90 days" || len(p.Asked()) != 0 {
		t.Errorf("%v, asked %d times", err, len(p.Asked()))
	}

	// 91 days later it is offered again.
	old := strings.Replace(f.read(rejections), r.Timestamp.Format("2006-01-02T15:04:05Z"), daysAgo(91).Format("2006-01-02T15:04:05Z"), 1)
	f.write(rejections, old)
	f.values = tasks.NewValues()
	f.mustRun("learn-permissions", runOpts{})
	p = interactive(t, 's')
	if _, err := f.review(p, runOpts{}); err != nil || len(p.Asked()) != 1 {
		t.Errorf("after 91 days: %v, asked %d", err, len(p.Asked()))
	}
}

// several runs the analyzers whose suggestions the next tests review:
// best first, test-lint-commit (0.85), git status (0.80), then the two
// cross-project ones (0.70).
func (f *fixture) several() {
	for _, n := range []string{"learn-workflows", "learn-permissions", "learn-cross-project"} {
		f.mustRun(n, runOpts{})
	}
}

// One question shows every suggestion; "c" picks those to apply and
// rejects the rest, each recorded as the per-suggestion "n" was.
func TestReviewChooseAppliesThePickedAndRejectsTheRest(t *testing.T) {
	f := newFixture(t)
	f.several()
	webSettings := f.read(filepath.Join(f.webapp, ".claude", "settings.local.json"))
	metrics := filepath.Join(f.learning, "meta_metrics.jsonl")
	n := lineCount(t, metrics)
	p := interactive(t, 'c', []int{0})
	env, err := f.review(p, runOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if b := p.Bodies(); len(b) != 2 || !strings.Contains(b[0], "[1/4] ") || !strings.Contains(b[0], "[4/4] ") {
		t.Errorf("the question's body %q, want all four suggestions", b)
	}
	if o := p.Offered(); len(o) != 2 || len(o[1]) != 4 {
		t.Errorf("offered %q, want the four suggestions to pick from", o)
	}
	if _, err := os.Stat(filepath.Join(f.webapp, ".claude", "commands", "test-lint-commit.md")); err != nil {
		t.Error("the picked command was not created")
	}
	if f.read(filepath.Join(f.webapp, ".claude", "settings.local.json")) != webSettings {
		t.Error("a suggestion not picked was applied")
	}
	for _, p := range []string{filepath.Join(f.api, ".claude", "settings.local.json"), filepath.Join(f.api, ".claude", "commands", "deploy-check.md")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was created though not picked", p)
		}
	}
	if got := lineCount(t, metrics) - n; got != 4 {
		t.Errorf("%d outcomes recorded, want 4", got)
	}
	if got := lineCount(t, filepath.Join(f.learning, "suggestion_rejections.jsonl")); got != 3 {
		t.Errorf("%d rejections recorded, want 3", got)
	}
	if !hasLine(env.Report().Stats, "reviewed 4 of 4: 1 applied, 3 rejected, 0 could not be applied") {
		t.Errorf("stats %q", env.Report().Stats)
	}
}

// "s" applies and records nothing: all is offered again next run.
func TestReviewSkipChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.several()
	metrics := filepath.Join(f.learning, "meta_metrics.jsonl")
	n := lineCount(t, metrics)
	webSettings := f.read(filepath.Join(f.webapp, ".claude", "settings.local.json"))
	p := interactive(t, 's')
	if _, err := f.review(p, runOpts{}); err != nil || len(p.Asked()) != 1 {
		t.Fatalf("%v, asked %q", err, p.Asked())
	}
	if lineCount(t, metrics) != n || lineCount(t, filepath.Join(f.learning, "suggestion_rejections.jsonl")) != 0 ||
		f.read(filepath.Join(f.webapp, ".claude", "settings.local.json")) != webSettings {
		t.Error("skip recorded or applied something")
	}
}

func TestReviewAllAppliesTheRestAndCapIsKept(t *testing.T) {
	f := newFixture(t)
	f.several()
	p := interactive(t, 'c', []int{1})
	env, err := f.review(p, runOpts{options: map[string]any{"max_suggestions": int64(2)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Asked()) != 2 {
		t.Errorf("asked %d times", len(p.Asked()))
	}
	rep := env.Report()
	if !hasLine(rep.Stats, "2 more suggestions left for the next run (max_suggestions = 2)") ||
		!hasLine(rep.Stats, "reviewed 2 of 2: 1 applied, 1 rejected, 0 could not be applied") {
		t.Errorf("stats %q", rep.Stats)
	}
	// Rejected: the command; applied: git status; left: the cross-project two.
	if _, err := os.Stat(filepath.Join(f.webapp, ".claude", "commands", "test-lint-commit.md")); err == nil {
		t.Error("the rejected command was created")
	}
	if !strings.Contains(f.read(filepath.Join(f.webapp, ".claude", "settings.local.json")), `"Bash(git status:*)"`) {
		t.Error("git status not allowed")
	}
	if _, err := os.Stat(filepath.Join(f.api, ".claude", "settings.local.json")); err == nil {
		t.Error("a suggestion beyond max_suggestions was applied")
	}

	// The next run offers the two left; "a" creates a settings file from nothing.
	f.values = tasks.NewValues()
	f.several()
	p = interactive(t, 'y')
	if _, err := f.review(p, runOpts{}); err != nil || len(p.Asked()) != 1 {
		t.Fatalf("%v, asked %d", err, len(p.Asked()))
	}
	if got := f.read(filepath.Join(f.api, ".claude", "settings.local.json")); got != "{\n  \"permissions\": {\n    \"allow\": [\n      \"Bash(npm run:*)\"\n    ]\n  }\n}\n" {
		t.Errorf("new settings file:\n%s", got)
	}
	if f.read(filepath.Join(f.api, ".claude", "commands", "deploy-check.md")) != f.read(filepath.Join(f.webapp, ".claude", "commands", "deploy-check.md")) {
		t.Error("deploy-check.md not copied")
	}
}

func TestReviewRefusesAFileWithUncommittedChanges(t *testing.T) {
	f := newFixture(t)
	claudeMD := filepath.Join(f.flake, "CLAUDE.md")
	f.mustRun("learn-context", runOpts{})
	dirty := flakeClaudeMD + "\nA line not committed yet.\n"
	f.write(claudeMD, dirty)
	env, err := f.review(interactive(t, 'y'), runOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if f.read(claudeMD) != dirty {
		t.Error("a file with uncommitted changes was modified")
	}
	rep := env.Report()
	if len(rep.Warnings) != 2 || !hasLine(rep.Warnings, "~/nixos-config/CLAUDE.md has uncommitted changes (git status: M CLAUDE.md)") ||
		!hasLine(rep.Stats, "0 applied, 0 rejected, 2 could not be applied") {
		t.Errorf("report %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(f.flake, ".backups")); err == nil {
		t.Error("a backup was written for a refused change")
	}
}

func TestReviewStagedChangesRefusedUntrackedFilesAllowed(t *testing.T) {
	f := newFixture(t)
	staged := filepath.Join(f.flake, ".claude", "mcp.json")
	f.write(staged, `{"mcpServers": {"nixos": {"command": "mcp-nixos"}, "extra": {"command": "e"}}}`)
	f.git("add", ".claude/mcp.json")
	untracked := f.write(filepath.Join(f.flake, ".claude", "settings.local.json"), `{"permissions": {"allow": []}}`)
	claude.Suggestions("learn-mcp").Put(f.values, []learn.Suggestion{{
		ID: "mcp-1", Analyzer: "learn-mcp", Kind: learn.RemoveMCPServer, Text: "remove extra", Confidence: 0.9,
		Apply: "a", Undo: "u", Target: staged, Server: "extra", JSONPath: []string{"mcpServers"},
	}})
	claude.Suggestions("learn-permissions").Put(f.values, []learn.Suggestion{{
		ID: "perm-1", Analyzer: "learn-permissions", Kind: learn.AllowPermission, Text: "allow x", Confidence: 0.8,
		Apply: "a", Undo: "u", Target: untracked, Pattern: "Bash(x:*)",
	}})
	stagedBefore := f.read(staged)
	env, err := f.review(interactive(t, 'y'), runOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if f.read(staged) != stagedBefore || !hasLine(env.Report().Warnings, "(git status: M  .claude/mcp.json)") {
		t.Errorf("staged file: %q", env.Report().Warnings)
	}
	if got := f.read(untracked); got != "{\n  \"permissions\": {\n    \"allow\": [\n      \"Bash(x:*)\"\n    ]\n  }\n}\n" {
		t.Errorf("untracked file:\n%s", got)
	}
}

func TestReviewEditsClaudeMD(t *testing.T) {
	f := newFixture(t)
	claudeMD := filepath.Join(f.flake, "CLAUDE.md")
	policies := filepath.Join(f.claude, "CLAUDE-USER-POLICIES.md")
	f.mustRun("learn-context", runOpts{})
	f.mustRun("learn-instructions", runOpts{})
	// Best first: move Git Workflow up (0.90), remove Old Migration Notes
	// (0.86), strengthen the tests policy (0.95 → first).
	env, err := f.review(interactive(t, 'y'), runOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Report().Warnings) > 0 {
		t.Fatalf("warnings %q", env.Report().Warnings)
	}
	i := strings.Index(flakeClaudeMD, "## Coding Style")
	j := strings.Index(flakeClaudeMD, "## 🔌 MCP Servers")
	want := flakeClaudeMD[:i] + "## Git Workflow\n\nCommit often.\n\n## Coding Style\n\nUse 2 spaces.\n\n" + flakeClaudeMD[j:]
	if got := f.read(claudeMD); got != want {
		t.Errorf("CLAUDE.md:\n%s\nwant:\n%s", got, want)
	}
	// The backup is the original, not the state between the two edits.
	if got := f.read(filepath.Join(f.flake, ".backups", "CLAUDE.md.backup-20250301-120000")); got != flakeClaudeMD {
		t.Errorf("backup:\n%s", got)
	}
	if got := f.read(policies); got != strings.Replace(userPolicies, "- Always run", "- **MUST**: Always run", 1) {
		t.Errorf("policies:\n%s", got)
	}
}

// A file that is a symlink (home-manager links ~/.claude's files into the
// Nix store) is not replaced by a regular file: the link and the file it
// points to stay as they are, and the suggestion is reported as not applied.
func TestReviewLeavesASymlinkedFileAlone(t *testing.T) {
	f := newFixture(t)
	policies := filepath.Join(f.claude, "CLAUDE-USER-POLICIES.md")
	target := filepath.Join(t.TempDir(), "store", "home-manager-files", "CLAUDE-USER-POLICIES.md")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(policies, target); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o444); err != nil {
		t.Fatal(err)
	}
	taskstest.Symlink(t, target, policies)
	f.mustRun("learn-instructions", runOpts{})
	env, err := f.review(interactive(t, 'y'), runOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(policies); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symlink: %v, %v", policies, fi.Mode(), err)
	}
	if got := f.read(target); got != userPolicies {
		t.Errorf("the link's target changed:\n%s", got)
	}
	if w := strings.Join(env.Report().Warnings, "\n"); !strings.Contains(w, "not applied") || !strings.Contains(w, "symbolic link") {
		t.Errorf("warnings %q", w)
	}
}

func TestReviewRemovesMCPServers(t *testing.T) {
	f := newFixture(t)
	f.mustRun("learn-mcp", runOpts{})
	if _, err := f.review(interactive(t, 'y'), runOpts{}); err != nil {
		t.Fatal(err)
	}
	var cj struct {
		NumStartups int                        `json:"numStartups"`
		MCPServers  map[string]json.RawMessage `json:"mcpServers"`
		Projects    map[string]map[string]any  `json:"projects"`
	}
	if err := json.Unmarshal([]byte(f.read(filepath.Join(f.home, ".claude.json"))), &cj); err != nil {
		t.Fatal(err)
	}
	if cj.NumStartups != 42 || len(cj.MCPServers) != 1 || cj.MCPServers["github"] == nil ||
		!reflect.DeepEqual(cj.Projects[f.webapp], map[string]any{"mcpServers": map[string]any{}, "allowedTools": []any{}}) {
		t.Errorf("~/.claude.json: %+v", cj)
	}
	var mj map[string]map[string]any
	json.Unmarshal([]byte(f.read(filepath.Join(f.webapp, ".claude", "mcp.json"))), &mj)
	if len(mj["mcpServers"]) != 1 || mj["mcpServers"]["playwright"] == nil {
		t.Errorf("mcp.json: %v", mj)
	}
}

func TestReviewWithoutTerminalWritesAReport(t *testing.T) {
	for _, yes := range []bool{false, true} {
		f := newFixture(t)
		f.mustRun("learn-permissions", runOpts{})
		f.mustRun("learn-mcp", runOpts{})
		cj := f.read(filepath.Join(f.home, ".claude.json"))
		settings := f.read(filepath.Join(f.webapp, ".claude", "settings.local.json"))
		p := &taskstest.Prompter{T: t, Terminal: yes}
		_, err := f.review(p, runOpts{yes: yes})
		why := "no terminal"
		if yes {
			why = "--yes does not apply suggestions"
		}
		if o := outcomeOf(t, err); o.Kind != tasks.Skipped || o.Reason != why+": 4 suggestions written to ~/.claude/learning/learn-report.md, nothing applied" {
			t.Errorf("reason %q", o.Reason)
		}
		report := f.read(filepath.Join(f.learning, "learn-report.md"))
		if !strings.Contains(report, "Not reviewed: "+why) || !strings.Contains(report, "allow Bash(git status:*)") ||
			strings.Count(report, "- **Undo**:") != 4 {
			t.Errorf("report:\n%s", report)
		}
		if len(p.Asked()) != 0 || f.read(filepath.Join(f.home, ".claude.json")) != cj ||
			f.read(filepath.Join(f.webapp, ".claude", "settings.local.json")) != settings {
			t.Error("something was asked or applied")
		}
		// Insights were generated (and written down): raw sessions move on.
		if got := stage(t, f, f.webapp, "s2"); got != "insights_generated" {
			t.Errorf("s2: %s", got)
		}
	}
}

func TestReviewWithNothingToReview(t *testing.T) {
	f := newFixture(t)
	_, err := f.review(interactive(t), runOpts{})
	if o := outcomeOf(t, err); o.Reason != "no suggestions: no analyzer ran" {
		t.Errorf("%q", o.Reason)
	}
	f.mustRun("learn-meta", runOpts{})
	_, err = f.review(interactive(t), runOpts{})
	if o := outcomeOf(t, err); o.Reason != "no suggestions from the 1 analyzer that ran" {
		t.Errorf("%q", o.Reason)
	}
}
