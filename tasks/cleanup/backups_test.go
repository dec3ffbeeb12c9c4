package cleanup

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// backupHome plants the backup folders of PHASES.md phase 13 with files
// of known ages (relative to testNow) and the files that must never be
// touched. Paths returned are relative to base.
func backupHome(t *testing.T) (base, home string) {
	base = t.TempDir()
	home = filepath.Join(base, "home")
	flake := filepath.Join(home, "nixos-config")
	plant := func(path string, ageDays float64) {
		taskstest.WriteFile(t, path, strings.Repeat("b", 100))
		at := testNow.Add(-time.Duration(ageDays * 24 * float64(time.Hour)))
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	plant(filepath.Join(flake, ".backups/CLAUDE.md.backup-20250101-000000"), 30)
	plant(filepath.Join(flake, ".backups/CLAUDE.md.backup-20250110-000000"), 20)
	plant(filepath.Join(flake, ".backups/CLAUDE.md.backup-20250120-000000"), 10)
	plant(filepath.Join(flake, ".backups/CLAUDE.md.backup-20250131-000000"), 1)
	plant(filepath.Join(flake, ".backups/settings.json.backup-20250101-000000"), 30)
	plant(filepath.Join(flake, ".claude/.backups/settings.local.json.backup-20250115-000000"), 17)
	plant(filepath.Join(home, ".claude/.backups/CLAUDE-USER-POLICIES.md.backup-20250130-000000"), 2)
	// Never touched: not named *.backup-*, not a regular file, not
	// directly in a backup folder, or outside every backup folder.
	plant(filepath.Join(flake, ".backups/README.md"), 100)
	plant(filepath.Join(flake, ".backups/notes.backup"), 100)
	plant(filepath.Join(flake, ".backups/.backup-"), 100)
	plant(filepath.Join(flake, ".backups/sub/old.md.backup-20240101"), 100)
	plant(filepath.Join(flake, "CLAUDE.md.backup-20240101"), 100)
	plant(filepath.Join(base, "outside/secret.backup-1"), 100)
	if err := os.Symlink(filepath.Join(base, "outside/secret.backup-1"), filepath.Join(flake, ".backups/link.backup-1")); err != nil {
		t.Fatal(err)
	}
	return base, home
}

const (
	bkFlake = "home/nixos-config/.backups/"
	bkB0101 = bkFlake + "CLAUDE.md.backup-20250101-000000"
	bkB0110 = bkFlake + "CLAUDE.md.backup-20250110-000000"
	bkB0120 = bkFlake + "CLAUDE.md.backup-20250120-000000"
	bkB0131 = bkFlake + "CLAUDE.md.backup-20250131-000000"
	bkSet   = bkFlake + "settings.json.backup-20250101-000000"
	bkLocal = "home/nixos-config/.claude/.backups/settings.local.json.backup-20250115-000000"
	bkUser  = "home/.claude/.backups/CLAUDE-USER-POLICIES.md.backup-20250130-000000"
)

func TestBackupsChoices(t *testing.T) {
	all := []string{bkB0101, bkB0110, bkB0120, bkB0131, bkSet, bkLocal, bkUser}
	older := []string{bkB0101, bkB0110, bkB0120, bkSet, bkLocal}
	for name, c := range map[string]struct {
		p       *taskstest.Prompter
		opts    map[string]any
		yes     bool
		outcome string
		gone    []string
	}{
		"answer all":               {&taskstest.Prompter{Terminal: true, Answers: []any{'a'}}, nil, false, "succeeded", all},
		"answer older":             {&taskstest.Prompter{Terminal: true, Answers: []any{'o'}}, nil, false, "succeeded", older},
		"answer keep newest 3":     {&taskstest.Prompter{Terminal: true, Answers: []any{'k'}}, nil, false, "succeeded", []string{bkB0101}},
		"answer skip":              {&taskstest.Prompter{Terminal: true, Answers: []any{'s'}}, nil, false, "declined: kept 7 backups", nil},
		"no terminal":              {&taskstest.Prompter{}, nil, false, "skipped: no terminal: kept 7 backups", nil},
		"--yes: older than 7 days": {&taskstest.Prompter{}, nil, true, "succeeded", older},
		"older_than_days = 15":     {&taskstest.Prompter{}, map[string]any{"older_than_days": int64(15)}, true, "succeeded", []string{bkB0101, bkB0110, bkSet, bkLocal}},
		"policy keep, keep = 1":    {&taskstest.Prompter{}, map[string]any{"policy": "keep", "keep": int64(1)}, false, "succeeded", []string{bkB0101, bkB0110, bkB0120}},
		"policy all":               {&taskstest.Prompter{}, map[string]any{"policy": "all"}, false, "succeeded", all},
		"policy skip":              {&taskstest.Prompter{Terminal: true}, map[string]any{"policy": "skip"}, true, "skipped: policy", nil},
		"nothing old enough":       {&taskstest.Prompter{}, map[string]any{"policy": "older", "older_than_days": int64(90)}, false, "skipped: no backups to delete (older than 90 days)", nil},
		"one folder configured":    {&taskstest.Prompter{}, map[string]any{"dirs": []any{"~/.claude/.backups"}, "policy": "all"}, false, "succeeded", []string{bkUser}},
	} {
		t.Run(name, func(t *testing.T) {
			base, home := backupHome(t)
			before := taskstest.Listing(t, base)
			r := run(t, &Backups{}, "backups", home, c.opts, c.p, func(e *tasks.Env) { e.Yes = c.yes })
			if !strings.HasPrefix(r.Outcome(), c.outcome) {
				t.Fatalf("%s, want %s\n%s", r.Outcome(), c.outcome, r.Log)
			}
			if got, want := taskstest.Listing(t, base), taskstest.Without(before, c.gone...); !slices.Equal(got, want) {
				t.Fatalf("files:\n%s", taskstest.Diff(got, want))
			}
			if !c.p.Terminal && len(c.p.Asked()) != 0 {
				t.Errorf("asked without a terminal: %q", c.p.Asked())
			}
			if c.gone != nil {
				if want := "deleted " + text.Plural(len(c.gone), "backup", "backups") + ", freed "; len(r.Rep.Actions) != 1 || !strings.HasPrefix(r.Rep.Actions[0], want) {
					t.Errorf("actions %q, want %q…", r.Rep.Actions, want)
				}
			}
		})
	}
}

func TestBackupsShowsWhatEachChoiceDeletes(t *testing.T) {
	_, home := backupHome(t)
	p := &taskstest.Prompter{Terminal: true, Answers: []any{'s'}}
	run(t, &Backups{}, "backups", home, nil, p)
	if len(p.Printed()) != 1 {
		t.Fatalf("shown %q", p.Printed())
	}
	table := p.Printed()[0]
	for _, row := range []string{
		`~/nixos-config/.backups/CLAUDE.md.backup-20250101-000000 +30 d +100 B +a o k`,
		`~/nixos-config/.backups/CLAUDE.md.backup-20250131-000000 +24 h +100 B +a`,
		`~/.claude/.backups/CLAUDE-USER-POLICIES.md.backup-20250130-000000 +2 d +100 B +a`,
		`goes with: a = all, o = older than 7 days, k = keep the newest 3 of each file`,
	} {
		if !regexp.MustCompile(row).MatchString(table) {
			t.Errorf("table lacks %q:\n%s", row, table)
		}
	}
	for _, never := range []string{"README.md", "notes.backup", "link.backup-1", "sub/", "secret"} {
		if strings.Contains(table, never) {
			t.Errorf("table offers %s:\n%s", never, table)
		}
	}
	if len(p.Asked()) != 1 || p.Asked()[0] != "Which backups should go?" {
		t.Errorf("asked %q", p.Asked())
	}
}

func TestBackupsDryRunListsExactlyWhatTheRunDeletes(t *testing.T) {
	base, home := backupHome(t)
	before := taskstest.Listing(t, base)
	dry := run(t, &Backups{}, "backups", home, nil, &taskstest.Prompter{}, func(e *tasks.Env) { e.DryRun = true })
	if dry.Err != nil {
		t.Fatal(dry.Err)
	}
	if got := taskstest.Listing(t, base); !slices.Equal(got, before) {
		t.Fatalf("the dry run deleted:\n%s", taskstest.Diff(got, before))
	}
	real := run(t, &Backups{}, "backups", home, nil, &taskstest.Prompter{}, func(e *tasks.Env) { e.Yes = true })
	if real.Err != nil {
		t.Fatal(real.Err)
	}
	pick := func(re, log string) []string {
		var out []string
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(log, -1) {
			out = append(out, m[1])
		}
		return out
	}
	would, did := pick(`(?m)^would delete (~\S+) `, dry.Log), pick(`(?m)^deleted (~\S+) `, real.Log)
	if len(would) != 5 || !slices.Equal(would, did) {
		t.Errorf("dry run listed %q, the run deleted %q", would, did)
	}
}

func TestBackupsRefusesHomeAndRoot(t *testing.T) {
	for _, dir := range []string{"~", "/", "~/"} {
		base, home := backupHome(t)
		taskstest.WriteFile(t, filepath.Join(home, "x.backup-1"), "in home itself")
		before := taskstest.Listing(t, base)
		r := run(t, &Backups{}, "backups", home, map[string]any{"dirs": []any{dir}, "policy": "all"}, &taskstest.Prompter{})
		if r.Err == nil || !strings.Contains(r.Err.Error(), "task.backups.dirs") || !strings.Contains(r.Err.Error(), "nothing was deleted") {
			t.Errorf("dirs = [%q]: %s", dir, r.Outcome())
		}
		if got := taskstest.Listing(t, base); !slices.Equal(got, before) {
			t.Fatalf("dirs = [%q] deleted:\n%s", dir, taskstest.Diff(got, before))
		}
	}
}

func TestBackupsBadOptions(t *testing.T) {
	_, home := backupHome(t)
	for key, bad := range map[string]any{"policy": "newest", "older_than_days": int64(-1), "keep": "3", "dirs": "~/.backups"} {
		r := run(t, &Backups{}, "backups", home, map[string]any{key: bad}, &taskstest.Prompter{})
		if r.Err == nil || !strings.Contains(r.Err.Error(), "task.backups."+key) {
			t.Errorf("%s = %v: %s", key, bad, r.Outcome())
		}
	}
}

func TestBackupsNone(t *testing.T) {
	r := run(t, &Backups{}, "backups", t.TempDir(), nil, &taskstest.Prompter{Terminal: true})
	if !strings.HasPrefix(r.Outcome(), "skipped: no backups in ~/nixos-config/.backups, ~/nixos-config/.claude/.backups, ~/.claude/.backups") {
		t.Error(r.Outcome())
	}
}

// The folders under the flake may be outside the home (the flake may be
// /etc/nixos) only while they really are under the flake: with
// <flake>/.claude a link to a folder outside the home, its .backups is
// not cleaned under --yes, and a warning says why; the other folders
// are. A link to a folder inside the home is cleaned as before.
func TestBackupsUnderTheFlakeOnlyOnceResolved(t *testing.T) {
	for _, c := range []struct {
		name    string
		target  func(base, home string) string
		cleaned bool
	}{
		{"link out of the home", func(base, _ string) string { return filepath.Join(base, "elsewhere", "claude") }, false},
		{"link into the home", func(_, home string) string { return filepath.Join(home, "dotfiles", "claude") }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, home := backupHome(t)
			dotClaude := filepath.Join(home, "nixos-config", ".claude")
			target := c.target(base, home)
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(dotClaude, target); err != nil {
				t.Fatal(err)
			}
			taskstest.Symlink(t, target, dotClaude)
			before := taskstest.Listing(t, base)
			r := run(t, &Backups{}, "backups", home, nil, &taskstest.Prompter{}, func(e *tasks.Env) { e.Yes = true })
			if r.Err != nil {
				t.Fatalf("%s\n%s", r.Outcome(), r.Log)
			}
			gone := []string{bkB0101, bkB0110, bkB0120, bkSet}
			moved, _ := filepath.Rel(base, filepath.Join(target, ".backups", "settings.local.json.backup-20250115-000000"))
			if c.cleaned {
				gone = append(gone, moved)
			}
			if got, want := taskstest.Listing(t, base), taskstest.Without(before, gone...); !slices.Equal(got, want) {
				t.Fatalf("files:\n%s", taskstest.Diff(got, want))
			}
			w := strings.Join(r.Rep.Warnings, "\n")
			if warned := strings.Contains(w, "~/nixos-config/.claude/.backups") && strings.Contains(w, "outside the flake"); warned == c.cleaned {
				t.Errorf("warnings %q", w)
			}
		})
	}
}

