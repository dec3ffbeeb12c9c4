package git

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// untrackedWorld is an activated world whose flake has, besides the
// updated flake.lock: a tracked file changed, an ignored file, and the
// untracked files `rebuild --yes` once committed unseen (Claude's local
// settings, backups).
func untrackedWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(w.s.Flake, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".gitignore", "*.log\n")
	write("notes.md", "old\n")
	w.git("add", ".gitignore", "notes.md")
	w.git("commit", "-q", "-m", "ignore logs, notes")
	w.git("push", "-q", "origin", "HEAD:main")
	w.activate()
	write("notes.md", "new\n")
	write(".claude/settings.local.json", `{"permissions":{}}`+"\n")
	write(".backups/x.backup-1", "old config\n")
	write("debug.log", "ignored\n")
	return w
}

func (w *world) committed() []string {
	w.t.Helper()
	return strings.Fields(w.git("show", "--name-only", "--format=", "HEAD"))
}

// --yes commits flake.lock and the tracked changes, never an untracked or
// an ignored file; the untracked ones are named in a warning, and the
// action names the files count and the commit.
func TestCommitYesLeavesUntrackedOut(t *testing.T) {
	w := untrackedWorld(t)
	env := w.env("commit", nil, true)
	if err := w.run(Commit{}, env); err != nil {
		t.Fatal(err)
	}
	if got := w.committed(); !slices.Equal(got, []string{"flake.lock", "notes.md"}) {
		t.Errorf("committed %q, want flake.lock and notes.md only", got)
	}
	if got := w.git("status", "--porcelain", "--untracked-files=all"); got != "?? .backups/x.backup-1\n?? .claude/settings.local.json" {
		t.Errorf("left %q", got)
	}
	if got := w.git("status", "--porcelain", "--ignored"); !strings.Contains(got, "!! debug.log") {
		t.Errorf("debug.log is not left ignored: %q", got)
	}
	r := env.Report()
	id := w.git("rev-parse", "--short", "HEAD")
	if !slices.Equal(r.Actions, []string{`committed 2 files as ` + id + ` "rebuild: demo 2026-05-04 03:02 (generation 2)"`}) {
		t.Errorf("actions %q", r.Actions)
	}
	want := "left out 2 files (untracked; git add them, or set task.commit.add_untracked = true): " +
		".backups/x.backup-1, .claude/settings.local.json"
	if !slices.Equal(r.Warnings, []string{want}) {
		t.Errorf("warnings %q, want %q", r.Warnings, want)
	}
	if c, _ := CommitKey.Get(env); c.ByPerson || c.Files != 2 || c.ID != id {
		t.Errorf("handed on %+v", c)
	}
}

// add_untracked = true commits the untracked files too, still never an
// ignored one.
func TestCommitAddUntracked(t *testing.T) {
	w := untrackedWorld(t)
	env := w.env("commit", nil, true)
	if err := w.run(commitWith(t, map[string]any{"add_untracked": true}), env); err != nil {
		t.Fatal(err)
	}
	want := []string{".backups/x.backup-1", ".claude/settings.local.json", "flake.lock", "notes.md"}
	if got := w.committed(); !slices.Equal(got, want) {
		t.Errorf("committed %q, want %q", got, want)
	}
	if got := w.git("status", "--porcelain", "--ignored"); got != "!! debug.log" {
		t.Errorf("left %q, want debug.log ignored only", got)
	}
	if w := env.Report().Warnings; len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
}

// In a terminal the commit asks one question, its message: the untracked
// files are listed in it as left out, not offered in a question of their
// own, and not committed; what will be committed is shown with it.
func TestCommitListsUntrackedInItsOneQuestion(t *testing.T) {
	w := untrackedWorld(t)
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{"update"}}
	env := w.env("commit", p, false)
	if err := w.run(Commit{}, env); err != nil {
		t.Fatal(err)
	}
	if got := p.Asked(); len(got) != 1 || got[0] != "Commit message (blank: no commit)" {
		t.Errorf("asked %q", got)
	}
	shown := strings.Join(p.Bodies(), "\n")
	for _, line := range []string{"M  flake.lock", "M  notes.md", "?? .claude/settings.local.json", "?? .backups/x.backup-1"} {
		if !strings.Contains(shown, line) {
			t.Errorf("shown %q lacks %q", shown, line)
		}
	}
	if got := w.committed(); !slices.Equal(got, []string{"flake.lock", "notes.md"}) {
		t.Errorf("committed %q", got)
	}
	if r := env.Report(); len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], "left out 2 files ") {
		t.Errorf("warnings %q", r.Warnings)
	}
	if c, _ := CommitKey.Get(env); !c.ByPerson || c.Files != 2 || c.Earlier != 0 {
		t.Errorf("handed on %+v", c)
	}
}

