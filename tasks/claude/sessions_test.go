package claude

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// The helpers of the cleanup tests are named cleanup… so the other tests
// of this package keep their own names.

// cleanupPrompter is a scripted tasks.Prompter: it records questions and
// shown text and answers from a script; without a terminal it answers
// each question's NonInteractive value, like the real one.
type cleanupPrompter struct {
	t           *testing.T
	interactive bool
	answers     []any
	mu          sync.Mutex
	asked       []string
	shown       []string
}

func (p *cleanupPrompter) Interactive() bool { return p.interactive }

func (p *cleanupPrompter) next(q string) (any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, q)
	if !p.interactive {
		return nil, false
	}
	if len(p.answers) == 0 {
		p.t.Errorf("unexpected question %q", q)
		return nil, false
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	return a, true
}

func (p *cleanupPrompter) Confirm(_ context.Context, q tasks.Question[bool]) (bool, error) {
	if a, ok := p.next(q.Text); ok {
		return a.(bool), nil
	}
	return q.NonInteractive, nil
}

func (p *cleanupPrompter) Choose(_ context.Context, q tasks.Question[rune], choices []tasks.Choice) (rune, error) {
	a, ok := p.next(q.Text)
	if !ok {
		return q.NonInteractive, nil
	}
	r := a.(rune)
	if !slices.ContainsFunc(choices, func(c tasks.Choice) bool { return c.Key == r }) {
		p.t.Errorf("answer %c is not among the choices of %q", r, q.Text)
	}
	return r, nil
}

func (p *cleanupPrompter) MultiSelect(_ context.Context, q tasks.Question[[]int], _ []string) ([]int, error) {
	if a, ok := p.next(q.Text); ok {
		return a.([]int), nil
	}
	return q.NonInteractive, nil
}

func (p *cleanupPrompter) Input(_ context.Context, q tasks.Question[string]) (string, error) {
	if a, ok := p.next(q.Text); ok {
		return a.(string), nil
	}
	return q.NonInteractive, nil
}

func (p *cleanupPrompter) Println(text string) {
	p.mu.Lock()
	p.shown = append(p.shown, text)
	p.mu.Unlock()
}

type cleanupResult struct {
	err error
	rep tasks.Report
	log string
}

func (r cleanupResult) outcome() string {
	if o, ok := tasks.AsOutcome(r.err); ok {
		return o.Error()
	}
	if r.err != nil {
		return "failed: " + r.err.Error()
	}
	return "succeeded"
}

// cleanupNow is the tests' clock.
var cleanupNow = time.Date(2025, 2, 1, 12, 0, 0, 0, time.UTC)

// runCleanup runs task on home with options (as if from a config file),
// the flake at <home>/nixos-config and the clock at cleanupNow.
func runCleanup(t *testing.T, task tasks.Task, name, home string, opts map[string]any, p *cleanupPrompter, setup ...func(*tasks.Env)) cleanupResult {
	t.Helper()
	env := tasks.NewEnv(name, nil, nil)
	env.Home = home
	env.Now = func() time.Time { return cleanupNow }
	env.Options = config.Task{Name: name, Options: opts, File: "/test/config.toml"}
	env.Config = &config.Config{Flake: filepath.Join(home, "nixos-config"), Tasks: map[string]config.Task{}}
	if p != nil {
		p.t = t
		env.Prompt = p
	}
	var log bytes.Buffer
	env.Log = &log
	for _, s := range setup {
		s(env)
	}
	err := task.Run(context.Background(), env)
	return cleanupResult{err, env.Report(), log.String()}
}

func cleanupFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// cleanupListing lists every path below root, relative and sorted, with
// a file's content length and a link's target.
func cleanupListing(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir():
			rel += "/"
		case d.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			rel += " -> " + target
		default:
			fi, _ := d.Info()
			rel += fmt.Sprintf(" (%d)", fi.Size())
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// cleanupGone returns before without the entries named (by path, without
// the size decoration).
func cleanupGone(before []string, gone ...string) []string {
	return slices.DeleteFunc(slices.Clone(before), func(s string) bool {
		for _, g := range gone {
			if s == g || strings.HasPrefix(s, g+" ") {
				return true
			}
		}
		return false
	})
}

func cleanupDiff(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "+ %s\n", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	return b.String()
}

// sessionHome plants ~/.claude/projects with every case of PHASES.md
// phase 12 and returns the base folder (home is <base>/home) and the
// paths, relative to base, that the cleanup must delete.
func sessionHome(t *testing.T) (base, home string, goes []string) {
	base = t.TempDir()
	home = filepath.Join(base, "home")
	p := filepath.Join(home, ".claude/projects")
	side := func(log, stage string) {
		cleanupFile(t, SidecarPath(log), fmt.Sprintf(`{"lifecycle_stage": %q, "created_at": "2025-01-01T00:00:00", "implemented_at": "2025-01-20T10:00:00Z", "extra": 1}`, stage))
	}
	s1 := cleanupFile(t, filepath.Join(p, "projA/s1.jsonl"), strings.Repeat("x", 1000))
	side(s1, "implemented")
	side(cleanupFile(t, filepath.Join(p, "projA/s2.jsonl"), "analyzed"), "analyzed")
	cleanupFile(t, filepath.Join(p, "projA/s3.jsonl"), "raw, no sidecar")
	side(filepath.Join(p, "projA/s4.jsonl"), "implemented") // its log is gone
	side(filepath.Join(p, "projA/s5.jsonl"), "analyzed")    // its log is gone, not implemented
	cleanupFile(t, filepath.Join(p, "projA/s6.jsonl"), "broken sidecar")
	cleanupFile(t, filepath.Join(p, "projA/s6.jsonl.lifecycle.json"), `{"lifecycle_stage": "implemented"`)
	side(cleanupFile(t, filepath.Join(p, "projA/s7.jsonl"), "unknown stage"), "archived")
	cleanupFile(t, filepath.Join(p, "projA/notes.txt"), "not a session")
	outside := cleanupFile(t, filepath.Join(base, "outside/secret.jsonl"), "outside")
	if err := os.Symlink(outside, filepath.Join(p, "projA/s8.jsonl")); err != nil {
		t.Fatal(err)
	}
	side(filepath.Join(p, "projA/s8.jsonl"), "implemented") // its "log" is a link out
	t1 := cleanupFile(t, filepath.Join(p, "projB/t1.jsonl"), strings.Repeat("y", 3000))
	side(t1, "implemented")
	side(cleanupFile(t, filepath.Join(p, "stray.jsonl"), "not in a project folder"), "implemented")
	goes = []string{
		"home/.claude/projects/projA/s1.jsonl", "home/.claude/projects/projA/s1.jsonl.lifecycle.json",
		"home/.claude/projects/projA/s4.jsonl.lifecycle.json",
		"home/.claude/projects/projB/t1.jsonl", "home/.claude/projects/projB/t1.jsonl.lifecycle.json",
	}
	return base, home, goes
}

func TestSessionsYesDeletesTheImplementedOnes(t *testing.T) {
	base, home, goes := sessionHome(t)
	before := cleanupListing(t, base)
	p := &cleanupPrompter{interactive: true, answers: []any{true}}
	r := runCleanup(t, &Sessions{}, "sessions", home, nil, p)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got, want := cleanupListing(t, base), cleanupGone(before, goes...); !slices.Equal(got, want) {
		t.Fatalf("after the cleanup:\n%s", cleanupDiff(got, want))
	}
	if len(p.asked) != 1 || p.asked[0] != "Delete the 3 implemented sessions (4.3 KiB) listed?" {
		t.Errorf("asked %q", p.asked)
	}
	if len(p.shown) != 1 || !regexp.MustCompile(`projB +t1 `).MatchString(p.shown[0]) || !strings.Contains(p.shown[0], "sidecar (log is gone)") {
		t.Errorf("shown %q", p.shown)
	}
	stats := strings.Join(r.rep.Stats, "\n")
	if !strings.Contains(stats, "sessions: 1 raw · 1 analyzed · 0 insights_generated · 2 implemented") {
		t.Errorf("stats %q", stats)
	}
	warnings := strings.Join(r.rep.Warnings, "\n")
	for _, want := range []string{
		"2 sidecars left alone: ~/.claude/projects/projA/s6.jsonl.lifecycle.json (unexpected end of JSON input)" +
			", ~/.claude/projects/projA/s8.jsonl.lifecycle.json (its log is not a regular file)",
		"1 sidecar has an unknown lifecycle_stage: ~/.claude/projects/projA/s7.jsonl.lifecycle.json",
		"1 sidecar has lost its session log (not implemented, so kept): ~/.claude/projects/projA/s5.jsonl.lifecycle.json",
	} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	if want := "deleted 3 implemented sessions, 5 files (4.3 KiB)"; len(r.rep.Actions) != 1 || r.rep.Actions[0] != want {
		t.Errorf("actions %q, want %q", r.rep.Actions, want)
	}
}

func TestSessionsAnswers(t *testing.T) {
	cases := map[string]struct {
		p       *cleanupPrompter
		opts    map[string]any
		yes     bool
		outcome string
		deletes bool
	}{
		"no":                       {&cleanupPrompter{interactive: true, answers: []any{false}}, nil, false, "declined: kept 3 implemented sessions (4.3 KiB)", false},
		"no terminal":              {&cleanupPrompter{}, nil, false, "skipped: no terminal: kept 3 implemented sessions (4.3 KiB)", false},
		"no prompter":              {nil, nil, false, "skipped: no terminal", false},
		"--yes without a terminal": {&cleanupPrompter{}, nil, true, "succeeded", true},
		"policy clean":             {&cleanupPrompter{}, map[string]any{"policy": "clean"}, false, "succeeded", true},
		"policy skip":              {&cleanupPrompter{interactive: true}, map[string]any{"policy": "skip"}, true, "skipped: policy", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			base, home, goes := sessionHome(t)
			before := cleanupListing(t, base)
			r := runCleanup(t, &Sessions{}, "sessions", home, c.opts, c.p, func(e *tasks.Env) { e.Yes = c.yes })
			if !strings.HasPrefix(r.outcome(), c.outcome) {
				t.Fatalf("%s, want %s", r.outcome(), c.outcome)
			}
			want := before
			if c.deletes {
				want = cleanupGone(before, goes...)
			}
			if got := cleanupListing(t, base); !slices.Equal(got, want) {
				t.Fatalf("files:\n%s", cleanupDiff(got, want))
			}
			if c.p != nil && !c.p.interactive && len(c.p.asked) != 0 {
				t.Errorf("asked without a terminal: %q", c.p.asked)
			}
		})
	}
}

