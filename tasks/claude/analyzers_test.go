package claude_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude"
	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// handedOn returns the suggestions an analyzer handed to learn-review.
func (f *fixture) handedOn(name string) []learn.Suggestion {
	f.t.Helper()
	v, ok := claude.Suggestions(name).Get(f.values)
	if !ok {
		f.t.Fatalf("%s handed nothing on", name)
	}
	return v
}

// brief is what identifies a suggestion in these tests: its kind, its
// target relative to HOME and the detail of the change.
func (f *fixture) brief(s learn.Suggestion) string {
	rel, _ := filepath.Rel(f.home, s.Target)
	detail := s.Pattern + s.Server + s.Section + s.NewLine
	if len(s.JSONPath) > 1 {
		detail += " at " + strings.ReplaceAll(strings.Join(s.JSONPath, "/"), f.home, "~")
	}
	return string(s.Kind) + " " + rel + " " + detail
}

// analyze runs one analyzer and checks what every analyzer must do: one
// summary line per suggestion, the suggestions complete, best first.
func (f *fixture) analyze(name string) ([]string, tasks.Report) {
	f.t.Helper()
	env := f.mustRun(name, runOpts{})
	rep := env.Report()
	got := f.handedOn(name)
	var briefs []string
	for i, s := range got {
		briefs = append(briefs, f.brief(s))
		if s.ID == "" || s.Analyzer != name || s.Text == "" || s.Apply == "" || s.Undo == "" || s.Target == "" {
			f.t.Errorf("%s: incomplete suggestion %+v", name, s)
		}
		if s.Confidence < 0.7 || s.Confidence > 0.95 {
			f.t.Errorf("%s: confidence %.2f out of range", name, s.Confidence)
		}
		if i > 0 && got[i-1].Confidence < s.Confidence {
			f.t.Errorf("%s: not best first", name)
		}
		if !slices.Contains(rep.Stats, s.Summary()) {
			f.t.Errorf("%s: no summary line for %s in %q", name, s.ID, rep.Stats)
		}
	}
	sort.Strings(briefs)
	return briefs, rep
}

