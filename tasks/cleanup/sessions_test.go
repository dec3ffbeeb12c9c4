package cleanup

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/lifecycle"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// sessionHome plants ~/.claude/projects with every case of PHASES.md
// phase 12 and returns the base folder (home is <base>/home) and the
// paths, relative to base, that the cleanup must delete.
func sessionHome(t *testing.T) (base, home string, goes []string) {
	base = t.TempDir()
	home = filepath.Join(base, "home")
	p := filepath.Join(home, ".claude/projects")
	side := func(log, stage string) {
		taskstest.WriteFile(t, lifecycle.SidecarPath(log), fmt.Sprintf(`{"lifecycle_stage": %q, "created_at": "2025-01-01T00:00:00", "implemented_at": "2025-01-20T10:00:00Z", "extra": 1}`, stage))
	}
	s1 := taskstest.WriteFile(t, filepath.Join(p, "projA/s1.jsonl"), strings.Repeat("x", 1000))
	side(s1, "implemented")
	side(taskstest.WriteFile(t, filepath.Join(p, "projA/s2.jsonl"), "analyzed"), "analyzed")
	taskstest.WriteFile(t, filepath.Join(p, "projA/s3.jsonl"), "raw, no sidecar")
	side(filepath.Join(p, "projA/s4.jsonl"), "implemented") // its log is gone
	side(filepath.Join(p, "projA/s5.jsonl"), "analyzed")    // its log is gone, not implemented
	taskstest.WriteFile(t, filepath.Join(p, "projA/s6.jsonl"), "broken sidecar")
	taskstest.WriteFile(t, filepath.Join(p, "projA/s6.jsonl.lifecycle.json"), `{"lifecycle_stage": "implemented"`)
	side(taskstest.WriteFile(t, filepath.Join(p, "projA/s7.jsonl"), "unknown stage"), "archived")
	taskstest.WriteFile(t, filepath.Join(p, "projA/notes.txt"), "not a session")
	outside := taskstest.WriteFile(t, filepath.Join(base, "outside/secret.jsonl"), "outside")
	if err := os.Symlink(outside, filepath.Join(p, "projA/s8.jsonl")); err != nil {
		t.Fatal(err)
	}
	side(filepath.Join(p, "projA/s8.jsonl"), "implemented") // its "log" is a link out
	t1 := taskstest.WriteFile(t, filepath.Join(p, "projB/t1.jsonl"), strings.Repeat("y", 3000))
	side(t1, "implemented")
	side(taskstest.WriteFile(t, filepath.Join(p, "stray.jsonl"), "not in a project folder"), "implemented")
	goes = []string{
		"home/.claude/projects/projA/s1.jsonl", "home/.claude/projects/projA/s1.jsonl.lifecycle.json",
		"home/.claude/projects/projA/s4.jsonl.lifecycle.json",
		"home/.claude/projects/projB/t1.jsonl", "home/.claude/projects/projB/t1.jsonl.lifecycle.json",
	}
	return base, home, goes
}

func TestSessionsYesDeletesTheImplementedOnes(t *testing.T) {
	base, home, goes := sessionHome(t)
	before := taskstest.Listing(t, base)
	p := &taskstest.Prompter{Terminal: true, Answers: []any{true}}
	r := run(t, &Sessions{}, "sessions", home, nil, p)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got, want := taskstest.Listing(t, base), taskstest.Without(before, goes...); !slices.Equal(got, want) {
		t.Fatalf("after the cleanup:\n%s", taskstest.Diff(got, want))
	}
	if len(p.Asked()) != 1 || p.Asked()[0] != "Delete the 3 implemented sessions (4.3 KiB) listed?" {
		t.Errorf("asked %q", p.Asked())
	}
	if len(p.Printed()) != 1 || !regexp.MustCompile(`projB +t1 `).MatchString(p.Printed()[0]) || !strings.Contains(p.Printed()[0], "sidecar (log is gone)") {
		t.Errorf("shown %q", p.Printed())
	}
	stats := strings.Join(r.Rep.Stats, "\n")
	if !strings.Contains(stats, "sessions: 1 raw · 1 analyzed · 0 insights_generated · 2 implemented") {
		t.Errorf("stats %q", stats)
	}
	warnings := strings.Join(r.Rep.Warnings, "\n")
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
	if want := "deleted 3 implemented sessions, 5 files (4.3 KiB)"; len(r.Rep.Actions) != 1 || r.Rep.Actions[0] != want {
		t.Errorf("actions %q, want %q", r.Rep.Actions, want)
	}
}

