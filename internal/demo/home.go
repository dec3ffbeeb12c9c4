package demo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// seedHome fills the sandbox's home with what the housekeeping tasks
// look for, so the demo shows them at work: caches to clean, a log that
// grew too big, Claude sessions at every lifecycle stage, and old and new
// backups of the generated files. Every file is inside home or flake;
// sizes are small or sparse, so the demo stays fast and light on disk.
func seedHome(home, flake string, now time.Time) error {
	type file struct {
		path  string
		size  int64 // apparent size; sparse beyond the content
		text  string
		mtime time.Time
	}
	day := 24 * time.Hour
	files := []file{
		// Caches (phase 11).
		{path: ".cache/uv/archive-v0/numpy/numpy.whl", size: 3 << 20},
		{path: ".cache/uv/archive-v0/requests/requests.whl", size: 1 << 20},
		{path: ".npm/_cacache/content-v2/sha512/ab/cd", size: 2 << 20},
		{path: ".cache/yarn/v6/npm-left-pad-1.3.0/package.json", text: `{"name":"left-pad"}`},
		{path: ".cache/chromium/Default/Cache/data_0", size: 4 << 20},
		// A log that grew past 100 MB, four levels deep (phase 10).
		{path: "projects/webapp/logs/server.log", size: 120 << 20},
		{path: ".config/someapp/state.json.bak", size: 2 << 20},
		// Claude session logs and their lifecycle sidecars (phase 12).
		{path: ".claude/projects/-home-demo-webapp/1111.jsonl", text: sessionLine("1111", now.Add(-9*day))},
		{path: ".claude/projects/-home-demo-webapp/1111.jsonl.lifecycle.json", text: sidecar("implemented", now.Add(-9*day))},
		{path: ".claude/projects/-home-demo-webapp/2222.jsonl", text: sessionLine("2222", now.Add(-5*day))},
		{path: ".claude/projects/-home-demo-webapp/2222.jsonl.lifecycle.json", text: sidecar("implemented", now.Add(-5*day))},
		{path: ".claude/projects/-home-demo-webapp/3333.jsonl", text: sessionLine("3333", now.Add(-1*day))},
		{path: ".claude/projects/-home-demo-webapp/3333.jsonl.lifecycle.json", text: sidecar("analyzed", now.Add(-1*day))},
		{path: ".claude/projects/-home-demo-webapp/4444.jsonl", text: sessionLine("4444", now)},
	}
	for _, f := range files {
		p := filepath.Join(home, f.path)
		if err := writeFile(p, f.text, f.size); err != nil {
			return err
		}
	}
	// Backups of generated files (phase 13): two old, one new, and a file
	// that only looks similar and must never be touched.
	backups := []file{
		{path: ".backups/CLAUDE.md.backup-20261101-120000", text: "# old\n", mtime: now.Add(-24 * day)},
		{path: ".backups/CLAUDE.md.backup-20261110-120000", text: "# older\n", mtime: now.Add(-15 * day)},
		{path: ".backups/CLAUDE.md.backup-" + now.Format("20060102-150405"), text: "# new\n", mtime: now},
		{path: ".backups/README-keep-me.md", text: "not a backup\n", mtime: now.Add(-30 * day)},
	}
	for _, f := range backups {
		p := filepath.Join(flake, f.path)
		if err := writeFile(p, f.text, 0); err != nil {
			return err
		}
		if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(p, text string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		return err
	}
	if size > int64(len(text)) {
		return os.Truncate(p, size)
	}
	return nil
}

func sessionLine(id string, t time.Time) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"type":"user","sessionId":%q,"timestamp":%q,"message":{"role":"user","content":"make the build faster"}}`+"\n", id, t.UTC().Format(time.RFC3339))
	return b.String()
}

func sidecar(stage string, t time.Time) string {
	ts := t.UTC().Format(time.RFC3339)
	return fmt.Sprintf(`{"lifecycle_stage": %q, "created_at": %q, "analyzed_at": %q, "insights_generated_at": %q, "implemented_at": %q}`+"\n",
		stage, ts, ts, ts, ts)
}