// A backup's name is shown escaped in the table, the log and the
// summary: a name holding an OSC and a clear-screen sequence sets no
// title and clears nothing; it reads as what it is.
func TestBackupsShowsNamesEscaped(t *testing.T) {
	_, home := backupHome(t)
	hostile := "x\x1b]0;PWNED\x07\x1b[2J\x9b2J.md.backup-1"
	taskstest.WriteFile(t, filepath.Join(home, ".claude/.backups", hostile), "b")
	p := &taskstest.Prompter{Terminal: true, Answers: []any{'a'}}
	r := run(t, &Backups{}, "backups", home, nil, p)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if _, err := os.Stat(filepath.Join(home, ".claude/.backups", hostile)); !os.IsNotExist(err) {
		t.Errorf("the backup with the odd name is still there: %v", err)
	}
	shown := strings.Join(p.Printed(), "\n")
	everything := shown + r.Log + strings.Join(append(append(r.Rep.Actions, r.Rep.Warnings...), r.Rep.Stats...), "\n")
	if strings.ContainsAny(everything, "\x1b\x07") || strings.Contains(everything, "\x9b") {
		t.Errorf("a raw control character is shown:\n%q", everything)
	}
	if want := `~/.claude/.backups/x\x1b]0;PWNED\a\x1b[2J\x9b2J.md.backup-1`; !strings.Contains(shown, want) {
		t.Errorf("the table does not show the name escaped as %s:\n%s", want, shown)
	}
}
