package demo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
)

func TestEveryAnalyzerHasSomethingToShow(t *testing.T) {
	home := t.TempDir()
	flake := filepath.Join(home, "nixos-config")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	keep := filepath.Join(home, ".claude", "CLAUDE.md")
	os.MkdirAll(filepath.Dir(keep), 0o755)
	os.WriteFile(keep, []byte("# mine\n"), 0o644)
	if err := SeedClaude(home, flake, now); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(keep); string(b) != "# mine\n" {
		t.Error("an existing file was replaced")
	}
	os.Remove(keep)
	if err := SeedClaude(home, flake, now); err != nil {
		t.Fatal(err)
	}
	in := learn.Input{Home: home, Flake: flake, LearningDir: filepath.Join(home, ".claude", "learning"),
		ClaudeJSON: filepath.Join(home, ".claude.json"), ProjectsDir: filepath.Join(home, ".claude", "projects"),
		Now: now, Days: 30, Thresholds: learn.DefaultThresholds, DryRun: true}
	for _, a := range learn.Analyzers() {
		res, err := a.Run(context.Background(), in)
		if err != nil {
			t.Errorf("%s: %v", a.Name, err)
			continue
		}
		if len(res.Suggestions)+len(res.Actions) == 0 {
			t.Errorf("%s: nothing to show (%q)", a.Name, res.Stats)
		}
	}
}
