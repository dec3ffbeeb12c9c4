package learn

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
	"github.com/rebuild-nixos/rebuild/tasks/claude/logcursor"
)

// learnHome is a HOME with every analyzer's input, generated so that each
// one has something to suggest (or, learn-meta, to judge): the six
// learning files over 40 days, a few malformed lines among them, the
// CLAUDE.md files and projects they point at, and session logs with MCP
// calls for learn-mcp.
type learnHome struct {
	t                      *testing.T
	home, flake, learning  string
	projects, sessionsDir  string
	rng                    *rand.Rand
	malformed, unplaceable int
}

func newLearnHome(t *testing.T) *learnHome {
	root := t.TempDir()
	h := &learnHome{t: t, home: filepath.Join(root, "home"), rng: rand.New(rand.NewPCG(7, 11))}
	h.flake = filepath.Join(h.home, "nixos-config")
	h.learning = filepath.Join(h.home, ".claude", "learning")
	h.sessionsDir = filepath.Join(h.home, ".claude", "projects")
	h.projects = filepath.Join(h.home, "projects")
	h.write(filepath.Join(h.flake, "CLAUDE.md"), "# Config\n\n## Style\n\nx\n\n## Old Notes\n\ny\n\n## Git Workflow\n\nz\n")
	h.write(filepath.Join(h.home, ".claude", "CLAUDE-USER-POLICIES.md"), "# Policies\n\n- Always run tests\n- Use fd\n")
	for i := range 4 {
		p := h.project(i)
		h.write(filepath.Join(p, ".claude", "mcp.json"), `{"mcpServers": {"unused-`+fmt.Sprint(i)+`": {"command": "u"}}}`)
		if i < 2 {
			h.write(filepath.Join(p, ".claude", "commands", "check.md"), "Run the checks.\n")
		}
	}
	h.write(filepath.Join(h.home, ".claude.json"), `{"mcpServers": {"github": {"command": "gh"}, "idle": {"command": "i"}}}`)
	for _, name := range []string{"permission_approvals", "context_usage", "workflow_commands", "policy_violations", "project_patterns", "meta_metrics"} {
		h.write(filepath.Join(h.learning, name+".jsonl"), h.lines(name, 300, -40, 0))
	}
	for i := range 6 {
		h.write(h.sessionLog(i%2, i), h.session(i, -20+3*float64(i), 30))
	}
	return h
}

func (h *learnHome) project(i int) string { return filepath.Join(h.projects, fmt.Sprintf("p%d", i)) }

func (h *learnHome) sessionLog(project, id int) string {
	return filepath.Join(h.sessionsDir, strings.ReplaceAll(h.project(project), "/", "-"), fmt.Sprintf("s%d.jsonl", id))
}

func (h *learnHome) write(path, content string) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *learnHome) appendTo(path, content string) {
	h.t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		h.t.Fatal(err)
	}
}