// A new flake.lock (the first update of a flake) is committed like a
// tracked one: it is the update's result.
func TestCommitNewFlakeLock(t *testing.T) {
	w := newWorld(t)
	w.git("rm", "-q", "--cached", "flake.lock")
	w.git("commit", "-q", "-m", "untrack the lock")
	if err := w.run(Commit{}, w.env("commit", nil, true)); err != nil {
		t.Fatal(err)
	}
	if got := w.committed(); !slices.Equal(got, []string{"flake.lock"}) {
		t.Errorf("committed %q", got)
	}
}

// After the person has seen and approved a commit in this run, push sends
// it, and the earlier unpushed commits its question listed, without a
// question of its own; after a --yes commit, or with a commit the person
// has not seen, push still asks.
func TestPushAfterApprovedCommitAsksNothing(t *testing.T) {
	t.Run("approved", func(t *testing.T) {
		w := untrackedWorld(t)
		if err := w.run(Commit{}, w.env("commit", &taskstest.Prompter{T: t, Terminal: true, Answers: []any{"update"}}, false)); err != nil {
			t.Fatal(err)
		}
		p := &taskstest.Prompter{T: t, Terminal: true}
		env := w.env("push", p, false)
		if err := w.run(Push{}, env); err != nil {
			t.Fatal(err)
		}
		if got := p.Asked(); len(got) != 0 {
			t.Errorf("push asked %q", got)
		}
		head := w.git("rev-parse", "HEAD")
		if remote := w.git("--git-dir", w.s.Remote, "rev-parse", "main"); remote != head {
			t.Errorf("remote main %s, want %s", remote, head)
		}
		r := env.Report()
		if !slices.Equal(r.Actions, []string{"pushed 1 commit to origin/main"}) || !slices.Contains(r.Stats, "origin/main is at "+w.git("rev-parse", "--short", "HEAD")) {
			t.Errorf("report %+v", r)
		}
	})
	t.Run("an earlier commit listed in the question", func(t *testing.T) {
		w := untrackedWorld(t)
		w.git("commit", "-q", "--allow-empty", "-m", "by hand")
		cp := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{"update"}}
		if err := w.run(Commit{}, w.env("commit", cp, false)); err != nil {
			t.Fatal(err)
		}
		if b := cp.Bodies(); len(b) != 1 || !strings.Contains(b[0], "Not yet on origin/main, pushed with this commit: 1 earlier commit") || !strings.Contains(b[0], " by hand") {
			t.Errorf("the commit question's body %q does not list the earlier commit", b)
		}
		p := &taskstest.Prompter{T: t, Terminal: true}
		if err := w.run(Push{}, w.env("push", p, false)); err != nil || len(p.Asked()) != 0 {
			t.Errorf("push %v, asked %q", err, p.Asked())
		}
		if remote := w.git("--git-dir", w.s.Remote, "rev-parse", "main"); remote != w.git("rev-parse", "HEAD") {
			t.Error("not pushed")
		}
	})
	for name, prepare := range map[string]func(w *world){
		"commit by --yes": func(w *world) {
			if err := w.run(Commit{}, w.env("commit", nil, true)); err != nil {
				w.t.Fatal(err)
			}
		},
		"a commit made after the question": func(w *world) {
			if err := w.run(Commit{}, w.env("commit", &taskstest.Prompter{T: w.t, Terminal: true, Answers: []any{"update"}}, false)); err != nil {
				w.t.Fatal(err)
			}
			w.git("commit", "-q", "--allow-empty", "-m", "by hand")
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := untrackedWorld(t)
			prepare(w)
			before := w.git("--git-dir", w.s.Remote, "rev-parse", "main")
			p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{false}}
			kind, _ := outcome(w.run(Push{}, w.env("push", p, false)))
			if kind != tasks.Declined || len(p.Asked()) != 1 || !strings.HasPrefix(p.Asked()[0], "Push ") {
				t.Errorf("push %v, asked %q", kind, p.Asked())
			}
			if after := w.git("--git-dir", w.s.Remote, "rev-parse", "main"); after != before {
				t.Error("pushed after no")
			}
		})
	}
}
