package tasks_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rebuild-nixos/rebuild/internal/golden"
	"github.com/rebuild-nixos/rebuild/internal/table"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The one cleanup plan of generations, 14 caches with long paths and 38
// backups, as an 80×24 terminal shows it (the question block indents it
// by two): every line at most 79 columns, sizes whole, the first lines
// and "… N more (all in the log)", the total; the log has every line.
func TestCleanupPlanFitsTheTerminal(t *testing.T) {
	gens := tasks.CleanupPlan{Title: "system generations"}
	for g := 1; g <= 6; g++ {
		gens.Lines = append(gens.Lines, tasks.CleanupLine{Label: fmt.Sprintf("generation %d (2025-01-%02d)", g, g), Bytes: int64(g) << 30,
			Goes: g < 5, Fixed: g == 6, Reason: map[bool]string{true: "older than the newest 2", false: "current, booted: always kept"}[g < 5]})
	}
	caches := tasks.CleanupPlan{Title: "tool caches"}
	for i := range 14 {
		caches.Lines = append(caches.Lines, tasks.CleanupLine{Label: fmt.Sprintf("~/.cache/some-tool-with-a-long-name-%02d/and/a/deep/cache/folder", i),
			Bytes: int64(i+1) * 123456789, Goes: true, Reason: "a cache, refilled on demand (1234 files; remove contents)"})
	}
	backups := tasks.CleanupPlan{Title: "backups"}
	for i := range 38 {
		backups.Lines = append(backups.Lines, tasks.CleanupLine{Label: fmt.Sprintf("~/nixos-config/.backups/very-long-configuration-file-name-%02d.nix.backup-20250101-000000", i),
			Bytes: int64(i+1) * 1000, Goes: i%2 == 0, Reason: "older than 7 days"})
	}
	b := tasks.NewCleanupBoard("generations", "caches", "backups")
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{'n'}}
	logs := map[string]*taskstest.Buffer{}
	var wg sync.WaitGroup
	for name, plan := range map[string]tasks.CleanupPlan{"generations": gens, "caches": caches, "backups": backups} {
		env := tasks.NewEnv(name, nil, nil)
		env.Prompt, env.Cleanup = p, b
		env.Screen = func() (int, int) { return 80, 24 }
		logs[name] = &taskstest.Buffer{}
		env.Log = logs[name]
		wg.Go(func() {
			if _, err := env.Cleanup.Submit(context.Background(), env, plan); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	wg.Wait()
	shown := p.Printed()
	if len(shown) != 1 {
		t.Fatalf("shown %q, want the plan once", shown)
	}
	var fr strings.Builder
	for _, l := range strings.Split(shown[0], "\n") {
		fr.WriteString(strings.TrimRight("  "+l, " ") + "\n")
	}
	got := fr.String()
	golden.Frame(t, filepath.Join("testdata", "cleanup-plan-80x24.golden"), got, 80, 24, *update, "-update")
	if !strings.Contains(got, "(all in the log)") || !strings.Contains(got, "total: 37 items to go") {
		t.Errorf("not shortened, or the total is lost:\n%s", got)
	}
	var all string
	for _, l := range logs {
		all += l.String()
	}
	if !strings.Contains(all, "very-long-configuration-file-name-37.nix.backup-20250101-000000") {
		t.Error("the log does not have the whole plan")
	}
	// Laid out for no width, it is the table as it was: as wide as its cells.
	if full := tasks.CleanupTable([]tasks.CleanupPlan{caches}); strings.Contains(full, "…") || !strings.Contains(full, "some-tool-with-a-long-name-13/and/a/deep/cache/folder") {
		t.Errorf("CleanupTable cut something:\n%s", full)
	}
	_ = table.More
}
