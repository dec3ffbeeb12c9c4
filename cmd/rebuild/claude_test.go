package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/demo"
	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
)

// claudeHome is a temporary HOME for the Claude tasks, driven through the
// binary (tests that need every analyzer's data add the demo's):
//
//	<dir>/cfg.toml              flake = "<home>/nixos-config"
//	~/.claude/learning/         permission_approvals.jsonl, as approve writes it
//	~/projects/webapp/.claude/settings.local.json   permissions.allow among other keys
//	~/nixos-config              a git repository with a CLAUDE.md
type claudeHome struct {
	t                       *testing.T
	w                       *world
	dir, home, cfg          string
	flake, webapp, learning string
	settings                string
	now                     time.Time
}

// claudeWebappSettings is the project's settings.local.json: permissions.allow
// is one key among others, all of which must survive an edit.
const claudeWebappSettings = `{
  "model": "opus",
  "permissions": {
    "allow": ["Bash(ls:*)"],
    "deny": ["Bash(curl:*)"]
  },
  "env": {"FOO": "bar"}
}
`

func newClaudeHome(t *testing.T) *claudeHome {
	t.Helper()
	w := newWorld(t, t.TempDir())
	w.cfg = filepath.Join(w.dir, "cfg.toml")
	dir, home := w.dir, w.home
	h := &claudeHome{t: t, w: w, dir: dir, home: home, cfg: w.cfg,
		flake: filepath.Join(home, "nixos-config"), webapp: filepath.Join(home, "projects", "webapp"),
		learning: filepath.Join(home, ".claude", "learning"), now: time.Now()}
	h.settings = filepath.Join(h.webapp, ".claude", "settings.local.json")
	writeFile(t, h.cfg, fmt.Sprintf("flake = %q\n", h.flake))
	writeFile(t, filepath.Join(h.flake, "CLAUDE.md"), "# NixOS configuration\n\n## Git Workflow\n\nCommit often.\n")
	h.git("init", "-q", "-b", "main")
	h.git("add", "-A")
	h.git("commit", "-q", "-m", "initial")
	writeFile(t, h.settings, claudeWebappSettings)
	if err := os.MkdirAll(h.learning, 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *claudeHome) git(args ...string) {
	h.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", h.flake}, args...)...)
	cmd.Env = append(cleanEnv(), "HOME="+h.home, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@e", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// approve records that permission was approved in webapp once in each of
// sessions, an hour apart, within the last day.
func (h *claudeHome) approve(permission string, sessions ...string) {
	h.t.Helper()
	path := filepath.Join(h.learning, "permission_approvals.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	for i, s := range sessions {
		b, _ := json.Marshal(map[string]string{
			"timestamp":    h.now.Add(-time.Duration(i+1) * time.Hour).UTC().Format(time.RFC3339),
			"permission":   permission,
			"session_id":   s,
			"project_path": h.webapp,
		})
		if _, err := f.Write(append(b, '\n')); err != nil {
			h.t.Fatal(err)
		}
	}
}

// threeSuggestions gives learn-permissions three suggestions of distinct
// confidence, so they are offered in this order: git status (4 sessions,
// 0.9), npm test (3 sessions, 0.8), make build (2 sessions, 0.7).
func (h *claudeHome) threeSuggestions() {
	h.approve("Bash(git status)", "s1", "s2", "s3", "s4")
	h.approve("Bash(npm test)", "s1", "s2", "s3")
	h.approve("Bash(make build)", "s1", "s2", "s2")
}

func (h *claudeHome) read(path string) string {
	h.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// claudeAnswer waits, from offset at, for the review to show the suggestion
// allowing pattern and ask its one question, then types key. It returns the offset
// past the question.
func claudeAnswer(t *testing.T, scr *ttyRun, at int, pattern, key string) int {
	t.Helper()
	at = scr.waitText(t, at, "] allow "+pattern+" in ~/projects/webapp")
	at = scr.waitText(t, at, "Apply the ")
	scr.answer(key)
	return at
}

// allowList parses settings.local.json, checks that every key but
// permissions.allow is as claudeWebappSettings has it, in the same order, and
// returns permissions.allow.
func (h *claudeHome) allowList() []string {
	h.t.Helper()
	text := h.read(h.settings)
	var got struct {
		Model       string            `json:"model"`
		Permissions map[string]any    `json:"permissions"`
		Env         map[string]string `json:"env"`
	}
	var all map[string]any
	if err := json.Unmarshal([]byte(text), &all); err != nil {
		h.t.Fatalf("settings.local.json is not valid JSON: %v\n%s", err, text)
	}
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		h.t.Fatalf("settings.local.json: %v\n%s", err, text)
	}
	if len(all) != 3 || got.Model != "opus" || !reflect.DeepEqual(got.Env, map[string]string{"FOO": "bar"}) ||
		len(got.Permissions) != 2 || !reflect.DeepEqual(got.Permissions["deny"], []any{"Bash(curl:*)"}) {
		h.t.Errorf("other keys of settings.local.json changed:\n%s", text)
	}
	if !(strings.Index(text, `"model"`) < strings.Index(text, `"permissions"`) &&
		strings.Index(text, `"permissions"`) < strings.Index(text, `"env"`)) {
		h.t.Errorf("keys reordered:\n%s", text)
	}
	var allow []string
	for _, p := range got.Permissions["allow"].([]any) {
		allow = append(allow, p.(string))
	}
	return allow
}

// 1. Choosing one suggestion in a real terminal adds exactly its pattern
// to settings.local.json; the two not picked are rejected, not added.
func TestClaudeReviewAcceptAddsExactlyThatPattern(t *testing.T) {
	h := newClaudeHome(t)
	h.threeSuggestions()
	scr := h.w.tty("--only=learn")
	at := scr.waitText(t, 0, "] allow Bash(git status:*) in ~/projects/webapp")
	at = scr.waitText(t, at, "] allow Bash(make build:*) in ~/projects/webapp")
	at = claudeAnswer(t, scr, at, "Bash(npm test:*)", "c")
	at = scr.waitText(t, at, "Apply which?")
	scr.answer("2")
	at = scr.waitText(t, at, "applied: allow Bash(npm test:*) in ~/projects/webapp")
	scr.waitText(t, at, "reviewed 3 of 3: 1 applied, 2 rejected, 0 could not be applied")
	if code := scr.exit(); code != 0 {
		t.Errorf("exit %d\n%s", code, scr.String())
	}
	if got, want := h.allowList(), []string{"Bash(ls:*)", "Bash(npm test:*)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("permissions.allow = %q, want %q\n%s", got, want, h.read(h.settings))
	}
}

// 2. Rejections are recorded in suggestion_rejections.jsonl and the next
// run, in a terminal again, does not offer them.
func TestClaudeReviewRejectionIsNotOfferedAgain(t *testing.T) {
	h := newClaudeHome(t)
	h.threeSuggestions()
	scr := h.w.tty("--only=learn")
	at := claudeAnswer(t, scr, 0, "Bash(git status:*)", "n")
	scr.waitText(t, at, "reviewed 3 of 3: 0 applied, 3 rejected")
	if code := scr.exit(); code != 0 {
		t.Errorf("exit %d\n%s", code, scr.String())
	}
	if h.read(h.settings) != claudeWebappSettings {
		t.Errorf("rejecting changed settings.local.json:\n%s", h.read(h.settings))
	}
	log := h.read(learn.RejectionsPath(h.learning))
	var r learn.Rejection
	if err := json.Unmarshal([]byte(strings.SplitN(log, "\n", 2)[0]), &r); err != nil || strings.Count(log, "\n") != 3 ||
		r.Analyzer != "learn-permissions" || !strings.Contains(r.Text, "Bash(git status:*)") ||
		!strings.Contains(scr.String(), r.SuggestionID) || time.Since(r.Timestamp.Time) > time.Hour {
		t.Errorf("rejection log %q (%v)", log, err)
	}

	// The next run offers none of them.
	scr = h.w.tty("--only=learn")
	scr.waitText(t, 0, "no new suggestions: the 3 found were rejected in the last 90 days")
	if code := scr.exit(); code != 0 {
		t.Errorf("exit %d\n%s", code, scr.String())
	}
	if out := scr.String(); strings.Contains(out, "] allow Bash(") || strings.Contains(out, "Apply the ") {
		t.Errorf("second run offered a rejected suggestion:\n%s", out)
	}
	if h.read(learn.RejectionsPath(h.learning)) != log {
		t.Error("the rejection log changed without a rejection")
	}
}

// 3. s skips the review: nothing is applied or recorded, and the next run
// offers the same suggestions again.
func TestClaudeReviewSkipChangesNothing(t *testing.T) {
	h := newClaudeHome(t)
	h.threeSuggestions()
	before := h.snapshot(h.webapp, h.learning)
	scr := h.w.tty("--only=learn")
	at := claudeAnswer(t, scr, 0, "Bash(make build:*)", "s")
	scr.waitText(t, at, "review skipped: 3 suggestions offered again next run")
	if code := scr.exit(); code != 0 {
		t.Errorf("exit %d\n%s", code, scr.String())
	}
	if after := h.snapshot(h.webapp, h.learning); !reflect.DeepEqual(after, before) {
		t.Errorf("files changed after s:\nbefore %q\nafter  %q", before, after)
	}
	scr = h.w.tty("--only=learn")
	claudeAnswer(t, scr, 0, "Bash(make build:*)", "s")
	if code := scr.exit(); code != 0 {
		t.Errorf("exit %d\n%s", code, scr.String())
	}
}

// snapshot maps every regular file under roots to its content.
func (h *claudeHome) snapshot(roots ...string) map[string]string {
	h.t.Helper()
	files := map[string]string{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			files[p] = string(b)
			return err
		})
		if err != nil {
			h.t.Fatal(err)
		}
	}
	return files
}

// runJSON runs rebuild without a terminal (stdin /dev/null, stdout a
// pipe) with --output json and returns its events and exit code.
func (h *claudeHome) runJSON(args ...string) (jsonRun, int) {
	h.t.Helper()
	r := h.w.runJSON(nil, nil, args...)
	return r, r.code
}

var claudeAnalyzers = []string{"learn-permissions", "learn-mcp", "learn-context", "learn-workflows",
	"learn-instructions", "learn-cross-project", "learn-meta"}

// 4. The seven analyzers run at once, shown by the binary's json events:
// all seven start events come before the first analyzer's finish. Forced,
// not timed: the first file each analyzer opens is a named pipe that is fed
// only once the events have shown all seven started, so analyzers run one
// after another (or fewer at once) would wait for ever. --jobs 8: by
// default (max(4, CPUs)) a small machine gives the learn group 4 slots.
func TestClaudeAnalyzersRunConcurrently(t *testing.T) {
	h := newClaudeHome(t)
	if err := demo.SeedClaude(h.home, h.flake, h.now); err != nil {
		t.Fatal(err)
	}
	gates := h.gateAnalyzerInputs()
	cmd := h.w.command("--only=learn", "--output", "json", "--jobs", "8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.w.start(cmd)
	hang := time.AfterFunc(hangAfter, func() { cmd.Process.Kill() })
	defer hang.Stop()

	var evs jsonRun
	started := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e render.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Errorf("not JSON: %q: %v", sc.Text(), err)
			continue
		}
		evs.events = append(evs.events, e)
		if e.Event == "start" && slices.Contains(claudeAnalyzers, e.Task) && !started[e.Task] {
			started[e.Task] = true
			if len(started) == len(claudeAnalyzers) {
				gates.feed()
			}
		}
	}
	code := exitOf(cmd.Wait())
	killed := !hang.Stop()
	gates.release()
	if killed {
		t.Fatalf("killed after %v: %d analyzers had started, none could finish", hangAfter, len(started))
	}
	if code != 0 {
		t.Errorf("exit %d\n%s", code, stderr.String())
	}
	checkAnalyzersOverlapped(t, evs)
	checkAnalyzerResults(t, evs)
}