// lines generates n lines of the learning file name, their times spread
// from `from` to `to` days after testNow, in no order; now and then a
// malformed line or one that cannot be placed in time.
func (h *learnHome) lines(name string, n int, from, to float64) string {
	r := h.rng
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	var b strings.Builder
	for i := range n {
		ts := timeAt(from + (to-from)*r.Float64())
		var v map[string]any
		sess := fmt.Sprintf("s%d", r.IntN(6))
		switch name {
		case "permission_approvals":
			v = map[string]any{"permission": pick("Bash(git status)", "Bash(go test ./...)", "Bash(rm -rf x)", "Read(/etc/hosts)"),
				"session_id": sess, "project_path": pick(h.project(0), h.project(1), "")}
		case "context_usage":
			sec := r.IntN(3)
			v = map[string]any{"section_name": []string{"Style", "Old Notes", "Git Workflow"}[sec], "tokens_in_section": 100 * (sec + 1),
				"relevance_score": []float64{0.5, 0.1, 0.9}[sec] + 0.01*float64(r.IntN(5)), "session_id": sess}
			if r.IntN(10) == 0 {
				delete(v, "relevance_score")
			}
		case "workflow_commands":
			// Sessions of three commands a minute apart.
			w := fmt.Sprintf("w%d", i/3)
			ts = timeAt(from + (to-from)*float64(i/3)/float64(n/3+1)).Add(time.Duration(i%3) * time.Minute)
			v = map[string]any{"command": []string{"/test", "/lint", "/commit"}[i%3], "session_id": w, "success": r.IntN(20) > 0,
				"duration_ms": 10, "project_path": pick(h.project(0), "")}
		case "policy_violations":
			v = map[string]any{"policy": pick("Always run tests", "Use fd", "Unwritten"), "violated": r.IntN(3) > 0, "session_id": sess}
		case "project_patterns":
			// p0 and p1 adopt patterns that p2, of their kind, lacks.
			p := []int{0, 1, 3, 0, 1, 2}[r.IntN(6)]
			pattern := pick("Bash(npm run:*)", "check", "Bash(rm:*)")
			if p == 2 {
				pattern = ""
			}
			v = map[string]any{"project_path": h.project(p), "project_type": []string{"node", "node", "node", "python"}[p],
				"pattern_type": pick("permission", "command", "mcp"), "pattern": pattern, "session_id": sess}
		case "meta_metrics":
			v = map[string]any{"component": pick("learn-permissions", "learn-context", "learn-workflows", "other"),
				"suggestion_type": "x", "accepted": r.IntN(4) == 0, "confidence": 0.8}
		}
		v["timestamp"] = ts.Format(time.RFC3339Nano)
		if r.IntN(7) == 0 {
			v["timestamp"] = ts.Unix() // Unix seconds
		}
		line, err := json.Marshal(v)
		if err != nil {
			h.t.Fatal(err)
		}
		switch r.IntN(40) {
		case 0:
			line = line[:len(line)/2] // malformed
			h.malformed++
		case 1:
			line = []byte(`{"timestamp": null, "session_id": "s1"}`) // no time
			h.unplaceable++
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// session generates a session log of n messages from `at` days after
// testNow, an hour apart, calling github most of the time.
func (h *learnHome) session(id int, at float64, n int) string {
	var b strings.Builder
	for i := range n {
		ts := timeAt(at).Add(time.Duration(i) * time.Hour).Format(time.RFC3339Nano)
		tool := "mcp__github__search"
		if i%5 == 0 {
			tool = "Bash"
		}
		fmt.Fprintf(&b, `{"type":"assistant","timestamp":%q,"cwd":%q,"message":{"id":"m%d_%d","content":[{"type":"tool_use","id":"t%d_%d","name":%q,"input":{}}],"usage":{"input_tokens":%d,"output_tokens":5}}}`+"\n",
			ts, h.project(id%2), id, i, id, i, tool, 100+i)
		fmt.Fprintf(&b, `{"type":"user","timestamp":%q,"cwd":%q,"message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t%d_%d","content":"ok"}]}}`+"\n",
			ts, h.project(id%2), id, i)
	}
	return b.String()
}

func (h *learnHome) input(state string, now time.Time, days int) Input {
	return Input{Home: h.home, Flake: h.flake, LearningDir: h.learning, ClaudeJSON: filepath.Join(h.home, ".claude.json"),
		ProjectsDir: h.sessionsDir, Now: now, Days: days, Thresholds: DefaultThresholds, DryRun: true, StateDir: state}
}

// report runs the seven analyzers and renders everything they returned,
// in a fixed order: what two runs must agree on byte for byte.
func report(t *testing.T, in Input) string {
	t.Helper()
	var b strings.Builder
	for _, a := range Analyzers() {
		res, err := a.Run(context.Background(), in)
		Sort(res.Suggestions)
		j, jerr := json.MarshalIndent(res, "", " ")
		if jerr != nil {
			t.Fatal(jerr)
		}
		fmt.Fprintf(&b, "== %s: %v\n%s\n", a.Name, err, j)
		b.Write(Report(res.Suggestions, in.Now, ""))
	}
	return b.String()
}

// sameAsFullRead runs the analyzers with the state kept in state, then
// with a fresh state directory and with none, and fails unless all three
// reports are the same, byte for byte. It returns the report.
func (h *learnHome) sameAsFullRead(state string, now time.Time, days int) string {
	h.t.Helper()
	inc := report(h.t, h.input(state, now, days))
	fresh := report(h.t, h.input(h.t.TempDir(), now, days))
	whole := report(h.t, h.input("", now, days))
	if inc != fresh || inc != whole {
		h.t.Fatalf("an incremental run differs from a full read:\n%s", firstDiff(inc, whole))
	}
	// The lines counted are those encoding/json counted, every line read
	// as it was before the ledgers.
	for name, sh := range analyzerShapes {
		path := filepath.Join(h.learning, sh.file)
		want, err := jsonl.ReadFile(context.Background(), path, 0, func(raw *json.RawMessage) error {
			if _, err := oracle(sh, *raw); err != nil {
				return jsonl.ErrSkip
			}
			return nil
		})
		if os.IsNotExist(err) {
			continue
		}
		l, _, err := readLedger(context.Background(), h.input(state, now, days), name, sh)
		if err != nil {
			h.t.Fatal(err)
		}
		if got := l.allStats(); got != want {
			h.t.Fatalf("%s: lines counted %+v, encoding/json counted %+v", name, got, want)
		}
	}
	return inc
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  incremental: %s\n  full read:   %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(al), len(bl))
}

// readNew brings the ledger of the analyzer up to date and returns the
// bytes it read for it.
func (h *learnHome) readNew(state, analyzer string, sh *shape, now time.Time, days int) int64 {
	h.t.Helper()
	l, warning, err := readLedger(context.Background(), h.input(state, now, days), analyzer, sh)
	if err != nil || warning != nil {
		h.t.Fatalf("%s: %v %v", analyzer, err, warning)
	}
	return l.read
}

func size(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

var analyzerShapes = map[string]*shape{
	"learn-permissions": &permissionShape, "learn-context": &contextShape, "learn-workflows": &workflowShape,
	"learn-instructions": &policyShape, "learn-cross-project": &patternShape, "learn-meta": &metaShape,
}

func TestIncrementalAnalyzersEqualAFullRead(t *testing.T) {
	h := newLearnHome(t)
	state := t.TempDir()
	now := testNow
	file := func(sh *shape) string { return filepath.Join(h.learning, sh.file) }

	first := h.sameAsFullRead(state, now, 30)
	for _, want := range []string{"suggest", "malformed line"} {
		if !strings.Contains(first, want) {
			t.Fatalf("the data set yields no %q; the comparisons would prove little:\n%s", want, first)
		}
	}
	for name, sh := range analyzerShapes {
		if n := h.readNew(state, name, sh, now, 30); n != 0 {
			t.Errorf("%s: a run with nothing new read %d bytes", name, n)
		}
	}

	// Appended, the last line still being written: only the new bytes
	// are read; the line is counted, and read again once complete.
	for name, sh := range analyzerShapes {
		more := h.lines(strings.TrimSuffix(sh.file, ".jsonl"), 40, -2, 0) + `{"timestamp":"2025-02-28T10:00:00Z","session_id":"s1"`
		h.appendTo(file(sh), more)
		if n := h.readNew(state, name, sh, now, 30); n != int64(len(more)) {
			t.Errorf("%s: after appending %d bytes the run read %d", name, len(more), n)
		}
	}
	h.sameAsFullRead(state, now, 30)
	for name, sh := range analyzerShapes {
		h.appendTo(file(sh), "}\n"+h.lines(strings.TrimSuffix(sh.file, ".jsonl"), 5, -1, 0))
		if n, tail := h.readNew(state, name, sh, now, 30), int64(len(`{"timestamp":"2025-02-28T10:00:00Z","session_id":"s1"`)); n <= tail {
			t.Errorf("%s: the completed line was not read again (%d bytes read)", name, n)
		}
	}
	h.sameAsFullRead(state, now, 30)

	// The window moving on needs nothing read again; a longer one does
	// (the ledger keeps only a day before its window), and then a
	// shorter one does not.
	later := now.Add(36 * time.Hour)
	if n := h.readNew(state, "learn-context", &contextShape, later, 30); n != 0 {
		t.Errorf("a later window read %d bytes", n)
	}
	h.sameAsFullRead(state, later, 30)
	if n, all := h.readNew(state, "learn-context", &contextShape, later, 35), size(t, file(&contextShape)); n != all {
		t.Errorf("a longer window read %d bytes of %d", n, all)
	}
	h.sameAsFullRead(state, later, 35)
	h.sameAsFullRead(state, later, 30)

	// Three days on, the ledgers drop the records that cannot come back
	// into the window, and still agree.
	before := size(t, filepath.Join(state, LedgerDir, "learn-context.rec"))
	later = now.AddDate(0, 0, 3)
	h.sameAsFullRead(state, later, 30)
	if after := size(t, filepath.Join(state, LedgerDir, "learn-context.rec")); after >= before {
		t.Errorf("the ledger was not pruned: %d bytes, %d before", after, before)
	}

	// Truncated (and grown again past its old size).
	perms := file(&permissionShape)
	h.write(perms, h.lines("permission_approvals", 30, -5, 0))
	if n, all := h.readNew(state, "learn-permissions", &permissionShape, now, 30), size(t, perms); n != all {
		t.Errorf("a truncated file: %d bytes read of %d", n, all)
	}
	h.sameAsFullRead(state, now, 30)
	h.write(perms, h.lines("permission_approvals", 600, -30, 0))
	h.sameAsFullRead(state, now, 30)

	// Replaced by another file of the same size: in place, then renamed
	// over it.
	policies := file(&policyShape)
	old := size(t, policies)
	other := []byte(h.lines("policy_violations", 300, -30, 0))
	for int64(len(other)) < old {
		other = append(other, h.lines("policy_violations", 1, -30, 0)...)
	}
	other = append(other[:old-1], '\n')
	f, err := os.OpenFile(policies, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(other, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if n := h.readNew(state, "learn-instructions", &policyShape, now, 30); n != old {
		t.Errorf("a file rewritten in place: %d bytes read of %d", n, old)
	}
	h.sameAsFullRead(state, now, 30)
	tmp := policies + ".new"
	h.write(tmp, string(other))
	if err := os.Rename(tmp, policies); err != nil {
		t.Fatal(err)
	}
	if n := h.readNew(state, "learn-instructions", &policyShape, now, 30); n != old {
		t.Errorf("a file replaced by another: %d bytes read of %d", n, old)
	}
	h.sameAsFullRead(state, now, 30)

	// Deleted: no data, and its ledger is dropped; then a new one.
	if err := os.Remove(policies); err != nil {
		t.Fatal(err)
	}
	if rep := h.sameAsFullRead(state, now, 30); !strings.Contains(rep, "== learn-instructions: no data: no policy_violations.jsonl") {
		t.Errorf("a deleted file:\n%s", rep)
	}
	if _, err := os.Stat(filepath.Join(state, LedgerDir, "learn-instructions.rec")); !os.IsNotExist(err) {
		t.Errorf("the ledger of a deleted file is kept: %v", err)
	}
	h.write(policies, h.lines("policy_violations", 100, -10, 0))
	h.sameAsFullRead(state, now, 30)

	// Session logs: appended to, a new one, one deleted.
	h.appendTo(h.sessionLog(0, 0), h.session(0, -1, 5))
	h.sameAsFullRead(state, now, 30)
	h.write(h.sessionLog(1, 9), h.session(9, -2, 10))
	h.sameAsFullRead(state, now, 30)
	if err := os.Remove(h.sessionLog(1, 1)); err != nil {
		t.Fatal(err)
	}
	h.sameAsFullRead(state, now, 30)

	// What a run read is appended to the ledger as a frame of its own,
	// the ledger not written again; cut short (a run stopped while
	// appending), that frame is lost, and its bytes are read again.
	rec := filepath.Join(state, LedgerDir, "learn-workflows.rec")
	kept := size(t, rec)
	more := h.lines("workflow_commands", 20, -1, 0)
	h.appendTo(file(&workflowShape), more)
	h.sameAsFullRead(state, now, 30)
	if l, err := keptLedger(state, "learn-workflows"); err != nil || l.frames < 2 || size(t, rec)-kept > int64(len(more)) {
		t.Fatalf("after an append: %v, %d bytes on %d", err, size(t, rec)-kept, kept)
	}
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	h.write(rec, string(b[:len(b)-3]))
	if n := h.readNew(state, "learn-workflows", &workflowShape, now, 30); n != int64(len(more)) {
		t.Errorf("with its last frame cut short, %d bytes were read, %d appended", n, len(more))
	}
	h.sameAsFullRead(state, now, 30)

	// A damaged ledger is not trusted: its file is read again.
	h.write(rec, string(b[:40]))
	if n, all := h.readNew(state, "learn-workflows", &workflowShape, now, 30), size(t, file(&workflowShape)); n != all {
		t.Errorf("with its ledger damaged, %d bytes of %d were read", n, all)
	}
	h.sameAsFullRead(state, now, 30)
}

// Runs at once on one state directory (two rebuilds, say) wait for each
// other's lock: none reads the same new bytes twice or loses them, and
// every one reports what a full read does.
func TestConcurrentRunsKeepTheLedgersWhole(t *testing.T) {
	h := newLearnHome(t)
	state := t.TempDir()
	for round := range 3 {
		if round > 0 {
			for _, sh := range analyzerShapes {
				h.appendTo(filepath.Join(h.learning, sh.file), h.lines(strings.TrimSuffix(sh.file, ".jsonl"), 50, -3, 0))
			}
			h.appendTo(h.sessionLog(0, 0), h.session(0, -1, 3))
		}
		whole := report(t, h.input("", testNow, 30))
		var wg sync.WaitGroup
		got := make([]string, 4)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = report(t, h.input(state, testNow, 30))
			}()
		}
		wg.Wait()
		for i, g := range got {
			if g != whole {
				t.Fatalf("round %d, run %d differs from a full read:\n%s", round, i, firstDiff(g, whole))
			}
		}
		for name := range analyzerShapes {
			if _, err := keptLedger(state, name); err != nil {
				t.Fatalf("round %d: the ledger of %s is damaged: %v", round, name, err)
			}
		}
	}
	if entries, _ := filepath.Glob(filepath.Join(state, LedgerDir, ".*.tmp")); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
	if !bytes.Contains([]byte(report(t, h.input(state, testNow, 30))), []byte("suggest")) {
		t.Error("no suggestions: the comparison proved little")
	}
}

// keptLedger decodes the ledger analyzer keeps in state.
func keptLedger(state, analyzer string) (*ledger, error) {
	st, frames, err := logcursor.Open(context.Background(), filepath.Join(state, LedgerDir), analyzer+".rec", analyzer+".lock")
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if frames == nil {
		return nil, fmt.Errorf("no ledger of %s", analyzer)
	}
	return decodeLedger(frames)
}

// A last line without its newline (still being written) counts in the
// run that sees it, as it did when files were read whole, and once only
// when it is complete.
func TestALastLineWithoutNewlineCountsOnce(t *testing.T) {
	h := newLearnHome(t)
	state := t.TempDir()
	perms := filepath.Join(h.learning, permissionShape.file)
	line := func(session string) string {
		return fmt.Sprintf(`{"timestamp":%q,"permission":"Bash(make build)","session_id":%q,"project_path":%q}`,
			timeAt(-1).Format(time.RFC3339), session, h.project(2))
	}
	evidence := func() string {
		t.Helper()
		res, err := Permissions(context.Background(), h.input(state, testNow, 30))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range res.Suggestions {
			if s.Pattern == "Bash(make build:*)" {
				return s.Evidence
			}
		}
		return ""
	}
	h.write(perms, line("a")+"\n"+line("b")+"\n"+line("b"))
	for range 2 {
		if ev := evidence(); ev != "approved 3 times in 2 sessions" {
			t.Fatalf("with the third approval on a line without its newline: %q", ev)
		}
	}
	h.appendTo(perms, "\n")
	if ev := evidence(); ev != "approved 3 times in 2 sessions" {
		t.Fatalf("once the line is complete: %q", ev)
	}
	h.appendTo(perms, line("c")+"\n")
	if ev := evidence(); ev != "approved 4 times in 3 sessions" {
		t.Fatalf("after one more: %q", ev)
	}
}

// A command without a project is the flake's: a run that mixes it with
// commands naming the flake is one project's run.
func TestWorkflowsTakeAnEmptyProjectForTheFlake(t *testing.T) {
	h := newLearnHome(t)
	var b strings.Builder
	for i, s := range []string{"x1", "x2", "x3"} {
		for j, p := range []string{"", h.flake} {
			fmt.Fprintf(&b, `{"timestamp":%q,"command":%q,"session_id":%q,"project_path":%q}`+"\n",
				timeAt(-float64(i+1)).Add(time.Duration(j)*time.Minute).Format(time.RFC3339), []string{"/fetch", "/apply"}[j], s, p)
		}
	}
	h.write(filepath.Join(h.learning, workflowShape.file), b.String())
	state := t.TempDir()
	for _, run := range []string{"first run", "from the ledger"} {
		res, err := Workflows(context.Background(), h.input(state, testNow, 30))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Suggestions) != 1 || res.Suggestions[0].Target != CommandFile(h.flake, "fetch-apply") {
			t.Fatalf("%s: suggestions %+v", run, res.Suggestions)
		}
	}
}