func TestSessionsArchive(t *testing.T) {
	base, home, goes := sessionHome(t)
	before := cleanupListing(t, base)
	r := runCleanup(t, &Sessions{}, "sessions", home, map[string]any{"archive": true}, &cleanupPrompter{interactive: true, answers: []any{true}})
	if r.err != nil {
		t.Fatal(r.err)
	}
	name := filepath.Join(home, ".claude/archives/sessions-20250201-120000.tar.gz")
	got := readTarGz(t, name)
	want := map[string]string{}
	for _, g := range goes {
		rel := strings.TrimPrefix(g, "home/.claude/projects/")
		want[rel] = "" // contents checked below
	}
	if len(got) != len(want) {
		t.Fatalf("archive holds %v, want %v", keys(got), keys(want))
	}
	if got["projA/s1.jsonl"] != strings.Repeat("x", 1000) || !strings.Contains(got["projB/t1.jsonl.lifecycle.json"], `"extra": 1`) {
		t.Errorf("archive contents wrong: %q", got)
	}
	after := cleanupListing(t, filepath.Join(base, "home/.claude/projects"))
	wantAfter := cleanupGone(before, goes...)
	var wantProjects []string
	for _, w := range wantAfter {
		if rel, ok := strings.CutPrefix(w, "home/.claude/projects/"); ok && rel != "" {
			wantProjects = append(wantProjects, rel)
		}
	}
	if !slices.Equal(after, wantProjects) {
		t.Errorf("projects after archiving:\n%s", cleanupDiff(after, wantProjects))
	}
	if !strings.Contains(strings.Join(r.rep.Actions, "\n"), "archived 3 implemented sessions (4.3 KiB) into ~/.claude/archives/sessions-20250201-120000.tar.gz") {
		t.Errorf("actions %q", r.rep.Actions)
	}
	entries, _ := os.ReadDir(filepath.Dir(name))
	if len(entries) != 1 {
		t.Errorf("archive folder holds %v", entries)
	}
}