// fifoGates are the first files the analyzers open, each replaced by a
// named pipe that gives its content only once fed.
type fifoGates struct {
	t       *testing.T
	paths   []string
	content map[string]string
	feeders sync.WaitGroup
}

// gateAnalyzerInputs turns ~/.claude.json and the six learning files into
// gates holding what they held.
func (h *claudeHome) gateAnalyzerInputs() *fifoGates {
	h.t.Helper()
	g := &fifoGates{t: h.t, paths: []string{filepath.Join(h.home, ".claude.json")}, content: map[string]string{}}
	for _, n := range []string{"permission_approvals", "context_usage", "workflow_commands", "policy_violations", "project_patterns", "meta_metrics"} {
		g.paths = append(g.paths, filepath.Join(h.learning, n+".jsonl"))
	}
	for _, p := range g.paths {
		g.content[p] = h.read(p)
		if err := os.Remove(p); err != nil {
			h.t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	return g
}

// feed writes each gate's content as soon as its reader opens it.
func (g *fifoGates) feed() {
	for _, p := range g.paths {
		g.feeders.Add(1)
		go func() {
			defer g.feeders.Done()
			w, err := os.OpenFile(p, os.O_WRONLY, 0) // blocks until the analyzer opens it
			if err != nil {
				g.t.Error(err)
				return
			}
			defer w.Close()
			io.WriteString(w, g.content[p])
		}()
	}
}

// release lets a feeder still waiting for its reader (the run was killed)
// go, and waits for the feeders.
func (g *fifoGates) release() {
	for _, p := range g.paths {
		if r, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			r.Close()
		}
	}
	g.feeders.Wait()
}

// checkAnalyzersOverlapped checks the events' order: every analyzer
// started before the first finished, and the review started after the
// last.
func checkAnalyzersOverlapped(t *testing.T, evs jsonRun) {
	t.Helper()
	var order []string
	lastStart, firstFinish, lastFinish, reviewStart := -1, -1, -1, -1
	for i, e := range evs.events {
		if e.Event != "start" && e.Event != "finish" {
			continue
		}
		order = append(order, e.Event+" "+e.Task)
		switch {
		case e.Task == "learn-review":
			if e.Event == "start" {
				reviewStart = i
			}
		case e.Event == "start":
			lastStart = i
		default:
			if firstFinish < 0 {
				firstFinish = i
			}
			lastFinish = i
		}
	}
	if lastStart < 0 || firstFinish < lastStart || reviewStart < lastFinish {
		t.Errorf("events in this order:\n%s", strings.Join(order, "\n"))
	}
	t.Logf("json events:\n%s", strings.Join(order, "\n"))
}

// checkAnalyzerResults checks what each analyzer and the review reported.
func checkAnalyzerResults(t *testing.T, evs jsonRun) {
	t.Helper()
	// learn-meta suggests nothing: it adjusts thresholds.json.
	if m := evs.finish("learn-meta"); !slices.ContainsFunc(m.Actions, func(s string) bool { return strings.HasPrefix(s, "raised learn-permissions thresholds") }) {
		t.Errorf("learn-meta: %q", m.Actions)
	}
	for _, a := range claudeAnalyzers {
		f := evs.finish(a)
		if f.State != "succeeded" {
			t.Errorf("%s: %s (%s)", a, f.State, f.Reason)
		}
		// Each finish event lists the analyzer's suggestions, one line each.
		if a != "learn-meta" && !slices.ContainsFunc(f.Stats, func(s string) bool { return strings.HasPrefix(s, "suggest: ") }) {
			t.Errorf("%s: no suggestion in its finish event: %q", a, f.Stats)
		}
	}
	if r := evs.finish("learn-review"); r.State != "skipped" || !strings.HasPrefix(r.Reason, "no terminal: ") {
		t.Errorf("learn-review: %s (%s)", r.State, r.Reason)
	}
}

// 5a. Without a terminal, and with --yes, nothing is applied: the
// suggestions go to the report file and learn-review is skipped, saying so.
func TestClaudeNoTerminalAppliesNothing(t *testing.T) {
	h := newClaudeHome(t)
	h.threeSuggestions()
	report := filepath.Join(h.learning, "learn-report.md")
	for _, c := range []struct {
		args []string
		why  string
	}{
		{[]string{"--only=learn"}, "no terminal"},
		{[]string{"--only=learn", "--yes"}, "--yes does not apply suggestions"},
	} {
		os.Remove(report)
		evs, code := h.runJSON(c.args...)
		if code != 0 {
			t.Errorf("%v: exit %d", c.args, code)
		}
		r := evs.finish("learn-review")
		if want := c.why + ": 3 suggestions written to ~/.claude/learning/learn-report.md, nothing applied"; r.State != "skipped" || r.Reason != want {
			t.Errorf("%v: learn-review %s (%s), want skipped (%s)", c.args, r.State, r.Reason, want)
		}
		if h.read(h.settings) != claudeWebappSettings {
			t.Errorf("%v: settings.local.json changed:\n%s", c.args, h.read(h.settings))
		}
		text := h.read(report)
		i1, i2, i3 := strings.Index(text, "Bash(git status:*)"), strings.Index(text, "Bash(npm test:*)"), strings.Index(text, "Bash(make build:*)")
		if !strings.Contains(text, "Not reviewed: "+c.why+".") || !strings.Contains(text, "Nothing was applied.") ||
			i1 < 0 || i2 < i1 || i3 < i2 {
			t.Errorf("%v: report:\n%s", c.args, text)
		}
		for _, p := range []string{learn.RejectionsPath(h.learning), learn.MetricsPath(h.learning)} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%v: %s written without a review", c.args, p)
			}
		}
	}
}

