package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// obj is a JSON object, for writing sample data tersely.
type obj = map[string]any

// SeedClaude writes sample Claude Code data into home, enough for every
// task of the claude family to have something to show: MCP servers used
// and unused, session logs calling them, the learning files each analyzer
// reads (each yields at least one suggestion), a fish command log, and a
// packages.nix in flake. The clock says now. It never replaces a file that
// exists, and writes only under home and flake.
func SeedClaude(home, flake string, now time.Time) error {
	webapp := filepath.Join(home, "projects", "webapp")
	api := filepath.Join(home, "projects", "api")
	day := 24 * time.Hour
	ts := func(d time.Duration) string { return now.Add(-d).UTC().Format(time.RFC3339) }
	var files []newFile
	add := func(path string, content string) { files = append(files, newFile{path, content}) }

	add(filepath.Join(home, ".claude.json"), mustJSON(obj{
		"mcpServers": obj{"github": obj{"command": "github-mcp-server", "args": []string{"stdio"}},
			"puppeteer": obj{"command": "npx", "args": []string{"-y", "@modelcontextprotocol/server-puppeteer"}}},
		"projects": obj{webapp: obj{"mcpServers": obj{}}, api: obj{"mcpServers": obj{}}},
	}))
	if err := os.MkdirAll(filepath.Join(api, ".claude"), 0o755); err != nil {
		return err
	}
	for i := 1; i <= 4; i++ {
		id := fmt.Sprintf("demo-%d", i)
		add(filepath.Join(home, ".claude", "projects", strings.ReplaceAll(webapp, "/", "-"), id+".jsonl"),
			sessionLog(id, webapp, ts(time.Duration(i)*day)))
	}
	add(filepath.Join(home, ".claude", "CLAUDE.md"), "# My Claude settings\n\n## Style\n\nBe brief.\n\n## Old Notes\n\nNotes about a project that ended in 2023.\n")
	add(filepath.Join(home, ".claude", "CLAUDE-USER-POLICIES.md"), "# Policies\n\n- Always run tests before committing\n- Use fd instead of find\n")

	learning := filepath.Join(home, ".claude", "learning")
	var perms, ctxUse, wf, pv, pp, mm []any
	for i, s := range []int{1, 2, 3, 3} {
		perms = append(perms, obj{"timestamp": ts(time.Duration(i+1) * day), "permission": "Bash(git status)",
			"session_id": fmt.Sprintf("demo-%d", s), "project_path": webapp})
	}
	for i := range 5 {
		ctxUse = append(ctxUse, obj{"timestamp": ts(time.Duration(i+1) * day), "section_name": "Old Notes",
			"tokens_in_section": 900, "relevance_score": 0.05, "session_id": fmt.Sprintf("demo-%d", i%4+1)})
	}
	for i := range 3 {
		for j, c := range []string{"/test", "/commit"} {
			wf = append(wf, obj{"timestamp": now.Add(-time.Duration(i+1)*day + time.Duration(j)*time.Minute).UTC().Format(time.RFC3339),
				"command": c, "session_id": fmt.Sprintf("demo-%d", i+1), "success": true, "duration_ms": 2000, "project_path": webapp})
		}
	}
	for i := range 5 {
		pv = append(pv, obj{"timestamp": ts(time.Duration(i+1) * day), "policy": "Always run tests before committing",
			"violated": i < 4, "session_id": fmt.Sprintf("demo-%d", i%4+1)})
	}
	for i := range 3 {
		pp = append(pp, obj{"timestamp": ts(time.Duration(i+1) * day), "project_path": webapp, "project_type": "node",
			"pattern_type": "permission", "pattern": "Bash(npm run:*)", "session_id": fmt.Sprintf("demo-%d", i+1)})
	}
	pp = append(pp, obj{"timestamp": ts(day), "project_path": api, "project_type": "node"})
	for i := range 10 {
		mm = append(mm, obj{"timestamp": ts(time.Duration(i+1) * day), "component": "learn-permissions",
			"suggestion_type": "allow-permission", "accepted": i < 2, "confidence": 0.8})
	}
	add(filepath.Join(learning, "permission_approvals.jsonl"), jsonLines(perms))
	add(filepath.Join(learning, "context_usage.jsonl"), jsonLines(ctxUse))
	add(filepath.Join(learning, "workflow_commands.jsonl"), jsonLines(wf))
	add(filepath.Join(learning, "policy_violations.jsonl"), jsonLines(pv))
	add(filepath.Join(learning, "project_patterns.jsonl"), jsonLines(pp))
	add(filepath.Join(learning, "meta_metrics.jsonl"), jsonLines(mm))

	var fish []any
	for i, c := range []string{"rg TODO", "rg -n main", "fd .nix", "git status", "jq . flake.lock", "rg foo"} {
		src := "human"
		if i%2 == 1 {
			src = "claude-code"
		}
		fish = append(fish, obj{"ts": now.Add(-time.Duration(i+1) * time.Hour).Unix(), "cmd": c, "src": src})
	}
	add(filepath.Join(home, ".local", "share", "fish", "command-source.jsonl"), jsonLines(fish))
	add(filepath.Join(flake, "modules", "core", "packages.nix"),
		"{ pkgs, ... }:\n{\n  environment.systemPackages = with pkgs; [\n    ripgrep  # fast grep\n    fd  # find files\n    jq  # JSON\n    bat  # cat with wings\n    htop  # processes\n  ];\n}\n")

	for _, f := range files {
		if err := f.writeNew(); err != nil {
			return err
		}
	}
	return nil
}

// newFile is a file SeedClaude writes unless it exists.
type newFile struct{ path, content string }

// writeNew writes the file unless something is there already.
func (f newFile) writeNew() error {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		return err
	}
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := fh.WriteString(f.content); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// sessionLog is a short session in Claude Code's format calling github.
func sessionLog(id, cwd, ts string) string {
	usage := obj{"input_tokens": 12000, "output_tokens": 800, "cache_read_input_tokens": 40000, "cache_creation_input_tokens": 2000}
	return jsonLines([]any{
		obj{"type": "user", "sessionId": id, "cwd": cwd, "timestamp": ts, "message": obj{"role": "user", "content": "Find the open issues about the login page"}},
		obj{"type": "assistant", "sessionId": id, "cwd": cwd, "timestamp": ts, "message": obj{"id": "msg_" + id, "role": "assistant",
			"content": []obj{{"type": "tool_use", "id": "toolu_" + id, "name": "mcp__github__search_issues", "input": obj{"q": "login"}}}, "usage": usage}},
		obj{"type": "user", "sessionId": id, "cwd": cwd, "timestamp": ts, "message": obj{"role": "user",
			"content": []obj{{"type": "tool_result", "tool_use_id": "toolu_" + id, "content": "3 issues"}}}},
	})
}

func jsonLines(v []any) string {
	var b strings.Builder
	for _, x := range v {
		b.WriteString(mustJSON(x))
		b.WriteByte('\n')
	}
	return b.String()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