func expect(t *testing.T, name string, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s suggested:\n  %s\nwant:\n  %s", name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

func TestLearnPermissions(t *testing.T) {
	f := newFixture(t)
	got, rep := f.analyze("learn-permissions")
	// Not: the one-session burst (npm test), rm (destructive), ls (allowed
	// already), cargo build (twice), make test (60 days ago).
	expect(t, "learn-permissions", got,
		"allow-permission projects/webapp/.claude/settings.local.json Bash(git status:*)")
	s := f.handedOn("learn-permissions")[0]
	if strings.Join(s.Sessions, ",") != "s1,s2,s3" || s.Confidence != 0.8 {
		t.Errorf("sessions %v confidence %.2f", s.Sessions, s.Confidence)
	}
	if !hasLine(rep.Stats, "2 malformed lines skipped in permission_approvals.jsonl") {
		t.Errorf("malformed lines not counted: %q", rep.Stats)
	}
}

func TestLearnMCP(t *testing.T) {
	f := newFixture(t)
	got, rep := f.analyze("learn-mcp")
	// Not: github (used), playwright (used in s1), nixos (used), redis (one
	// session of evidence), sqlite's use in s0 (60 days ago) does not save it.
	expect(t, "learn-mcp", got,
		"remove-mcp-server .claude.json unused-global",
		"remove-mcp-server projects/webapp/.claude/mcp.json sqlite",
		"remove-mcp-server .claude.json github at projects/~/projects/webapp/mcpServers")
	if !hasLine(rep.Stats, "1 malformed line skipped in the session logs") {
		t.Errorf("malformed line not counted: %q", rep.Stats)
	}
	for _, s := range f.handedOn("learn-mcp") {
		if s.Server == "unused-global" && (s.Confidence != 0.95 || len(s.Sessions) != 7) {
			t.Errorf("unused-global: confidence %.2f from %d sessions", s.Confidence, len(s.Sessions))
		}
		if s.Server == "sqlite" && !strings.Contains(s.Undo, `"sqlite": {"command":"sqlite-mcp"}`) {
			t.Errorf("undo does not say how to restore it: %s", s.Undo)
		}
	}
}

func TestLearnContext(t *testing.T) {
	f := newFixture(t)
	got, rep := f.analyze("learn-context")
	// Not: Coding Style (middling), Ghost Section (in no CLAUDE.md), the MCP
	// section (generated), Rare Section (twice).
	expect(t, "learn-context", got,
		"remove-section nixos-config/CLAUDE.md Old Migration Notes",
		"move-section-up nixos-config/CLAUDE.md Git Workflow")
	if !hasLine(rep.Stats, "1 section to act on was not found in any CLAUDE.md") {
		t.Errorf("stats %q", rep.Stats)
	}
}

func TestLearnWorkflows(t *testing.T) {
	f := newFixture(t)
	got, _ := f.analyze("learn-workflows")
	// Not: /test → /lint alone (only inside the longer run), /review → /pr
	// (review-pr.md exists), /deploy → /verify (twice), /build → /fmt (one
	// session), /migrate → /seed (failed).
	expect(t, "learn-workflows", got, "new-command projects/webapp/.claude/commands/test-lint-commit.md ")
	s := f.handedOn("learn-workflows")[0]
	if !strings.Contains(s.Content, "1. /test\n2. /lint\n3. /commit\n") || s.Confidence != 0.85 {
		t.Errorf("content %q confidence %.2f", s.Content, s.Confidence)
	}
}

func TestLearnInstructions(t *testing.T) {
	f := newFixture(t)
	got, rep := f.analyze("learn-instructions")
	// Not: "Use fd" (70 % compliance), "Never push" (2 violations),
	// "Unwritten policy" (nowhere to strengthen it).
	expect(t, "learn-instructions", got,
		"reword-line .claude/CLAUDE-USER-POLICIES.md - **MUST**: Always run tests before committing")
	if !hasLine(rep.Stats, "1 often broken policy is not written in any CLAUDE.md") {
		t.Errorf("stats %q", rep.Stats)
	}
}

func TestLearnCrossProject(t *testing.T) {
	f := newFixture(t)
	got, _ := f.analyze("learn-cross-project")
	// Not: rm (destructive), the mcp pattern type, jest (twice), pytest
	// (no other python project), yarn (its project is gone).
	expect(t, "learn-cross-project", got,
		"allow-permission projects/api/.claude/settings.local.json Bash(npm run:*)",
		"new-command projects/api/.claude/commands/deploy-check.md ")
	for _, s := range f.handedOn("learn-cross-project") {
		if s.Kind == learn.NewCommand && s.Content != f.read(filepath.Join(f.webapp, ".claude", "commands", "deploy-check.md")) {
			t.Errorf("command not copied: %q", s.Content)
		}
	}
}

func TestLearnMeta(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(f.learning, "thresholds.json")
	before := f.read(path)

	env := f.mustRun("learn-meta", runOpts{dryRun: true})
	if f.read(path) != before {
		t.Error("a dry run wrote thresholds.json")
	}
	if !hasLine(env.Report().Actions, "would have raised learn-permissions thresholds") {
		t.Errorf("dry run actions %q", env.Report().Actions)
	}

	got, rep := f.analyze("learn-meta")
	expect(t, "learn-meta", got)
	want := []string{
		"raised learn-permissions thresholds: min_occurrences 3 → 4, confidence 0.70 → 0.75 (acceptance 20% of 10)",
		"lowered learn-workflows thresholds: min_occurrences 3 → 2, confidence 0.70 → 0.65 (acceptance 100% of 10)",
	}
	if strings.Join(rep.Actions, "\n") != strings.Join(want, "\n") {
		t.Errorf("actions\n%s\nwant\n%s", strings.Join(rep.Actions, "\n"), strings.Join(want, "\n"))
	}
	var th struct {
		Note      string                      `json:"note"`
		Analyzers map[string]learn.Thresholds `json:"analyzers"`
	}
	if err := json.Unmarshal([]byte(f.read(path)), &th); err != nil {
		t.Fatal(err)
	}
	if th.Note != "keep me" || len(th.Analyzers) != 2 ||
		th.Analyzers["learn-permissions"].MinOccurrences != 4 || th.Analyzers["learn-permissions"].Confidence != 0.75 ||
		th.Analyzers["learn-workflows"].MinOccurrences != 2 || th.Analyzers["learn-workflows"].Confidence != 0.65 {
		t.Errorf("thresholds.json:\n%s", f.read(path))
	}
	// The next run of learn-permissions uses them.
	tf, _ := learn.LoadThresholds(path)
	if tf.For("learn-permissions").MinOccurrences != 4 || tf.For("learn-context").MinOccurrences != 3 {
		t.Errorf("loaded %+v", tf)
	}
}

// learn-meta judges each outcome once: run again and again on the same
// data, it changes each threshold at most once and says nothing changed;
// outcomes that come in later (some at the very instant already counted)
// are judged in their turn.
func TestLearnMetaIsIdempotent(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(f.learning, "thresholds.json")
	thresholds := func() map[string]learn.Thresholds {
		tf, err := learn.LoadThresholds(path)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]learn.Thresholds{}
		for _, a := range learn.Analyzers() {
			out[a.Name] = tf.For(a.Name)
		}
		return out
	}
	history := []map[string]learn.Thresholds{thresholds()}
	var actions [][]string
	for range 3 {
		env := f.mustRun("learn-meta", runOpts{})
		actions = append(actions, env.Report().Actions)
		history = append(history, thresholds())
	}
	for name := range history[0] {
		changes := 0
		for i := 1; i < len(history); i++ {
			if history[i][name] != history[i-1][name] {
				changes++
			}
		}
		if changes > 1 {
			t.Errorf("%s's thresholds changed %d times on the same data: %+v", name, changes, history)
		}
	}
	if got := history[1]["learn-permissions"]; got.MinOccurrences != 4 || got.Confidence != 0.75 {
		t.Errorf("the first run did not raise learn-permissions: %+v", got)
	}
	if len(actions[0]) != 2 || len(actions[1]) != 0 || len(actions[2]) != 0 {
		t.Errorf("actions per run: %q", actions)
	}

	// Five new rejections, two at the instant the first run counted up to:
	// judged once more, and only once.
	metrics := filepath.Join(f.learning, "meta_metrics.jsonl")
	var mm []any
	for i := range 5 {
		at := ts(1)
		if i >= 2 {
			at = ts(0.5)
		}
		mm = append(mm, obj{"timestamp": at, "component": "learn-permissions", "suggestion_type": "x", "accepted": false, "confidence": 0.8})
	}
	f.write(metrics, f.read(metrics)+jsonLines(mm...))
	env := f.mustRun("learn-meta", runOpts{})
	want := "raised learn-permissions thresholds: min_occurrences 4 → 5, confidence 0.75 → 0.80 (acceptance 0% of 5)"
	if a := env.Report().Actions; len(a) != 1 || a[0] != want {
		t.Errorf("after five new outcomes: %q, want %q", a, want)
	}
	if a := f.mustRun("learn-meta", runOpts{}).Report().Actions; len(a) != 0 {
		t.Errorf("the new outcomes were judged twice: %q", a)
	}
}

