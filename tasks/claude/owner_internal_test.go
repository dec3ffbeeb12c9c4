package claude

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// nobody is the user whose home a root run writes in.
const nobody = 65534

func ownerOf(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// Run as root in a user's home, every file the Claude tasks write —
// rewritten in place, created new, created exclusively, appended to — and
// every folder they create belongs to that user afterwards, so the user's
// next run can write them again.
func TestRootWritesKeepTheUsersOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	home := t.TempDir()
	os.Chmod(home, 0o755)
	claudeDir := filepath.Join(home, ".claude")
	os.Mkdir(claudeDir, 0o755)
	existing := filepath.Join(claudeDir, "CLAUDE.md")
	os.WriteFile(existing, []byte("# mine\n"), 0o644)
	if err := filepath.Walk(home, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	}); err != nil {
		t.Fatal(err)
	}

	if err := fsutil.WriteAtomic(existing, []byte("# rewritten\n")); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(claudeDir, "reports", "learn", "report.md")
	if err := writeFileAtomic(report, []byte("report\n")); err != nil {
		t.Fatal(err)
	}
	skill := filepath.Join(claudeDir, "skills", "new", "SKILL.md")
	if err := createExclusive(skill, []byte("skill\n")); err != nil {
		t.Fatal(err)
	}
	history := filepath.Join(claudeDir, "learn", "rejections.jsonl")
	if err := jsonl.Append(history, map[string]string{"id": "x"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{existing, report, filepath.Dir(report), filepath.Join(claudeDir, "reports"),
		skill, filepath.Dir(skill), history, filepath.Dir(history)} {
		if u := ownerOf(t, p); u != nobody {
			t.Errorf("%s belongs to uid %d, want %d", p, u, nobody)
		}
	}
}