func TestSessionsAnswers(t *testing.T) {
	cases := map[string]struct {
		p       *taskstest.Prompter
		opts    map[string]any
		yes     bool
		outcome string
		deletes bool
	}{
		"no":                       {&taskstest.Prompter{Terminal: true, Answers: []any{false}}, nil, false, "declined: kept 3 implemented sessions (4.3 KiB)", false},
		"no terminal":              {&taskstest.Prompter{}, nil, false, "skipped: no terminal: kept 3 implemented sessions (4.3 KiB)", false},
		"no prompter":              {nil, nil, false, "skipped: no terminal", false},
		"--yes without a terminal": {&taskstest.Prompter{}, nil, true, "succeeded", true},
		"policy clean":             {&taskstest.Prompter{}, map[string]any{"policy": "clean"}, false, "succeeded", true},
		"policy skip":              {&taskstest.Prompter{Terminal: true}, map[string]any{"policy": "skip"}, true, "skipped: policy", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			base, home, goes := sessionHome(t)
			before := taskstest.Listing(t, base)
			r := run(t, &Sessions{}, "sessions", home, c.opts, c.p, func(e *tasks.Env) { e.Yes = c.yes })
			if !strings.HasPrefix(r.Outcome(), c.outcome) {
				t.Fatalf("%s, want %s", r.Outcome(), c.outcome)
			}
			want := before
			if c.deletes {
				want = taskstest.Without(before, goes...)
			}
			if got := taskstest.Listing(t, base); !slices.Equal(got, want) {
				t.Fatalf("files:\n%s", taskstest.Diff(got, want))
			}
			if c.p != nil && !c.p.Terminal && len(c.p.Asked()) != 0 {
				t.Errorf("asked without a terminal: %q", c.p.Asked())
			}
		})
	}
}

func TestSessionsArchive(t *testing.T) {
	base, home, goes := sessionHome(t)
	before := taskstest.Listing(t, base)
	r := run(t, &Sessions{}, "sessions", home, map[string]any{"archive": true}, &taskstest.Prompter{Terminal: true, Answers: []any{true}})
	if r.Err != nil {
		t.Fatal(r.Err)
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
	after := taskstest.Listing(t, filepath.Join(base, "home/.claude/projects"))
	wantAfter := taskstest.Without(before, goes...)
	var wantProjects []string
	for _, w := range wantAfter {
		if rel, ok := strings.CutPrefix(w, "home/.claude/projects/"); ok && rel != "" {
			wantProjects = append(wantProjects, rel)
		}
	}
	if !slices.Equal(after, wantProjects) {
		t.Errorf("projects after archiving:\n%s", taskstest.Diff(after, wantProjects))
	}
	if !strings.Contains(strings.Join(r.Rep.Actions, "\n"), "archived 3 implemented sessions (4.3 KiB) into ~/.claude/archives/sessions-20250201-120000.tar.gz") {
		t.Errorf("actions %q", r.Rep.Actions)
	}
	entries, _ := os.ReadDir(filepath.Dir(name))
	if len(entries) != 1 {
		t.Errorf("archive folder holds %v", entries)
	}
}

func TestSessionsDryRunListsExactlyWhatTheRunDeletes(t *testing.T) {
	base, home, _ := sessionHome(t)
	before := taskstest.Listing(t, base)
	dry := run(t, &Sessions{}, "sessions", home, nil, &taskstest.Prompter{}, func(e *tasks.Env) { e.DryRun = true })
	if dry.Err != nil {
		t.Fatal(dry.Err)
	}
	if got := taskstest.Listing(t, base); !slices.Equal(got, before) {
		t.Fatalf("the dry run deleted:\n%s", taskstest.Diff(got, before))
	}
	real := run(t, &Sessions{}, "sessions", home, nil, &taskstest.Prompter{}, func(e *tasks.Env) { e.Yes = true })
	if real.Err != nil {
		t.Fatal(real.Err)
	}
	would := regexp.MustCompile(`(?m)^would delete (\S+) `).FindAllStringSubmatch(dry.Log, -1)
	did := regexp.MustCompile(`(?m)^deleted (~\S+) `).FindAllStringSubmatch(real.Log, -1)
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
	r := run(t, &Sessions{}, "sessions", home, nil, &taskstest.Prompter{Terminal: true})
	if !strings.HasPrefix(r.Outcome(), "skipped: no sessions: ~/.claude/projects does not exist") {
		t.Error(r.Outcome())
	}
	log := taskstest.WriteFile(t, filepath.Join(home, ".claude/projects/p/s.jsonl"), "x")
	if _, err := lifecycle.Advance(log, lifecycle.StageInsightsGenerated, testNow); err != nil {
		t.Fatal(err)
	}
	r = run(t, &Sessions{}, "sessions", home, nil, &taskstest.Prompter{Terminal: true})
	if r.Outcome() != "skipped: no implemented sessions to clean" {
		t.Error(r.Outcome())
	}
}

func TestSessionsRefusesHomeAndRoot(t *testing.T) {
	for _, projects := range []string{"~", "/"} {
		base, home, _ := sessionHome(t)
		before := taskstest.Listing(t, base)
		r := run(t, &Sessions{}, "sessions", home, map[string]any{"projects": projects}, &taskstest.Prompter{}, func(e *tasks.Env) { e.Yes = true })
		if r.Err == nil || !strings.Contains(r.Err.Error(), "task.sessions.projects") || !strings.Contains(r.Err.Error(), "refusing") {
			t.Errorf("projects = %q: %s", projects, r.Outcome())
		}
		if got := taskstest.Listing(t, base); !slices.Equal(got, before) {
			t.Fatalf("projects = %q deleted:\n%s", projects, taskstest.Diff(got, before))
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