func TestSessionsDryRunListsExactlyWhatTheRunDeletes(t *testing.T) {
	base, home, _ := sessionHome(t)
	before := cleanupListing(t, base)
	dry := runCleanup(t, &Sessions{}, "sessions", home, nil, &cleanupPrompter{}, func(e *tasks.Env) { e.DryRun = true })
	if dry.err != nil {
		t.Fatal(dry.err)
	}
	if got := cleanupListing(t, base); !slices.Equal(got, before) {
		t.Fatalf("the dry run deleted:\n%s", cleanupDiff(got, before))
	}
	real := runCleanup(t, &Sessions{}, "sessions", home, nil, &cleanupPrompter{}, func(e *tasks.Env) { e.Yes = true })
	if real.err != nil {
		t.Fatal(real.err)
	}
	would := regexp.MustCompile(`(?m)^would delete (\S+) `).FindAllStringSubmatch(dry.log, -1)
	did := regexp.MustCompile(`(?m)^deleted (~\S+) `).FindAllStringSubmatch(real.log, -1)
	var w, d []string
	for _, m := range would {
		w = append(w, m[1])
	}
	for _, m := range did {
		d = append(d, m[1])
	}
	if len(w) != 5 || !slices.Equal(w, d) {
		t.Errorf("dry run listed %q, the run deleted %q", w, d)
	}
}

func TestSessionsNothingToDo(t *testing.T) {
	home := t.TempDir()
	r := runCleanup(t, &Sessions{}, "sessions", home, nil, &cleanupPrompter{interactive: true})
	if !strings.HasPrefix(r.outcome(), "skipped: no sessions: ~/.claude/projects does not exist") {
		t.Error(r.outcome())
	}
	log := cleanupFile(t, filepath.Join(home, ".claude/projects/p/s.jsonl"), "x")
	if _, err := Advance(log, StageInsightsGenerated, cleanupNow); err != nil {
		t.Fatal(err)
	}
	r = runCleanup(t, &Sessions{}, "sessions", home, nil, &cleanupPrompter{interactive: true})
	if r.outcome() != "skipped: no implemented sessions to clean" {
		t.Error(r.outcome())
	}
}

func TestSessionsRefusesHomeAndRoot(t *testing.T) {
	for _, projects := range []string{"~", "/"} {
		base, home, _ := sessionHome(t)
		before := cleanupListing(t, base)
		r := runCleanup(t, &Sessions{}, "sessions", home, map[string]any{"projects": projects}, &cleanupPrompter{}, func(e *tasks.Env) { e.Yes = true })
		if r.err == nil || !strings.Contains(r.err.Error(), "task.sessions.projects") || !strings.Contains(r.err.Error(), "refusing") {
			t.Errorf("projects = %q: %s", projects, r.outcome())
		}
		if got := cleanupListing(t, base); !slices.Equal(got, before) {
			t.Fatalf("projects = %q deleted:\n%s", projects, cleanupDiff(got, before))
		}
	}
}

func readTarGz(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[hdr.Name] = string(b)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
