package housekeeping

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

const mb = 1 << 20 // the thresholds' defaults are in MiB

// plantDisk builds a home with, for every threshold of PHASES.md phase 10,
// a file just over it (found) and one just under it (missed), plus the
// depth and skip cases. It returns the ~ paths that must be reported and
// those that must not.
func plantDisk(t *testing.T, home string) (found, missed []string) {
	plant := func(list *[]string, rel string, size int64) {
		taskstest.File(t, filepath.Join(home, rel), size)
		*list = append(*list, "~/"+rel)
	}
	// *.log over 100 MiB under ~, depth 4.
	plant(&found, "top.log", 100*mb+1)
	plant(&found, "a/b/c/four-deep.log", 100*mb+1)
	plant(&missed, "a/b/c/under.log", 100*mb-1)
	plant(&missed, "a/b/c/exactly.log", 100*mb)
	plant(&missed, "a/b/c/d/five-deep.log", 100*mb+1)
	plant(&missed, "a/b/c/not-a.log.txt", 100*mb+1)
	// Session *.jsonl over 5 MiB under ~/.claude/projects, any depth.
	plant(&found, ".claude/projects/p1/over.jsonl", 5*mb+1)
	plant(&found, ".claude/projects/p1/sub/agents/deep.jsonl", 5*mb+1)
	plant(&missed, ".claude/projects/p1/under.jsonl", 5*mb-1)
	// *.json over 1 MiB under ~/.config and ~/.claude, depth 3, skipping
	// IndexedDB and browser profiles.
	plant(&found, ".config/app/sub/over.json", 1*mb+1)
	plant(&found, ".claude/big-settings.json", 1*mb+1)
	plant(&missed, ".config/app/sub/under.json", 1*mb-1)
	plant(&missed, ".config/app/sub/four/deep.json", 1*mb+1)
	plant(&missed, ".config/app/IndexedDB/store.json", 1*mb+1)
	plant(&missed, ".config/google-chrome/Default/Preferences.json", 1*mb+1)
	// *.bak, *.backup, *.old over 1 MiB under ~, depth 3.
	plant(&found, "x/y/file.bak", 1*mb+1)
	plant(&found, "x/y/file.backup", 1*mb+1)
	plant(&found, "x/file.old", 1*mb+1)
	plant(&missed, "x/y/under.bak", 1*mb-1)
	plant(&missed, "x/y/z/four-deep.bak", 1*mb+1)
	plant(&missed, "x/y/file.backup-20250101-000000", 1*mb+1)
	return found, missed
}

func TestDiskFindsEveryThresholdAndMissesJustUnder(t *testing.T) {
	home := t.TempDir()
	found, missed := plantDisk(t, home)
	// Links are not followed: a folder outside with a big log, linked in.
	outside := t.TempDir()
	taskstest.File(t, filepath.Join(outside, "elsewhere.log"), 200*mb)
	taskstest.Symlink(t, outside, filepath.Join(home, "link-out"))
	taskstest.Symlink(t, filepath.Join(home, "top.log"), filepath.Join(home, "link-to.log"))

	r := run(t, &Disk{DiskSize: fixedDisk(1 << 40)}, "disk", home, nil, nil)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, f := range found {
		if !strings.Contains(r.Log, f+"\n") {
			t.Errorf("%s not reported; log:\n%s", f, r.Log)
		}
	}
	for _, m := range append(missed, "elsewhere.log", "link-to.log") {
		if strings.Contains(r.All(), m) {
			t.Errorf("%s reported", m)
		}
	}
	warnings := strings.Join(r.Rep.Warnings, "\n")
	for _, want := range []string{
		"2 log files over 100MiB under ~",
		"2 session logs over 5MiB under ~/.claude/projects",
		"1 JSON file over 1MiB under ~/.config",
		"1 JSON file over 1MiB under ~/.claude,",
		"3 backup files over 1MiB under ~",
		"~/top.log (100 MiB)",
	} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	stats := strings.Join(r.Rep.Stats, "\n")
	for _, want := range []string{"next: rebuild --only=sessions", "next: truncate or rotate", "next: review the old backups", "Claude data: "} {
		if !strings.Contains(stats, want) {
			t.Errorf("stats lack %q:\n%s", want, stats)
		}
	}
}

func TestDiskOptions(t *testing.T) {
	home := t.TempDir()
	plantDisk(t, home)
	opts := map[string]any{"logs_min": "50M", "logs_depth": int64(5), "json_skip": []any{}, "backups_patterns": []any{"*.backup-*"}}
	r := run(t, &Disk{DiskSize: fixedDisk(1 << 40)}, "disk", home, opts, nil)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, want := range []string{"~/a/b/c/d/five-deep.log\n", "~/a/b/c/under.log\n", "~/.config/app/IndexedDB/store.json\n", "~/x/y/file.backup-20250101-000000\n"} {
		if !strings.Contains(r.Log, want) {
			t.Errorf("with options, %q not reported:\n%s", want, r.Log)
		}
	}
	if strings.Contains(r.Log, "~/x/y/file.bak\n") {
		t.Error("backups_patterns did not replace the default patterns")
	}

	for key, bad := range map[string]any{
		"logs_min":       "lots",
		"logs_depth":     int64(0),
		"sessions_min":   true,
		"json_roots":     "~/.config",
		"red_percent":    int64(101),
		"orange_percent": int64(50),
	} {
		r := run(t, &Disk{}, "disk", home, map[string]any{key: bad}, nil)
		if r.Err == nil || !strings.Contains(r.Err.Error(), "task.disk.") || !strings.Contains(r.Err.Error(), "/test/config.toml") {
			t.Errorf("%s = %v: error %v, want one naming the file and the key", key, bad, r.Err)
		}
	}
}

