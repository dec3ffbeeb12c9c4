package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// End-to-end tests of the housekeeping tasks (disk, caches, sessions,
// backups): each builds a real tree under a temporary HOME, runs the
// rebuild binary, and checks the file system afterwards.

// hkSandbox is a world (harness_test.go) whose HOME holds a tree the
// housekeeping tasks act on, with a flake directory and a config file. The
// run's state and logs go to dir/state, outside the home, so a listing of
// the tree sees only what the tasks did.
type hkSandbox struct {
	t                     *testing.T
	w                     *world
	dir, home, flake, cfg string
}

// newHK makes a sandbox whose config holds extra after the top-level keys.
// Its profile does not exist, so generations (when selected) finds no
// generation and touches nothing.
func newHK(t *testing.T, extra string) *hkSandbox {
	t.Helper()
	w := newWorld(t, t.TempDir())
	w.cfg = filepath.Join(w.dir, "cfg.toml")
	s := &hkSandbox{t: t, w: w, dir: w.dir, home: w.home, flake: filepath.Join(w.dir, "flake"), cfg: w.cfg}
	for _, d := range []string{s.home, s.flake, filepath.Join(s.dir, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, s.cfg, fmt.Sprintf("flake = %q\nprofile = %q\nelevate = \"none\"\n", s.flake, filepath.Join(s.dir, "no-profile"))+extra)
	return s
}

// path resolves rel against the home directory (an absolute path stays).
func (s *hkSandbox) path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(s.home, rel)
}

// put writes a file (rel to the home) holding text and, when size is
// larger, grown sparse to size bytes; it returns the file's path.
func (s *hkSandbox) put(rel, text string, size int64) string {
	s.t.Helper()
	p := s.path(rel)
	writeFile(s.t, p, text)
	if size > int64(len(text)) {
		if err := os.Truncate(p, size); err != nil {
			s.t.Fatal(err)
		}
	}
	return p
}

// age sets a file's modification time to d ago.
func (s *hkSandbox) age(rel string, d time.Duration) {
	s.t.Helper()
	when := time.Now().Add(-d)
	if err := os.Chtimes(s.path(rel), when, when); err != nil {
		s.t.Fatal(err)
	}
}

func (s *hkSandbox) symlink(target, rel string) {
	s.t.Helper()
	p := s.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		s.t.Fatal(err)
	}
}

// run runs rebuild with args and --output json, its stdin /dev/null (no
// terminal), and returns its events.
func (s *hkSandbox) run(args ...string) jsonRun {
	s.t.Helper()
	return s.w.runJSON(nil, nil, args...)
}

// hkNobody is the user a run drops to when the test runs as root.
const hkNobody = 65534

// asNobody makes the sandbox's runs happen as the user nobody when the
// test runs as root, who reads a mode-000 folder anyway: the tree is given
// to nobody, the folders above it opened for passing through, and the
// binary linked inside it. As any other user it does nothing. Call it once
// the tree is built, before locking folders.
func (s *hkSandbox) asNobody() {
	s.t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	src, err := exec.LookPath("rebuild")
	if err != nil {
		s.t.Fatal(err)
	}
	bin := filepath.Join(s.dir, "bin", "rebuild")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Link(src, bin); err != nil {
		data, err := os.ReadFile(src)
		if err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			s.t.Fatal(err)
		}
	}
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm()&0o001 == 0 {
		s.t.Skipf("the test binary is not executable by others (%v): cannot run rebuild as nobody", err)
	}
	err = filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == bin {
			return nil
		}
		return os.Lchown(p, hkNobody, hkNobody)
	})
	if err != nil {
		s.t.Fatal(err)
	}
	for d := filepath.Dir(s.dir); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			s.t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				s.t.Fatal(err)
			}
		}
	}
	s.w.bin, s.w.uid = bin, hkNobody
}

// lock makes the folder rel unreadable (mode 000) until the test ends.
func (s *hkSandbox) lock(rel string) {
	s.t.Helper()
	p := s.path(rel)
	if err := os.Chmod(p, 0); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = os.Chmod(p, 0o755) })
}

