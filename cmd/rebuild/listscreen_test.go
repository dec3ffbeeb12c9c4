package main

import (
	"bytes"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/internal/golden"
)

var updateScreen = flag.Bool("update-screen", false, "rewrite the golden frames in testdata/screen")

// rebuild list on an 80-column terminal: the edge lists (learn-review
// comes after seven analyzers) and flags wrap in their columns, task
// names stay whole, no line is wider than 79 columns. Piped, it keeps
// one task a line.
func TestListFitsTheTerminal(t *testing.T) {
	var out, errw bytes.Buffer
	sys := testSystem(t, &out, &errw)
	sys.IO.SetStdoutTTY(true)
	sys.IO.SetTerminalSize(80, 24)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, cfg, "[task.my-own-check-with-a-long-name]\nrun = \"true\"\nafter = [\"activate\", \"claude-config\", \"mcp-analytics\", \"tool-analytics\"]\ngroups = [\"security\", \"nightly\"]\n")
	f := newFactory(sys)
	if err := execute(f, newListCmd(f, nil), "--config", cfg); err != nil {
		t.Fatalf("%v\n%s", err, errw.String())
	}
	got := out.String()
	golden.Frame(t, filepath.Join("testdata", "screen", "list-80.golden"), got, 80, 0, *updateScreen, "-update-screen")
	for _, name := range []string{"learn-cross-project", "my-own-check-with-a-long-name", "learn-instructions"} {
		if !strings.Contains(got, " "+name+" ") {
			t.Errorf("the task name %s is not whole:\n%s", name, got)
		}
	}
	// Piped: one line a task, the AFTER list whole.
	out.Reset()
	sys.IO.SetStdoutTTY(false)
	if err := execute(f, newListCmd(f, nil), "--config", cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "learn-permissions,learn-mcp,learn-context,learn-workflows,learn-instructions,learn-cross-project,learn-meta") {
		t.Errorf("piped, the edge list is not whole on its line:\n%s", out.String())
	}
}