// At a limit, only what moved is said: never "5 → 5".
func TestLearnMetaNamesOnlyWhatChanged(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(f.learning, "thresholds.json")
	f.write(path, `{"min_occurrences": 3, "confidence": 0.7, "days": 30, "analyzers": {"learn-permissions": {"min_occurrences": 5, "confidence": 0.85}}}`)
	rep := f.mustRun("learn-meta", runOpts{}).Report()
	if !slices.Contains(rep.Actions, "raised learn-permissions thresholds: confidence 0.85 → 0.90 (acceptance 20% of 10)") {
		t.Errorf("actions %q", rep.Actions)
	}
	f.write(path, `{"min_occurrences": 3, "confidence": 0.7, "days": 30, "analyzers": {"learn-permissions": {"min_occurrences": 5, "confidence": 0.9}}}`)
	rep = f.mustRun("learn-meta", runOpts{}).Report()
	for _, a := range rep.Actions {
		if strings.Contains(a, "learn-permissions") {
			t.Errorf("nothing could change, yet: %q", a)
		}
	}
	if !hasLine(rep.Stats, "learn-permissions: 2 of 10 accepted (20%): thresholds already at their limit") {
		t.Errorf("stats %q", rep.Stats)
	}
}

func TestAnalyzerWithoutItsInputIsSkippedWithNoData(t *testing.T) {
	for name, file := range map[string]string{
		"learn-permissions":   "permission_approvals.jsonl",
		"learn-context":       "context_usage.jsonl",
		"learn-workflows":     "workflow_commands.jsonl",
		"learn-instructions":  "policy_violations.jsonl",
		"learn-cross-project": "project_patterns.jsonl",
		"learn-meta":          "meta_metrics.jsonl",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			if err := os.Remove(filepath.Join(f.learning, file)); err != nil {
				t.Fatal(err)
			}
			_, err := f.run(name, runOpts{})
			o, ok := tasks.AsOutcome(err)
			if want := "no data: no " + file + " in ~/.claude/learning"; !ok || o.Kind != tasks.Skipped || o.Reason != want {
				t.Errorf("%v, want skipped: %s", err, want)
			}
		})
	}
	t.Run("learn-mcp", func(t *testing.T) {
		f := newFixture(t)
		if err := os.RemoveAll(f.projects); err != nil {
			t.Fatal(err)
		}
		_, err := f.run("learn-mcp", runOpts{})
		if o, ok := tasks.AsOutcome(err); !ok || o.Reason != "no data: no session logs in ~/.claude/projects" {
			t.Errorf("%v", err)
		}
	})
}

func TestMissingClaudeDirSkipsTheWholeFamilyWithOneReason(t *testing.T) {
	f := newFixture(t)
	if err := os.RemoveAll(f.claude); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, s := range claude.Specs() {
		_, err := f.run(s.Name, runOpts{prompt: &taskstest.Prompter{T: t, Terminal: true}})
		o, ok := tasks.AsOutcome(err)
		if !ok || o.Kind != tasks.Skipped {
			t.Errorf("%s: %v, want skipped", s.Name, err)
			continue
		}
		reasons[o.Reason] = true
	}
	if len(reasons) != 1 || !reasons["no ~/.claude: Claude Code is not set up for this user"] {
		t.Errorf("reasons %v", reasons)
	}
}