// hkTree lists every path below root (relative to it), each with what
// shows it changed: its type and permissions, and for a file its size,
// modification time and (when small) content digest, for a link its
// target. Folders' own times are left out: removing an entry changes its
// folder's. skip names top-level entries not listed.
func hkTree(t *testing.T, root string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil {
			out[rel] = "unreadable: " + err.Error()
			return nil
		}
		if p == root {
			return nil
		}
		if slices.Contains(skip, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case fi.Mode().IsRegular():
			desc += fmt.Sprintf(" %d bytes, mtime %d", fi.Size(), fi.ModTime().UnixNano())
			if fi.Size() <= 64<<10 {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				desc += fmt.Sprintf(", sha256 %x", sha256.Sum256(b))
			}
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tree lists the sandbox (home, flake and the rest) without the run's
// state, config and binary.
func (s *hkSandbox) tree() map[string]string {
	return hkTree(s.t, s.dir, "state", "bin", "cfg.toml")
}

// rel is p relative to the sandbox, as tree lists it.
func (s *hkSandbox) rel(p string) string {
	r, err := filepath.Rel(s.dir, s.path(p))
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// expectGone checks that between the listings before and after exactly the
// paths gone (relative to the home, or absolute; a folder with everything
// in it) disappeared, and that nothing else changed or appeared except
// the paths in added (and what is below them).
func (s *hkSandbox) expectGone(before, after map[string]string, gone []string, added ...string) {
	s.t.Helper()
	under := func(p string, list []string) bool {
		return slices.ContainsFunc(list, func(g string) bool {
			r := s.rel(g)
			return p == r || strings.HasPrefix(p, r+"/")
		})
	}
	for _, g := range gone {
		if _, ok := before[s.rel(g)]; !ok {
			s.t.Errorf("the test expects %s to go, but it was never there", g)
		}
	}
	keys := slices.Sorted(maps.Keys(before))
	for p := range after {
		if _, ok := before[p]; !ok {
			keys = append(keys, p)
		}
	}
	slices.Sort(keys)
	for _, p := range keys {
		b, wasThere := before[p]
		a, isThere := after[p]
		switch {
		case wasThere && !isThere && !under(p, gone):
			s.t.Errorf("deleted, and it should not have been: %s (%s)", p, b)
		case wasThere && isThere && under(p, gone):
			s.t.Errorf("still there, and it should have gone: %s", p)
		case wasThere && isThere && a != b:
			s.t.Errorf("changed: %s\n  before: %s\n  after:  %s", p, b, a)
		case !wasThere && isThere && !under(p, added):
			s.t.Errorf("appeared: %s (%s)", p, a)
		}
	}
}

// hkHas reports whether some line of list contains every one of parts.
func hkHas(list []string, parts ...string) bool {
	for _, l := range list {
		ok := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- disk

// Every threshold of disk finds the file planted just over it and misses
// the one exactly at it (a file is reported when strictly larger); depths
// count like find's -maxdepth, so a big log four levels down is reported
// and one five levels down is not; JSON files in browser profiles and
// IndexedDB are not. The files are sparse.
func TestHousekeepingDiskThresholds(t *testing.T) {
	const MiB = 1 << 20
	s := newHK(t, "")
	found := map[string]string{} // rel → the finding's kind, as the warning names it
	missed := []string{}
	plant := func(rel string, size int64, kind string) {
		s.put(rel, "", size)
		if kind != "" {
			found[rel] = kind
		} else {
			missed = append(missed, rel)
		}
	}
	// *.log over 100 MiB under ~, at most 4 deep.
	plant("d1/d2/d3/over.log", 100*MiB+1, "log file")
	plant("d1/d2/d3/at.log", 100*MiB, "")
	plant("d1/d2/d3/d4/deep.log", 150*MiB, "")
	plant("d1/d2/d3/big.txt", 150*MiB, "")
	// session *.jsonl over 5 MiB under ~/.claude/projects, at any depth.
	plant(".claude/projects/-home-me-app/over.jsonl", 5*MiB+1, "session log")
	plant(".claude/projects/-home-me-app/at.jsonl", 5*MiB, "")
	plant(".claude/projects/-home-me-app/sub/agents/deep/over.jsonl", 5*MiB+1, "session log")
	// *.json over 1 MiB under ~/.config and ~/.claude, at most 3 deep,
	// not in IndexedDB or a browser profile.
	plant(".config/app/over.json", 1*MiB+1, "JSON file")
	plant(".config/app/at.json", 1*MiB, "")
	plant(".config/a/b/three.json", 1*MiB+1, "JSON file")
	plant(".config/a/b/c/four.json", 1*MiB+1, "")
	plant(".config/google-chrome/Default/prefs.json", 2*MiB, "")
	plant(".config/app/IndexedDB/db.json", 2*MiB, "")
	plant(".claude/over.json", 1*MiB+1, "JSON file")
	// *.bak, *.backup, *.old over 1 MiB under ~, at most 3 deep.
	plant("old/over.bak", 1*MiB+1, "backup file")
	plant("old/over.backup", 1*MiB+1, "backup file")
	plant("old/over.old", 1*MiB+1, "backup file")
	plant("old/at.bak", 1*MiB, "")
	plant("x/y/z/four.bak", 2*MiB, "")
	before := s.tree()

	r := s.run("--only=disk")
	f := r.mustFinish(t, "disk")
	if f.State != "succeeded" || r.code != 0 {
		t.Fatalf("disk %s (%s), exit %d\n%s", f.State, f.Reason, r.code, r)
	}
	log := r.taskLog(t, "disk")
	for rel, kind := range found {
		if !hkHas(f.Warnings, kind, "~/"+rel+" (") {
			t.Errorf("no %s warning names ~/%s", kind, rel)
		}
		if !strings.Contains(log, "~/"+rel+"\n") {
			t.Errorf("the log does not list ~/%s", rel)
		}
	}
	for _, rel := range missed {
		if hkHas(f.Warnings, "~/"+rel) || strings.Contains(log, "~/"+rel) {
			t.Errorf("~/%s is reported, and it is not over its threshold or is out of reach", rel)
		}
	}
	for _, want := range []string{"1 log file over 100MiB under ~", "2 session logs over 5MiB under ~/.claude/projects",
		"2 JSON files over 1MiB under ~/.config", "1 JSON file over 1MiB under ~/.claude", "3 backup files over 1MiB under ~"} {
		if !hkHas(f.Warnings, want) {
			t.Errorf("no warning says %q", want)
		}
	}
	for _, want := range []string{"Claude data: ", "disk: searched ", "next: truncate or rotate"} {
		if !hkHas(f.Stats, want) {
			t.Errorf("no statistic says %q", want)
		}
	}
	if t.Failed() {
		t.Logf("warnings:\n  %s\nstats:\n  %s\nlog:\n%s", strings.Join(f.Warnings, "\n  "), strings.Join(f.Stats, "\n  "), log)
	}
	s.expectGone(before, s.tree(), nil) // read-only
}

// The Claude data health level follows [task.disk]'s percentages; only
// red is a warning.
func TestHousekeepingDiskHealthLevels(t *testing.T) {
	for _, c := range []struct {
		yellow, orange, red int
		level               string
	}{
		{100, 100, 100, "green"},
		{0, 100, 100, "yellow"},
		{0, 0, 100, "orange"},
		{0, 0, 0, "red"},
	} {
		t.Run(c.level, func(t *testing.T) {
			s := newHK(t, fmt.Sprintf("[task.disk]\nyellow_percent = %d\norange_percent = %d\nred_percent = %d\n", c.yellow, c.orange, c.red))
			s.put(".claude/projects/p/s.jsonl", "{}\n", 2<<20)
			f := s.run("--only=disk").mustFinish(t, "disk")
			if f.State != "succeeded" {
				t.Fatalf("disk %s (%s)", f.State, f.Reason)
			}
			if !hkHas(f.Stats, "Claude data: ", ": "+c.level+" (") {
				t.Errorf("health is not %s: %q", c.level, f.Stats)
			}
			if red := hkHas(f.Warnings, "Claude data: "); red != (c.level == "red") {
				t.Errorf("health warning %v at %s: %q", red, c.level, f.Warnings)
			}
		})
	}
}

// ---------------------------------------------------------------- caches

// A symlink inside a cache, to a file and to a folder outside it (outside
// the home, and elsewhere in the home, absolute and relative), is removed
// as a link: every target and everything in it is left as it was. The
// cache folder itself stays.
func TestHousekeepingCachesSymlinksLeaveTargets(t *testing.T) {
	s := newHK(t, "[task.caches]\npaths = [\"~/.cache/tool\"]\n")
	outside := filepath.Join(s.dir, "outside")
	s.put(filepath.Join(outside, "secret.txt"), "not a cache\n", 0)
	s.put(filepath.Join(outside, "folder", "a.txt"), "a\n", 0)
	s.put(filepath.Join(outside, "folder", "deep", "b.txt"), "b\n", 0)
	s.put("keep/precious.txt", "mine\n", 0)
	s.put(".cache/tool/data.bin", "cached\n", 3<<20)
	s.put(".cache/tool/sub/inner.bin", "cached\n", 0)
	s.symlink(filepath.Join(outside, "secret.txt"), ".cache/tool/link-file")
	s.symlink(filepath.Join(outside, "folder"), ".cache/tool/link-dir")
	s.symlink("../../../keep", ".cache/tool/sub/link-home")
	s.symlink("../../keep/precious.txt", ".cache/tool/rel-link")
	s.put(".cache/unlisted/x.bin", "not configured\n", 0)
	before := s.tree()

	r := s.run("--only=caches", "--yes")
	f := r.mustFinish(t, "caches")
	if f.State != "succeeded" {
		t.Fatalf("caches %s (%s)\n%s", f.State, f.Reason, r)
	}
	if !hkHas(f.Actions, "freed 3.0 MiB from 1 cache (~/.cache/tool)") {
		t.Errorf("actions %q, want the bytes freed from ~/.cache/tool", f.Actions)
	}
	s.expectGone(before, s.tree(), []string{".cache/tool/data.bin", ".cache/tool/sub", ".cache/tool/link-file", ".cache/tool/link-dir", ".cache/tool/rel-link"})
	if fi, err := os.Lstat(s.path(".cache/tool")); err != nil || !fi.IsDir() {
		t.Errorf("the cache folder itself is gone: %v", err)
	}
}

// A cache path that is ~, /, a folder holding the home, a folder outside
// the home, or a link leading out of it fails the task with an error
// naming task.caches.paths and the reason, before anything is deleted —
// also in the caches listed beside it. A folder outside the home is
// cleaned once it is also in allow_outside_home.
func TestHousekeepingCachesRefusedPaths(t *testing.T) {
	cases := []struct {
		name, path, reason string
		root               bool // "/": a mistake here would empty the machine
	}{
		{"home", "~", "is the home directory itself", false},
		{"root", "/", "is the root of the file system", true},
		{"above home", "<dir>", "contains the home directory", false},
		{"outside home", "<dir>/outside/cache", "is outside the home directory", false},
		{"link out of home", "~/.cache/escape", "is outside the home directory", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newHK(t, "")
			p := strings.ReplaceAll(c.path, "<dir>", s.dir)
			shown := p // as the error names it: expanded, before links are resolved
			if strings.HasPrefix(p, "~") {
				shown = s.home + p[1:]
			}
			writeFile(t, s.cfg, fmt.Sprintf("flake = %q\n[task.caches]\npaths = [\"~/.cache/tool\", %q]\n", s.flake, p))
			s.put(".cache/tool/data.bin", "cached\n", 0)
			s.put("notes.txt", "mine\n", 0)
			s.put(filepath.Join(s.dir, "outside", "cache", "c.bin"), "theirs\n", 0)
			s.symlink(filepath.Join(s.dir, "outside", "cache"), ".cache/escape")
			args := []string{"--only=caches", "--yes"}
			if c.root {
				// Were the refusal ever lost, rebuild would start emptying
				// "/": run it as nobody, who may delete next to nothing,
				// or, not being root, only as a dry run.
				if os.Geteuid() == 0 {
					s.asNobody()
				} else {
					args = []string{"--only=caches", "--dry-run"}
				}
			}
			before := s.tree()
			r := s.run(args...)
			f := r.mustFinish(t, "caches")
			if f.State != "failed" {
				t.Fatalf("caches %s (%s), want failed\n%s", f.State, f.Reason, r)
			}
			for _, want := range []string{"task.caches.paths", "refusing to delete in " + shown, c.reason, "nothing was deleted"} {
				if !strings.Contains(f.Error, want) {
					t.Errorf("error lacks %q: %s", want, f.Error)
				}
			}
			s.expectGone(before, s.tree(), nil)
		})
	}

	t.Run("allowed outside home", func(t *testing.T) {
		s := newHK(t, "")
		out := filepath.Join(s.dir, "outside", "cache")
		writeFile(t, s.cfg, fmt.Sprintf("flake = %q\n[task.caches]\npaths = [\"~/.cache/tool\", %q]\nallow_outside_home = [%q]\n", s.flake, out, out))
		s.put(".cache/tool/data.bin", "cached\n", 0)
		s.put(filepath.Join(out, "c.bin"), "theirs\n", 0)
		s.put(filepath.Join(s.dir, "outside", "beside.txt"), "beside\n", 0)
		before := s.tree()
		r := s.run("--only=caches", "--yes")
		if f := r.mustFinish(t, "caches"); f.State != "succeeded" {
			t.Fatalf("caches %s (%s)\n%s", f.State, f.Reason, r)
		}
		s.expectGone(before, s.tree(), []string{".cache/tool/data.bin", filepath.Join(out, "c.bin")})
	})
}

// ---------------------------------------------------------------- sessions

// hkSidecar is a lifecycle sidecar at stage.
func hkSidecar(stage string) string {
	return fmt.Sprintf(`{"lifecycle_stage": %q, "created_at": "2026-01-02T03:04:05Z", "implemented_at": "2026-01-03T03:04:05Z"}`+"\n", stage)
}

// hkSessions plants session logs and sidecars of every kind under
// ~/.claude/projects and returns those --yes removes: the implemented
// sessions, each log with its sidecar, and the sidecar marked implemented
// whose log is gone.
func hkSessions(s *hkSandbox) []string {
	const p = ".claude/projects/-home-me-app/"
	s.put(p+"done.jsonl", `{"type":"user"}`+"\n", 0)
	s.put(p+"done.jsonl.lifecycle.json", hkSidecar("implemented"), 0)
	s.put(p+"lost.jsonl.lifecycle.json", hkSidecar("implemented"), 0) // its log is gone
	s.put(p+"raw.jsonl", `{"type":"user"}`+"\n", 0)                   // no sidecar: raw
	s.put(p+"mid.jsonl", `{"type":"user"}`+"\n", 0)
	s.put(p+"mid.jsonl.lifecycle.json", hkSidecar("analyzed"), 0)
	s.put(p+"orphan.jsonl.lifecycle.json", hkSidecar("insights_generated"), 0) // lost its log early
	s.put(p+"odd.jsonl", `{"type":"user"}`+"\n", 0)
	s.put(p+"odd.jsonl.lifecycle.json", hkSidecar("archived"), 0) // an unknown stage
	s.put(p+"broken.jsonl", `{"type":"user"}`+"\n", 0)
	s.put(p+"broken.jsonl.lifecycle.json", `{"lifecycle_stage": "implem`, 0)
	s.put(filepath.Join(s.dir, "outside", "session.jsonl"), `{"type":"theirs"}`+"\n", 0)
	s.symlink(filepath.Join(s.dir, "outside", "session.jsonl"), p+"linked.jsonl") // the log is a link
	s.put(p+"linked.jsonl.lifecycle.json", hkSidecar("implemented"), 0)
	s.put(p+"memory/notes.md", "# notes\n", 0)
	s.put(".claude/projects/other/done2.jsonl", `{"type":"user"}`+"\n", 0)
	s.put(".claude/projects/other/done2.jsonl.lifecycle.json", hkSidecar("implemented"), 0)
	s.put(".claude/projects/top.jsonl.lifecycle.json", hkSidecar("implemented"), 0) // not in a project folder
	s.put(".claude/projects/other/sub/deep.jsonl.lifecycle.json", hkSidecar("implemented"), 0)
	s.put(".claude/settings.json", "{}\n", 0)
	return []string{p + "done.jsonl", p + "done.jsonl.lifecycle.json", p + "lost.jsonl.lifecycle.json",
		".claude/projects/other/done2.jsonl", ".claude/projects/other/done2.jsonl.lifecycle.json"}
}

// --yes removes the implemented sessions, log and sidecar together, and a
// sidecar marked implemented whose log is missing; a log without a
// sidecar, a sidecar at an earlier or unknown stage, one that does not
// parse, one whose log is a symlink (and the link's target) all stay,
// with a warning for those that look wrong. With archive = true the same
// files are first packed, checked, into ~/.claude/archives.
func TestHousekeepingSessionsOnlyImplementedGo(t *testing.T) {
	for _, archive := range []bool{false, true} {
		t.Run(fmt.Sprintf("archive=%v", archive), func(t *testing.T) {
			s := newHK(t, fmt.Sprintf("[task.sessions]\narchive = %v\n", archive))
			gone := hkSessions(s)
			contents := map[string]string{}
			for _, g := range gone {
				b, err := os.ReadFile(s.path(g))
				if err != nil {
					t.Fatal(err)
				}
				contents[strings.TrimPrefix(g, ".claude/projects/")] = string(b)
			}
			before := s.tree()
			r := s.run("--only=sessions", "--yes")
			f := r.mustFinish(t, "sessions")
			if f.State != "succeeded" {
				t.Fatalf("sessions %s (%s)\n%s", f.State, f.Reason, r)
			}
			if !hkHas(f.Stats, "sessions: 1 raw · 1 analyzed · 0 insights_generated · 2 implemented") {
				t.Errorf("stats %q, want the counts per stage", f.Stats)
			}
			if !hkHas(f.Actions, "deleted 3 implemented sessions, 5 files") {
				t.Errorf("actions %q", f.Actions)
			}
			for _, w := range []string{"orphan.jsonl.lifecycle.json", "odd.jsonl.lifecycle.json", "broken.jsonl.lifecycle.json", "linked.jsonl.lifecycle.json"} {
				if !hkHas(f.Warnings, w) {
					t.Errorf("no warning names %s: %q", w, f.Warnings)
				}
			}
			var added []string
			if archive {
				added = []string{".claude/archives"}
				names, _ := filepath.Glob(s.path(".claude/archives/sessions-*.tar.gz"))
				if len(names) != 1 {
					t.Fatalf("archives %q, want one", names)
				}
				if got := hkReadTarGz(t, names[0]); !maps.Equal(got, contents) {
					t.Errorf("the archive holds %q, want %q", got, contents)
				}
				if !hkHas(f.Actions, "archived 3 implemented sessions", "into ~/.claude/archives/sessions-") {
					t.Errorf("actions %q", f.Actions)
				}
			}
			s.expectGone(before, s.tree(), gone, added...)
		})
	}
}

// hkReadTarGz returns the regular files in a .tar.gz, name → content.
func hkReadTarGz(t *testing.T, path string) map[string]string {
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
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = string(b)
	}
}

// ---------------------------------------------------------------- backups

// hkBackups plants backups, old and new, and look-alikes under
// ~/.claude/.backups and <flake>/.backups. It returns what --yes removes
// (backups older than 7 days), what keep = 1 removes, and every backup.
func hkBackups(s *hkSandbox) (older, keepOne, all []string) {
	day := 24 * time.Hour
	const b = ".claude/.backups/"
	fb := filepath.Join(s.flake, ".backups") + "/"
	plant := func(rel, text string, age time.Duration) {
		s.put(rel, text, 0)
		s.age(rel, age)
	}
	plant(b+"CLAUDE.md.backup-20260101-000000", "# oldest\n", 30*day)
	plant(b+"CLAUDE.md.backup-20260110-000000", "# old\n", 20*day)
	plant(b+"CLAUDE.md.backup-20261124-000000", "# new\n", day)
	plant(b+"settings.json.backup-20260105-000000", "{}\n", 10*day)
	plant(fb+"flake.nix.backup-20251201-000000", "{ }\n", 40*day)
	plant(fb+"flake.nix.backup-20261125-000000", "{ }\n", time.Hour)
	// Old, and not named *.backup-*, or not a file directly in the folder.
	plant(b+"CLAUDE.md", "# current\n", 30*day)
	plant(b+"CLAUDE.md.backup", "# no suffix\n", 30*day)
	plant(b+"notes.backup-", "nothing after the dash\n", 30*day)
	plant(b+".backup-20200101", "nothing before\n", 30*day)
	plant(b+"CLAUDE.md.bak", "# other scheme\n", 30*day)
	plant(b+"sub/CLAUDE.md.backup-20200101-000000", "# in a subfolder\n", 30*day)
	plant(b+"dir.backup-20200101-000000/inside.txt", "a folder named like a backup\n", 30*day)
	plant(filepath.Join(s.dir, "outside", "target.txt"), "theirs\n", 30*day)
	s.symlink(filepath.Join(s.dir, "outside", "target.txt"), b+"link.backup-20200101-000000")
	plant(fb+"flake.nix", "{ }\n", 40*day)
	plant(filepath.Join(s.flake, "flake.nix.backup-20200101-000000"), "not in .backups\n", 40*day)

	older = []string{b + "CLAUDE.md.backup-20260101-000000", b + "CLAUDE.md.backup-20260110-000000",
		b + "settings.json.backup-20260105-000000", fb + "flake.nix.backup-20251201-000000"}
	keepOne = []string{b + "CLAUDE.md.backup-20260101-000000", b + "CLAUDE.md.backup-20260110-000000",
		fb + "flake.nix.backup-20251201-000000"}
	all = append(slices.Clone(older), b+"CLAUDE.md.backup-20261124-000000", fb+"flake.nix.backup-20261125-000000")
	return older, keepOne, all
}

// Only regular files directly in the backup folders and named *.backup-*
// are ever deleted: with --yes those older than 7 days; with a policy,
// what it picks, without a terminal or --yes. Look-alikes, a symlink named
// like a backup (and its target), and files in subfolders stay.
func TestHousekeepingBackupsOnlyBackupsGo(t *testing.T) {
	cases := []struct {
		name, config string
		yes          bool
		gone         func(older, keepOne, all []string) []string
		state        string
	}{
		{"yes", "", true, func(o, _, _ []string) []string { return o }, "succeeded"},
		{"policy all", "policy = \"all\"\n", false, func(_, _, a []string) []string { return a }, "succeeded"},
		{"policy keep 1", "policy = \"keep\"\nkeep = 1\n", false, func(_, k, _ []string) []string { return k }, "succeeded"},
		{"policy older than 25 days", "policy = \"older\"\nolder_than_days = 25\n", false, func(o, _, _ []string) []string {
			return []string{o[0], o[3]}
		}, "succeeded"},
		{"policy skip", "policy = \"skip\"\n", true, func(_, _, _ []string) []string { return nil }, "skipped"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newHK(t, "[task.backups]\n"+c.config)
			gone := c.gone(hkBackups(s))
			before := s.tree()
			args := []string{"--only=backups"}
			if c.yes {
				args = append(args, "--yes")
			}
			r := s.run(args...)
			f := r.mustFinish(t, "backups")
			if f.State != c.state {
				t.Fatalf("backups %s (%s), want %s\n%s", f.State, f.Reason, c.state, r)
			}
			if c.state == "succeeded" && !hkHas(f.Actions, fmt.Sprintf("deleted %d backups", len(gone))) {
				t.Errorf("actions %q, want %d backups deleted", f.Actions, len(gone))
			}
			s.expectGone(before, s.tree(), gone)
		})
	}
}

// ---------------------------------------------------------------- unreadable folders

// A folder that cannot be read is reported as a warning naming it; the
// task goes on with the rest and does not fail. As root the runs drop to
// nobody, since root reads a mode-000 folder anyway.
func TestHousekeepingUnreadableFolder(t *testing.T) {
	t.Run("disk", func(t *testing.T) {
		s := newHK(t, "")
		s.put("locked/d/huge.log", "", 200<<20)
		s.put("open/d/big.log", "", 200<<20)
		s.asNobody()
		s.lock("locked")
		r := s.run("--only=disk")
		f := r.mustFinish(t, "disk")
		if f.State != "succeeded" {
			t.Fatalf("disk %s (%s)\n%s", f.State, f.Reason, r)
		}
		if !hkHas(f.Warnings, "disk: could not read 1 path: ~/locked: permission denied") {
			t.Errorf("no warning names the unreadable folder: %q", f.Warnings)
		}
		if !hkHas(f.Warnings, "~/open/d/big.log (") || hkHas(f.Warnings, "huge.log") {
			t.Errorf("warnings %q, want ~/open/d/big.log alone", f.Warnings)
		}
	})

	t.Run("cleanup", func(t *testing.T) {
		s := newHK(t, "[task.caches]\npaths = [\"~/.cache/tool\"]\n")
		s.put(".cache/tool/locked/x.bin", "cached\n", 0)
		s.put(".cache/tool/ok.bin", "cached\n", 0)
		for _, p := range []string{"locked", "open"} {
			s.put(".claude/projects/"+p+"/done.jsonl", `{"type":"user"}`+"\n", 0)
			s.put(".claude/projects/"+p+"/done.jsonl.lifecycle.json", hkSidecar("implemented"), 0)
		}
		s.put(".claude/.backups/CLAUDE.md.backup-20200101-000000", "# old\n", 0)
		s.age(".claude/.backups/CLAUDE.md.backup-20200101-000000", 30*24*time.Hour)
		s.put(filepath.Join(s.flake, ".backups", "flake.nix.backup-20200101-000000"), "{ }\n", 0)
		s.age(filepath.Join(s.flake, ".backups", "flake.nix.backup-20200101-000000"), 30*24*time.Hour)
		s.asNobody()
		before := s.tree()
		for _, p := range []string{".cache/tool/locked", ".claude/projects/locked", ".claude/.backups"} {
			s.lock(p)
		}
		r := s.run("--only=caches,sessions,backups", "--yes")
		for task, want := range map[string]string{
			"caches":   "~/.cache/tool/locked",
			"sessions": "could not read",
			"backups":  "~/.claude/.backups",
		} {
			f := r.mustFinish(t, task)
			if f.State != "succeeded" {
				t.Errorf("%s %s (%s), want succeeded", task, f.State, f.Reason)
			}
			if !hkHas(f.Warnings, want) {
				t.Errorf("%s: no warning names the unreadable folder (%q): %q", task, want, f.Warnings)
			}
		}
		for _, p := range []string{".cache/tool/locked", ".claude/projects/locked", ".claude/.backups"} {
			if err := os.Chmod(s.path(p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		s.expectGone(before, s.tree(), []string{".cache/tool/ok.bin", ".claude/projects/open/done.jsonl",
			".claude/projects/open/done.jsonl.lifecycle.json", filepath.Join(s.flake, ".backups", "flake.nix.backup-20200101-000000")})
		if t.Failed() {
			t.Logf("%s", r)
		}
	})
}

// ---------------------------------------------------------------- terminal

// term starts rebuild with args in a new pseudo-terminal.
func (s *hkSandbox) term(args ...string) *ttyRun {
	s.t.Helper()
	return s.w.tty(args...)
}

// hkCaches plants two caches with content, an empty one, and an
// unconfigured one.
func hkCaches(s *hkSandbox) {
	s.put(".cache/alpha/a.bin", "alpha\n", 2<<20)
	s.put(".cache/alpha/sub/b.bin", "alpha\n", 0)
	s.put(".cache/beta/c.bin", "beta\n", 1<<20)
	if err := os.MkdirAll(s.path(".cache/empty"), 0o755); err != nil {
		s.t.Fatal(err)
	}
	s.put(".cache/other/x.bin", "not configured\n", 0)
}

const hkCachesConfig = "[task.caches]\npaths = [\"~/.cache/alpha\", \"~/.cache/beta\", \"~/.cache/empty\", \"~/.cache/missing\"]\n"

// In a terminal, caches shows the caches with content in the cleanup
// plan and asks once: "n" deletes nothing; "y" empties exactly the caches
// listed; "c" offers the caches and empties exactly the one picked.
func TestHousekeepingCachesInTerminal(t *testing.T) {
	cases := []struct {
		name    string
		answers []string // the plan's answer, then the pick (with "c")
		gone    []string
	}{
		{"no", []string{"n"}, nil},
		{"yes", []string{"y"}, []string{".cache/alpha/a.bin", ".cache/alpha/sub", ".cache/beta/c.bin"}},
		{"per cache", []string{"c", "1"}, []string{".cache/alpha/a.bin", ".cache/alpha/sub"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newHK(t, hkCachesConfig)
			hkCaches(s)
			before := s.tree()
			tm := s.term("--only=caches")
			shown := tm.wait("Apply the cleanup plan: delete the 2 items marked goes (3.0 MiB)?")
			var listed []string
			for _, l := range strings.Split(shown, "\n") {
				if f := strings.Fields(l); len(f) > 1 && f[0] == "goes" && strings.HasPrefix(f[1], "~/.cache/") {
					listed = append(listed, f[1])
				}
			}
			if !slices.Equal(listed, []string{"~/.cache/alpha", "~/.cache/beta"}) {
				t.Fatalf("listed %q, want ~/.cache/alpha and ~/.cache/beta:\n%s", listed, shown)
			}
			tm.answer(c.answers[0])
			for _, a := range c.answers[1:] {
				tm.wait("Delete which?")
				tm.answer(a)
			}
			if code := tm.exit(); code != 0 {
				t.Errorf("exit %d\n%s", code, tm.String())
			}
			s.expectGone(before, s.tree(), c.gone)
			if t.Failed() {
				t.Logf("screen:\n%s", tm.String())
			}
		})
	}
}

// In a terminal, backups lists every backup in the cleanup plan, those
// older than 7 days marked goes and the rest stays, and asks once: "n"
// deletes nothing; "y" deletes exactly the backups marked goes; "c" then
// "all" deletes every backup listed.
func TestHousekeepingBackupsInTerminal(t *testing.T) {
	for _, c := range []struct {
		answers []string
		gone    func(older, all []string) []string
	}{
		{[]string{"n"}, func(_, _ []string) []string { return nil }},
		{[]string{"y"}, func(o, _ []string) []string { return o }},
		{[]string{"c", "all"}, func(_, a []string) []string { return a }},
	} {
		t.Run(strings.Join(c.answers, " "), func(t *testing.T) {
			s := newHK(t, "[task.backups]\nkeep = 1\n")
			older, _, all := hkBackups(s)
			gone := c.gone(older, all)
			before := s.tree()
			tm := s.term("--only=backups")
			shown := tm.wait("Apply the cleanup plan")
			listed := map[string]string{} // path → goes or stays
			for _, l := range strings.Split(shown, "\n") {
				cols := hkColumns.Split(strings.TrimSpace(l), -1)
				if len(cols) >= 3 && strings.Contains(cols[1], ".backup-") {
					listed[cols[1]] = cols[0]
				}
			}
			var marked, want []string // what the table says goes; what --yes deletes
			for p, mark := range listed {
				if mark == "goes" {
					marked = append(marked, p)
				}
			}
			for _, g := range older {
				want = append(want, hkTilde(s.home, s.path(g)))
			}
			slices.Sort(marked)
			slices.Sort(want)
			if !slices.Equal(marked, want) {
				t.Errorf("the table marks %q as going, want %q:\n%s", marked, want, shown)
			}
			if len(listed) != 6 {
				t.Errorf("listed %d backups, want the 6 backups:\n%s", len(listed), shown)
			}
			tm.answer(c.answers[0])
			for _, a := range c.answers[1:] {
				tm.wait("Delete which?")
				tm.answer(a)
			}
			if code := tm.exit(); code != 0 {
				t.Errorf("exit %d\n%s", code, tm.String())
			}
			s.expectGone(before, s.tree(), gone)
			if t.Failed() {
				t.Logf("screen:\n%s", tm.String())
			}
		})
	}
}

// hkColumns splits a table's line into its cells.
var hkColumns = regexp.MustCompile(`\s{2,}`)

// hkTilde writes a path under home with ~, as the tasks show it.
func hkTilde(home, p string) string {
	if strings.HasPrefix(p, home+"/") {
		return "~" + strings.TrimPrefix(p, home)
	}
	return p
}

// In a terminal, sessions lists the implemented sessions and asks once:
// "n" deletes nothing, "y" deletes exactly the sessions listed.
func TestHousekeepingSessionsInTerminal(t *testing.T) {
	for _, answer := range []string{"n", "y"} {
		t.Run(answer, func(t *testing.T) {
			s := newHK(t, "")
			gone := hkSessions(s)
			before := s.tree()
			tm := s.term("--only=sessions")
			shown := tm.wait("Apply the cleanup plan: delete the 3 items")
			for _, row := range []string{"goes   -home-me-app/done ", "goes   -home-me-app/lost ", "goes   other/done2 "} {
				if !strings.Contains(shown, row) {
					t.Errorf("the table lacks %q:\n%s", row, shown)
				}
			}
			tm.answer(answer)
			if code := tm.exit(); code != 0 {
				t.Errorf("exit %d\n%s", code, tm.String())
			}
			if answer == "n" {
				gone = nil
			}
			s.expectGone(before, s.tree(), gone)
			if t.Failed() {
				t.Logf("screen:\n%s", tm.String())
			}
		})
	}
}

// ---------------------------------------------------------------- no terminal, dry run

// hkCleanupTree plants caches (with links out of them), sessions and
// backups, and returns the lines a dry run of cleanup lists: each entry of
// a cache, and each session file and backup --yes would delete.
func hkCleanupTree(s *hkSandbox) []string {
	hkCaches(s)
	s.put(filepath.Join(s.dir, "outside", "secret.txt"), "theirs\n", 0)
	s.symlink(filepath.Join(s.dir, "outside"), ".cache/beta/link-dir")
	lines := []string{"~/.cache/alpha/a.bin  (", "~/.cache/alpha/sub  (", "~/.cache/beta/c.bin  (", "~/.cache/beta/link-dir  ("}
	for _, p := range hkSessions(s) {
		lines = append(lines, "would delete "+hkTilde(s.home, s.path(p))+" (")
	}
	older, _, _ := hkBackups(s)
	for _, p := range older {
		lines = append(lines, "would delete "+hkTilde(s.home, s.path(p))+" (")
	}
	return lines
}

// Without a terminal and without --yes, the cleanup tasks delete nothing
// and end at once, skipped with the reason — also when stdin is a pipe
// that stays open and never says anything.
func TestHousekeepingNoTerminalDeletesNothing(t *testing.T) {
	s := newHK(t, hkCachesConfig)
	hkCleanupTree(s)
	before := s.tree()

	r := s.run("--only=cleanup", "--skip=generations")
	for _, task := range []string{"caches", "sessions", "backups"} {
		if f := r.mustFinish(t, task); f.State != "skipped" || !strings.Contains(f.Reason, "no terminal") {
			t.Errorf("%s %s (%s), want skipped: no terminal", task, f.State, f.Reason)
		}
	}
	s.expectGone(before, s.tree(), nil)

	// Plain output, stdin an open pipe: a read would wait for ever.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	cmd := s.w.command("--only=cleanup", "--skip=generations")
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, out.String); code != 0 {
		t.Errorf("exit %d\n%s", code, out.String())
	}
	for _, task := range []string{"caches", "sessions", "backups"} {
		if !regexp.MustCompile(`skipped ` + task + ` .*no terminal`).MatchString(out.String()) {
			t.Errorf("the output does not say %s was skipped for want of a terminal:\n%s", task, out.String())
		}
	}
	s.expectGone(before, s.tree(), nil)
}

// rebuild --only=cleanup --dry-run lists, in a terminal, exactly what
// each task would delete (--yes's answers: every cache's entries, the
// implemented sessions, backups older than 7 days), and deletes nothing:
// the whole tree is the same afterwards. Without a terminal the same run
// succeeds with "dry run" statistics; generations, whose profile does not
// exist, is skipped.
func TestHousekeepingCleanupDryRun(t *testing.T) {
	s := newHK(t, hkCachesConfig)
	want := hkCleanupTree(s)
	before := s.tree()

	tm := s.term("--only=cleanup", "--dry-run")
	tm.wait("wall time")
	code := tm.exit()
	screen := tm.String()
	var listed []string
	for _, l := range strings.Split(screen, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "would delete ") && !strings.HasPrefix(l, "would delete from ") || strings.HasPrefix(l, "~/.cache/") && strings.Contains(l, "  (") {
			listed = append(listed, l)
		}
	}
	for _, w := range want {
		if !hkHas(listed, w) {
			t.Errorf("the dry run does not list %q", w)
		}
	}
	if len(listed) != len(want) {
		t.Errorf("the dry run lists %d paths, want %d:\n  %s", len(listed), len(want), strings.Join(listed, "\n  "))
	}
	for _, l := range []string{"would delete from ~/.cache/alpha:", "would delete from ~/.cache/beta:"} {
		if !strings.Contains(screen, l) {
			t.Errorf("the screen lacks %q", l)
		}
	}
	// nix-env, which generations asks for the list, makes ~/.nix-defexpr
	// on its first run in a home: Nix's doing, and nothing is deleted.
	nixEnvMakes := ".nix-defexpr"
	s.expectGone(before, s.tree(), nil, nixEnvMakes)

	r := s.run("--only=cleanup", "--dry-run")
	for task, stat := range map[string]string{
		"caches":   "dry run: would clean 2 caches",
		"sessions": "dry run: would delete 3 implemented sessions",
		"backups":  "dry run: would delete 4 backups",
	} {
		if f := r.mustFinish(t, task); f.State != "succeeded" || !hkHas(f.Stats, stat) {
			t.Errorf("%s %s (%s), stats %q; want succeeded with %q", task, f.State, f.Reason, f.Stats, stat)
		}
	}
	gen := r.mustFinish(t, "generations")
	if hasProgram("nix-env") {
		if gen.State != "skipped" || !strings.Contains(gen.Reason, "has no generations") || code != 0 || r.code != 0 {
			t.Errorf("generations %s (%s), exits %d and %d; want skipped: no generations, exit 0", gen.State, gen.Reason, code, r.code)
		}
	} else {
		t.Logf("nix-env is not installed: generations %s (%s)", gen.State, gen.Reason)
	}
	s.expectGone(before, s.tree(), nil, nixEnvMakes)
	if t.Failed() {
		t.Logf("screen:\n%s", screen)
	}
}