// 5b. Without ~/.claude the whole family is skipped with one reason, and
// nothing creates ~/.claude.
func TestClaudeMissingDotClaudeSkipsTheFamily(t *testing.T) {
	h := newClaudeHome(t)
	if err := os.RemoveAll(filepath.Join(h.home, ".claude")); err != nil {
		t.Fatal(err)
	}
	evs, code := h.runJSON("--only=claude,learn")
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	last := evs.events[len(evs.events)-1]
	if last.Event != "summary" {
		t.Fatalf("last event %+v", last)
	}
	states := evs.summary.Tasks
	family := append([]string{"claude-config", "mcp-analytics", "tool-analytics", "learn-review"}, claudeAnalyzers...)
	for _, name := range family {
		if f := evs.finish(name); f.State != "skipped" || f.Reason != "no ~/.claude: Claude Code is not set up for this user" {
			t.Errorf("%s: %s (%s)", name, f.State, f.Reason)
		}
	}
	// The group's two cleanup tasks (housekeeping, phases 12–13) are
	// skipped too, with reasons of their own: nothing to clean.
	for _, name := range []string{"sessions", "backups"} {
		if f := evs.finish(name); f.State != "skipped" {
			t.Errorf("%s: %s (%s)", name, f.State, f.Reason)
		}
	}
	if len(states) != len(family)+2 {
		t.Errorf("ran %v", states)
	}
	if _, err := os.Stat(filepath.Join(h.home, ".claude")); err == nil {
		t.Error("~/.claude was created")
	}
}

