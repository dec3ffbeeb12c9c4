package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/internal/demo"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
)

// TestDemoAsksAtMostFourQuestions runs a default `rebuild demo` (no
// --ask) in a real terminal and answers yes to every question — y, Enter
// for a pick, a message for the commit — as a person who agrees with
// everything would. In all it asks at most four questions: keep the
// system, the commit message, the cleanup plan, the learn review. push,
// after a yes to keep and commit, asks nothing and runs.
//
// Questions are counted twice: as the person meets them (each new block
// at the bottom of the screen) and afterwards as the blocks' "label ›"
// lines in everything the terminal showed.
func TestDemoAsksAtMostFourQuestions(t *testing.T) {
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	if !hasProgram("tmux") {
		t.Skip("tmux is not on PATH")
	}
	met, tm, root := runDemoAnsweringYes(t, 130, "y", nil)
	t.Logf("questions met: %q", met)
	if len(met) > 4 {
		t.Errorf("%d questions asked, want at most 4: %q", len(met), met)
	}
	var headers []string
	for _, l := range strings.Split(tm.scrollback(), "\n") {
		if m := blockHeader.FindStringSubmatch(l); m != nil {
			headers = append(headers, m[1])
		}
	}
	if len(headers) > 4 || len(headers) != len(met) {
		t.Errorf("question blocks on screen %q, want the %d met (at most 4)", headers, len(met))
	}
	if slices.Contains(headers, "push") {
		t.Errorf("push asked a question: %q", headers)
	}
	for _, want := range []string{"cleanup"} {
		if !slices.Contains(headers, want) {
			t.Errorf("no %q question among %q", want, headers)
		}
	}

	runs, _, err := schedule.ReadHistory(filepath.Join(root, "state", "history.jsonl"))
	if err != nil || len(runs) == 0 {
		t.Fatalf("no run in the history: %v", err)
	}
	got := runs[len(runs)-1].Tasks
	for _, task := range []string{"accept", "commit", "push"} {
		if st := string(got[task].State); st != "succeeded" {
			t.Errorf("%s %s (%s), want succeeded after yes to everything", task, st, got[task].Reason)
		}
	}
}

// runDemoAnsweringYes runs a default `rebuild demo` in a width×45 terminal
// and answers every question yes (y, Enter for a pick, a commit message),
// but the cleanup plan's, which gets cleanupKey; atCleanup, when set, is
// called with the sandbox while the cleanup plan is open, before it is
// answered. It returns the questions met ("label: prompt line"), the
// terminal and the kept sandbox, once the run has ended with exit 0.
func runDemoAnsweringYes(t *testing.T, width int, cleanupKey string, atCleanup func(root string)) ([]string, *tmuxTerm, string) {
	t.Helper()
	dir := t.TempDir()
	tmp := sandboxTmp(t, dir)
	w := newWorld(t, dir)
	cmd := w.command("demo", "--keep-sandbox")
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp, demo.BuildSecondsVar+"=1")
	tm := startTmux(t, width, 45, cmd)
	defer func() {
		if t.Failed() {
			t.Logf("scrollback:\n%s", tm.scrollback())
		}
	}()

	var met []string // the questions met, as "label: prompt line"
	for {
		s, open := tm.nextQuestion()
		if !open {
			break
		}
		label, block := openQuestion(s)
		text := strings.Join(block, "\n")
		prompt := ""
		for _, l := range block {
			if strings.HasPrefix(l, "? ") {
				prompt = l
			}
		}
		met = append(met, label+": "+prompt)
		if len(met) > 8 {
			t.Fatalf("questions without end: %q", met)
		}
		key := "y"
		if label == cleanupLabel {
			key = cleanupKey
			if atCleanup != nil {
				atCleanup(sandbox(t, tmp))
			}
		}
		switch {
		case strings.Contains(text, "numbers or ranges"):
			key = "" // a pick: Enter keeps what is proposed
		case strings.HasSuffix(strings.TrimSpace(prompt), ":"):
			key = "a commit message from the test"
		}
		tm.keys(key)
		tm.waitScreen(label+"'s question to go", func(s string) bool {
			l, b := openQuestion(s)
			return l != label || !slices.Equal(b[:min(len(b), 3)], block[:min(len(block), 3)])
		})
	}
	if code, _ := tm.exited(); code != 0 {
		t.Fatalf("exit %d; questions %q", code, met)
	}
	return met, tm, sandbox(t, tmp)
}

// sandbox is the one demo sandbox under tmp.
func sandbox(t *testing.T, tmp string) string {
	t.Helper()
	sandboxes, _ := filepath.Glob(filepath.Join(tmp, "rebuild-demo-*"))
	if len(sandboxes) != 1 {
		t.Fatalf("sandboxes %v", sandboxes)
	}
	return sandboxes[0]
}