func TestDiskHealthLevels(t *testing.T) {
	const disk = 1000 << 20 // a 1000 MiB disk
	for _, c := range []struct {
		projects, learning, archives int64
		level                        string
		warn                         bool
	}{
		{5 << 20, 0, 0, "green", false},
		{20 << 20, 5 << 20, 0, "yellow", false},
		{30 << 20, 10 << 20, 60 << 20, "orange", false},
		{150 << 20, 10 << 20, 100 << 20, "red", true},
	} {
		t.Run(c.level, func(t *testing.T) {
			home := t.TempDir()
			taskstest.File(t, filepath.Join(home, ".claude/projects/p/s.jsonl"), c.projects)
			taskstest.File(t, filepath.Join(home, ".claude/learning/data.jsonl"), c.learning)
			taskstest.File(t, filepath.Join(home, ".claude/archives/a.tar.gz"), c.archives)
			r := run(t, &Disk{DiskSize: fixedDisk(disk)}, "disk", home, nil, nil)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			stats := strings.Join(r.Rep.Stats, "\n")
			if !strings.Contains(stats, "disk: "+c.level+" (") {
				t.Errorf("stats do not say %s:\n%s", c.level, stats)
			}
			warned := strings.Contains(strings.Join(r.Rep.Warnings, "\n"), "is red")
			if warned != c.warn {
				t.Errorf("red warning = %v, want %v: %q", warned, c.warn, r.Rep.Warnings)
			}
			if c.level != "green" && !strings.Contains(stats, "next: rebuild --only=sessions") {
				t.Errorf("no sessions hint at %s", c.level)
			}
		})
	}
	if HealthLevel(0.99, 1, 5, 20) != Green || HealthLevel(1, 1, 5, 20) != Yellow || HealthLevel(19.9, 1, 5, 20) != Orange || HealthLevel(20, 1, 5, 20) != Red {
		t.Error("HealthLevel boundaries")
	}
}

func TestDiskRealStatfs(t *testing.T) {
	home := t.TempDir()
	taskstest.File(t, filepath.Join(home, ".claude/projects/p/s.jsonl"), 1000)
	r := run(t, &Disk{}, "disk", home, nil, nil)
	if r.Err != nil || !strings.Contains(strings.Join(r.Rep.Stats, "\n"), "disk: green") {
		t.Fatalf("%v %q", r.Err, r.Rep.Stats)
	}
}

func TestDiskReportsUnreadableFolderAndGoesOn(t *testing.T) {
	home := t.TempDir()
	taskstest.File(t, filepath.Join(home, "readable/big.log"), 100*mb+1)
	locked := filepath.Join(home, "locked")
	taskstest.File(t, filepath.Join(locked, "hidden.log"), 100*mb+1)
	var r taskstest.Result
	taskstest.Unreadable(t, locked, func() {
		r = run(t, &Disk{DiskSize: fixedDisk(1 << 40)}, "disk", home, nil, nil)
	})
	if r.Err != nil {
		t.Fatalf("an unreadable folder failed the task: %v", r.Err)
	}
	warnings := strings.Join(r.Rep.Warnings, "\n")
	if !strings.Contains(warnings, "could not read 1 path: ~/locked: permission denied") {
		t.Errorf("warnings %q do not name the unreadable folder", warnings)
	}
	if !strings.Contains(warnings, "~/readable/big.log") {
		t.Errorf("the readable finding is missing: %q", warnings)
	}
	if _, err := os.Stat(filepath.Join(locked, "hidden.log")); err != nil {
		t.Error(err)
	}
}

func TestDiskNothingFound(t *testing.T) {
	home := t.TempDir()
	r := run(t, &Disk{DiskSize: fixedDisk(1 << 40)}, "disk", home, nil, nil)
	if r.Err != nil || len(r.Rep.Warnings) != 0 {
		t.Fatal(r.Err, r.Rep.Warnings)
	}
	stats := strings.Join(r.Rep.Stats, "\n")
	for _, want := range []string{"disk: no oversized files", "Claude data: none found"} {
		if !strings.Contains(stats, want) {
			t.Errorf("stats lack %q: %s", want, stats)
		}
	}
}

func fixedDisk(n int64) func(string) (int64, error) {
	return func(string) (int64, error) { return n, nil }
}
