package cleanup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// replaceWithFolder puts a folder holding a file where the file path was,
// the way an attacker (or another program) could between the table and
// the answer.
func replaceWithFolder(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	taskstest.WriteFile(t, filepath.Join(path, "inside", "precious"), "not a session log")
}

// replaceWithAnotherFile puts a new file (a new inode: it is written
// before the old one goes) where the file path was.
func replaceWithAnotherFile(t *testing.T, path string) {
	t.Helper()
	taskstest.WriteFile(t, path+".new", "written after the table was shown")
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// A session log replaced by a folder, or by another file, between the
// table and the "y" stays, with a warning that says why; what still is
// what was listed goes.
func TestSessionsDeleteOnlyWhatIsStillWhatWasListed(t *testing.T) {
	base, home, goes := sessionHome(t)
	p := filepath.Join(home, ".claude/projects")
	s1, t1 := filepath.Join(p, "projA/s1.jsonl"), filepath.Join(p, "projB/t1.jsonl")
	var before []string
	prompt := &taskstest.Prompter{Terminal: true, Answers: []any{true}, BeforeAnswer: func(string) {
		replaceWithFolder(t, s1)
		replaceWithAnotherFile(t, t1)
		before = taskstest.Listing(t, base)
	}}
	r := run(t, &Sessions{}, "sessions", home, nil, prompt)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	// Only the sidecars go: both logs changed since the table.
	gone := slices.DeleteFunc(slices.Clone(goes), func(g string) bool { return strings.HasSuffix(g, ".jsonl") })
	if got, want := taskstest.Listing(t, base), taskstest.Without(before, gone...); !slices.Equal(got, want) {
		t.Fatalf("after the cleanup:\n%s", taskstest.Diff(got, want))
	}
	warnings := strings.Join(r.Rep.Warnings, "\n")
	for _, want := range []string{"changed since it was listed", "listed as a file, now a folder"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
}

// The same for backups: a backup file replaced by a folder stays.
func TestBackupsDeleteOnlyWhatIsStillWhatWasListed(t *testing.T) {
	base, home := backupHome(t)
	replaced := filepath.Join(base, bkB0101)
	var before []string
	prompt := &taskstest.Prompter{Terminal: true, Answers: []any{'a'}, BeforeAnswer: func(string) {
		replaceWithFolder(t, replaced)
		before = taskstest.Listing(t, base)
	}}
	r := run(t, &Backups{}, "backups", home, nil, prompt)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	gone := []string{bkB0110, bkB0120, bkB0131, bkSet, bkLocal, bkUser}
	if got, want := taskstest.Listing(t, base), taskstest.Without(before, gone...); !slices.Equal(got, want) {
		t.Fatalf("after the cleanup:\n%s", taskstest.Diff(got, want))
	}
	if w := strings.Join(r.Rep.Warnings, "\n"); !strings.Contains(w, "listed as a file, now a folder") {
		t.Errorf("warnings %q do not say why the backup stayed", w)
	}
}