// The cleanup plan answered n deletes nothing it showed: every cache
// file, session log and backup there when the plan was on screen is there
// after the run. The demo's generations have a policy (keep = 2): they
// are cleaned by it, without a question, and so are not in the plan.
func TestDemoCleanupPlanNoKeepsEverything(t *testing.T) {
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	var before []string
	var table string
	_, tm, root := runDemoAnsweringYes(t, 130, "n", func(root string) { before = cleanupFiles(t, root) })
	table = tm.scrollback()
	if len(before) == 0 {
		t.Fatal("nothing to clean in the demo")
	}
	if strings.Contains(table, "generations — ") {
		t.Errorf("the generations, cleaned by their keep policy, are in the cleanup plan:\n%s", table)
	}
	var kinds [3]int
	for _, p := range before {
		if strings.Contains(p, "/var/profiles/") {
			continue
		}
		for i, k := range []string{"/.cache/", "/.claude/projects/", "backup"} {
			if strings.Contains(p, k) {
				kinds[i]++
			}
		}
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("n to the cleanup plan, yet %s is gone", p)
		}
	}
	for i, n := range kinds {
		if n == 0 {
			t.Errorf("the demo had no %s to keep (%v)", []string{"cache file", "session log", "backup"}[i], kinds)
		}
	}
	runs, _, err := schedule.ReadHistory(filepath.Join(root, "state", "history.jsonl"))
	if err != nil || len(runs) == 0 {
		t.Fatalf("no run in the history: %v", err)
	}
	for _, task := range []string{"generations", "caches", "sessions", "backups"} {
		st := runs[len(runs)-1].Tasks[task]
		t.Logf("%s: %s (%s)", task, st.State, st.Reason)
		if task != "generations" && (st.State != "declined" || !strings.HasPrefix(st.Reason, "kept ")) {
			t.Errorf("%s %s (%s), want declined: kept …", task, st.State, st.Reason)
		}
	}
}

// cleanupFiles lists, under the sandbox root, the generation links, the
// cache files, the session logs and the backups: what the cleanup plan
// may delete.
func cleanupFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	links, _ := filepath.Glob(filepath.Join(root, "var", "profiles", "system-*-link"))
	out = append(out, links...)
	walk := func(dir string, keep func(string) bool) {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && keep(p) {
				out = append(out, p)
			}
			return nil
		})
	}
	all := func(string) bool { return true }
	walk(filepath.Join(root, "home", ".cache"), all)
	walk(filepath.Join(root, "home", ".npm"), all)
	walk(filepath.Join(root, "home", ".claude", "projects"), func(p string) bool { return strings.HasSuffix(p, ".jsonl") })
	walk(root, func(p string) bool {
		return strings.Contains(p, ".backup-") && !strings.Contains(p, "/store/")
	})
	return out
}

// planRow is one line of the cleanup plan's table as the terminal showed
// it: its task's group, goes or stays, and its label.
type planRow struct {
	task  string
	goes  bool
	label string
}

var (
	planRowLine   = regexp.MustCompile(`^\s{3,}(goes|stays)\s+(\S+)`)
	planTitleLine = regexp.MustCompile(`^  ([a-z][a-z0-9-]*)\b`)
)

// cleanupRows parses the last cleanup plan in a terminal's scrollback.
func cleanupRows(t *testing.T, scrollback string) []planRow {
	t.Helper()
	lines := strings.Split(scrollback, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == cleanupLabel+" ›" {
			start = i
		}
	}
	if start < 0 {
		t.Fatalf("no cleanup plan on screen")
	}
	var rows []planRow
	task := ""
	for _, l := range lines[start+1:] {
		if strings.HasPrefix(l, "? ") || strings.HasPrefix(l, "total: ") {
			break
		}
		if m := planRowLine.FindStringSubmatch(l); m != nil {
			rows = append(rows, planRow{task: task, goes: m[1] == "goes", label: m[2]})
		} else if m := planTitleLine.FindStringSubmatch(l); m != nil {
			task = m[1]
		}
	}
	return rows
}

// rowPath is where a plan row's item is in the sandbox; "" for a row that
// names no one file (a count of sessions).
func rowPath(root string, r planRow) string {
	home := filepath.Join(root, "home")
	switch {
	case r.task == "generations":
		return filepath.Join(root, "var", "profiles", "system-"+strings.Fields(r.label)[0]+"-link")
	case strings.HasPrefix(r.label, "~/"):
		return filepath.Join(home, r.label[2:])
	case filepath.IsAbs(r.label):
		return r.label
	case r.task == "sessions" && strings.Contains(r.label, "/"):
		return filepath.Join(home, ".claude", "projects", r.label+".jsonl")
	}
	return ""
}

// The cleanup plan answered y deletes what its table listed as goes, and
// nothing else: a row that stays is still there, a cache that goes is
// emptied of what it held, any other row that goes is gone.
func TestDemoCleanupPlanYesDeletesWhatGoes(t *testing.T) {
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	var before []string
	_, tm, root := runDemoAnsweringYes(t, 300, "y", func(root string) { before = cleanupFiles(t, root) })
	sb := tm.scrollback()
	rows := cleanupRows(t, sb)
	if i := strings.LastIndex(sb, cleanupLabel+" ›"); i >= 0 && len(rows) == 0 {
		t.Logf("the plan:\n%s", sb[i:min(len(sb), i+3000)])
	}
	checked := map[bool]int{}
	for _, r := range rows {
		p := rowPath(root, r)
		if p == "" {
			continue
		}
		checked[r.goes]++
		_, err := os.Lstat(p)
		switch {
		case !r.goes && err != nil:
			t.Errorf("%s %q stays, yet %s is gone (%v)", r.task, r.label, p, err)
		case r.goes && r.task == "caches":
			// Emptied of what it held when the plan was asked (a
			// cleaning command, npm's, may write its own log there).
			for _, q := range before {
				if _, err := os.Lstat(q); strings.HasPrefix(q, p+"/") && err == nil {
					t.Errorf("caches %q goes, yet %s is there", r.label, q)
				}
			}
		case r.goes && err == nil:
			t.Errorf("%s %q goes, yet %s is there", r.task, r.label, p)
		}
	}
	if checked[true] == 0 || checked[false] == 0 {
		t.Errorf("checked %d rows that go and %d that stay of %+v", checked[true], checked[false], rows)
	}
	t.Logf("checked %d rows that go, %d that stay", checked[true], checked[false])
}
