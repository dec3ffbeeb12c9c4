package cleanup

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/golden"
	"github.com/rebuild-nixos/rebuild/internal/table"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/screen")

// The tables the cleanup tasks show, as an 80×24 terminal shows them: the
// question block indents a table by two columns. Each is compared with its
// golden frame, and no line may be wider than 80 columns (the block keeps
// the last column free: 79).

// screen80x24 gives a task an 80×24 terminal.
func screen80x24(e *tasks.Env) { e.Screen = func() (int, int) { return 80, 24 } }

// frame is text as the question block draws it: indented by two.
func frame(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString(strings.TrimRight("  "+l, " ") + "\n")
	}
	return b.String()
}

func checkFrame(t *testing.T, name, got string) {
	t.Helper()
	golden.Frame(t, filepath.Join("testdata", "screen", name+".golden"), got, 80, 24, *update, "-update")
}

// printed is what a dry run shows: the table, then the list of what
// would be deleted.
func printed(t *testing.T, p *taskstest.Prompter) string {
	t.Helper()
	got := p.Printed()
	if len(got) != 2 {
		t.Fatalf("shown %d texts, want the table and the list: %q", len(got), got)
	}
	return strings.Join(got, "\n")
}

// 38 backups with long names in deep folders: the table is cut to the
// first rows with "… N more (all in the log)", paths are cut in the
// middle, ages and sizes whole; the log has every row.
func TestBackupsTableFitsTheTerminal(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home")
	dir := filepath.Join(home, "nixos-config", ".backups")
	for i := range 38 {
		p := filepath.Join(dir, fmt.Sprintf("very-long-configuration-file-name-%02d.nix.backup-202501%02d-000000", i, i%28+1))
		taskstest.WriteFile(t, p, strings.Repeat("b", 1000*(i+1)))
		at := testNow.Add(-time.Duration(i+1) * 36 * time.Hour)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	p := &taskstest.Prompter{Terminal: true}
	r := run(t, &Backups{}, "backups", home, nil, p, screen80x24, func(e *tasks.Env) { e.DryRun = true })
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	shown := printed(t, p)
	if !strings.Contains(shown, table.More(29)) || !strings.Contains(shown, table.More(25)) || !strings.Contains(shown, "goes with: a = all") {
		t.Errorf("the table is not shortened with its note:\n%s", shown)
	}
	if n := strings.Count(r.Log, "very-long-configuration-file-name-"); n < 38 {
		t.Errorf("the log has %d of the 38 backups", n)
	}
	checkFrame(t, "backups", frame(shown))

	// --yes asks nothing, so the table is not put on the screen.
	p = &taskstest.Prompter{Terminal: true}
	r = run(t, &Backups{}, "backups", home, nil, p, screen80x24, func(e *tasks.Env) { e.Yes = true })
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := p.Printed(); len(got) != 0 {
		t.Errorf("--yes showed %q", got)
	}
	if !strings.Contains(r.Log, "very-long-configuration-file-name-37") {
		t.Error("--yes: the table is not in the log")
	}
}

// Caches with long paths and big sizes: paths cut in the middle, sizes
// and file counts whole, the total row kept.
func TestCachesTableFitsTheTerminal(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home")
	var paths []any
	for i := range 14 {
		p := filepath.Join(home, ".cache", fmt.Sprintf("some-tool-with-a-long-name-%02d", i), "and", "a", "deep", "cache", "folder")
		taskstest.File(t, filepath.Join(p, "blob"), int64(1000*(i+1)))
		paths = append(paths, "~"+strings.TrimPrefix(p, home))
	}
	p := &taskstest.Prompter{Terminal: true}
	r := run(t, &Caches{}, "caches", home, map[string]any{"paths": paths}, p, screen80x24, func(e *tasks.Env) { e.DryRun = true })
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	shown := printed(t, p)
	if !strings.Contains(shown, "total") || !strings.Contains(shown, "(all in the log)") {
		t.Errorf("the table lost its total or was not shortened:\n%s", shown)
	}
	checkFrame(t, "caches", frame(shown))
}

// Implemented sessions of projects with Claude's long folder names.
func TestSessionsTableFitsTheTerminal(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home")
	for i := range 20 {
		log := filepath.Join(home, ".claude/projects", fmt.Sprintf("-home-someone-src-github.com-example-a-project-with-a-long-name-%02d", i),
			fmt.Sprintf("0b6e1f2a-4c3d-4e5f-8a9b-%012d.jsonl", i))
		taskstest.WriteFile(t, log, strings.Repeat("x", 1000*(i+1)))
		taskstest.WriteFile(t, log+".lifecycle.json", `{"lifecycle_stage": "implemented", "implemented_at": "2025-01-20T10:00:00Z"}`)
	}
	p := &taskstest.Prompter{Terminal: true}
	r := run(t, &Sessions{}, "sessions", home, nil, p, screen80x24, func(e *tasks.Env) { e.DryRun = true })
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	checkFrame(t, "sessions", frame(printed(t, p)))
}