// claudeGenerated is the CLAUDE.md the generator stand-in writes: the two
// analytics sections among others, a fenced "## " line inside one of them,
// a section with CRLF line ends, trailing blanks and no final newline.
const claudeGenerated = "# NixOS configuration\n\nIntro text, trailing blanks   \n\n## Coding Style\n\n```sh\n## not a heading: in a fence\n```\n\n" +
	"## 🔌 MCP Servers\n\nold MCP text\n\n```\n## in a fence, still the MCP section\n```\n\n### Details\n\nold details\n\n" +
	"## Notes\r\n\r\nA line ending in CRLF.\r\n\r\n" +
	"## 📦 System Tool Usage\n\nold tool text\n\n" +
	"## Footer\n\n**Total System Tools**: 122\n**Fish Abbreviations**: 45"

// 6. --only=claude: claude-config runs the generator (an offline stand-in
// rewriting ./CLAUDE.md), then mcp-analytics and tool-analytics replace
// their two sections of it, and every other byte is the generator's.
// (gocyclo counts each check of the document; they follow its sections in
// order, so the test stays whole.)
func TestClaudeSectionsReplacedRestKept(t *testing.T) {
	h := newClaudeHome(t)
	if err := demo.SeedClaude(h.home, h.flake, h.now); err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(h.dir, "generated.md")
	writeFile(t, gen, claudeGenerated)
	writeFile(t, h.cfg, fmt.Sprintf("flake = %q\n[task.claude-config]\ncommand = [\"cp\", %q, \"CLAUDE.md\"]\n", h.flake, gen))
	evs, code := h.runJSON("--only=claude")
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	for _, name := range []string{"claude-config", "mcp-analytics", "tool-analytics"} {
		if f := evs.finish(name); f.State != "succeeded" {
			t.Errorf("%s: %s (%s)", name, f.State, f.Reason)
		}
	}
	cc := evs.finish("claude-config")
	if !slices.ContainsFunc(cc.Actions, func(s string) bool {
		return strings.HasPrefix(s, "./CLAUDE.md: ") && strings.Contains(s, ", updated (+")
	}) ||
		!slices.Contains(cc.Stats, "System tools: 122 | Fish abbreviations: 45") {
		t.Errorf("claude-config reported %q %q", cc.Actions, cc.Stats)
	}

	got := h.read(filepath.Join(h.flake, "CLAUDE.md"))
	// cut splits doc at the two section headings and the headings after them.
	cut := func(doc string) (before, mcp, notes, tools, footer string) {
		i := strings.Index(doc, "## 🔌 MCP Servers\n")
		j := strings.Index(doc, "## Notes\r\n")
		k := strings.Index(doc, "## 📦 System Tool Usage\n")
		l := strings.Index(doc, "## Footer\n")
		if i < 0 || j < i || k < j || l < k {
			t.Fatalf("sections missing or out of order:\n%s", doc)
		}
		return doc[:i], doc[i:j], doc[j:k], doc[k:l], doc[l:]
	}
	b0, _, n0, _, f0 := cut(claudeGenerated)
	b1, mcp, n1, tools, f1 := cut(got)
	if b1 != b0 || n1 != n0 || f1 != f0 {
		t.Errorf("bytes outside the two sections changed:\n%q\nwas\n%q", got, claudeGenerated)
	}
	for _, want := range []string{"**Configured**: 2 servers | **Used**: 1 | **Sessions**: 4 | **Analysis period**: 30 days",
		"- **github** (user): 4 calls in 4 sessions", "- **puppeteer** (user): unused"} {
		if !strings.Contains(mcp, want) {
			t.Errorf("MCP section lacks %q:\n%s", want, mcp)
		}
	}
	if want := "**Installed**: 5 tools | **Used**: 3 (60%) | **Analysis period**: 30 days"; !strings.Contains(tools, want) {
		t.Errorf("tool section lacks %q:\n%s", want, tools)
	}
	if strings.Contains(mcp+tools, "old ") || strings.Contains(mcp, "### Details") {
		t.Errorf("old section text kept:\n%s%s", mcp, tools)
	}
	for _, report := range []string{"mcp-analytics.md", "tool-analytics.md"} {
		if _, err := os.Stat(filepath.Join(h.flake, ".claude", report)); err != nil {
			t.Error(err)
		}
	}
}
