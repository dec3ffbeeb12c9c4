package claude_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// now is the fixture's clock: every record is placed relative to it.
var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(d float64) time.Time { return now.Add(-time.Duration(d * float64(24*time.Hour))) }

func ts(d float64) string { return daysAgo(d).Format(time.RFC3339) }

// fixture is a temporary HOME with Claude Code's data and a flake:
//
//	~/.claude.json                 servers: github, unused-global (user);
//	                               github again, identical, local to webapp
//	~/.claude/CLAUDE.md, CLAUDE-USER-POLICIES.md
//	~/.claude/projects/<webapp>/s1…s5.jsonl   github in each, playwright in s1
//	~/.claude/projects/<webapp>/s0.jsonl      60 days old: sqlite (outside the window)
//	~/.claude/projects/<api>/s6.jsonl          no MCP call
//	~/.claude/projects/<flake>/s7.jsonl        nixos + github in one message
//	~/.claude/learning/*.jsonl    see each writer below
//	~/.local/share/fish/command-source.jsonl
//	~/projects/webapp (node): .claude/mcp.json playwright, sqlite; settings.local.json;
//	                          commands/review-pr.md, commands/deploy-check.md
//	~/projects/api (node):    .claude/mcp.json redis
//	~/projects/tool (python)
//	~/nixos-config: git repo, CLAUDE.md, .claude/mcp.json nixos, modules/core/packages.nix
type fixture struct {
	t                 *testing.T
	home, flake       string
	webapp, api, tool string
	claude, learning  string
	projects          string
	values            *tasks.Values
	logs              map[string]*bytes.Buffer
	mu                sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	home := filepath.Join(root, "home")
	f := &fixture{t: t, home: home, flake: filepath.Join(home, "nixos-config"),
		webapp: filepath.Join(home, "projects", "webapp"), api: filepath.Join(home, "projects", "api"),
		tool: filepath.Join(home, "projects", "tool"), claude: filepath.Join(home, ".claude"),
		values: tasks.NewValues(), logs: map[string]*bytes.Buffer{}}
	f.learning = filepath.Join(f.claude, "learning")
	f.projects = filepath.Join(f.claude, "projects")
	f.writeClaudeJSON()
	f.writeProjects()
	f.writeSessions()
	f.writeLearning()
	f.writeFlake()
	f.writeFishLog()
	return f
}

func (f *fixture) write(path, content string) string {
	f.t.Helper()
	return taskstest.WriteFile(f.t, path, content)
}

func (f *fixture) read(path string) string {
	f.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func jsonLines(v ...any) string {
	var b strings.Builder
	for _, x := range v {
		if s, ok := x.(string); ok {
			b.WriteString(s + "\n") // written as is: malformed on purpose
			continue
		}
		j, err := json.Marshal(x)
		if err != nil {
			panic(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

type obj = map[string]any

var githubServer = obj{"command": "gh-mcp", "args": []string{"--stdio"}}

func (f *fixture) writeClaudeJSON() {
	b, _ := json.MarshalIndent(obj{
		"numStartups": 42,
		"mcpServers":  obj{"github": githubServer, "unused-global": obj{"command": "never-used"}},
		"projects": obj{
			f.webapp: obj{"mcpServers": obj{"github": githubServer}, "allowedTools": []string{}},
			f.api:    obj{"mcpServers": obj{}},
		},
	}, "", "  ")
	f.write(filepath.Join(f.home, ".claude.json"), string(b))
}

func (f *fixture) writeProjects() {
	f.write(filepath.Join(f.webapp, ".claude", "mcp.json"), `{"mcpServers": {"playwright": {"command": "pw"}, "sqlite": {"command": "sqlite-mcp"}}}`)
	f.write(filepath.Join(f.webapp, ".claude", "settings.local.json"), `{
  "model": "opus",
  "permissions": {
    "allow": ["Bash(ls:*)"],
    "deny": ["Bash(curl:*)"]
  },
  "env": {"FOO": "bar"}
}
`)
	f.write(filepath.Join(f.webapp, ".claude", "commands", "review-pr.md"), "Review the PR.\n")
	f.write(filepath.Join(f.webapp, ".claude", "commands", "deploy-check.md"), "---\ndescription: check before deploying\n---\nRun the checks.\n")
	f.write(filepath.Join(f.api, ".claude", "mcp.json"), `{"mcpServers": {"redis": {"command": "redis-mcp"}}}`)
	if err := os.MkdirAll(f.tool, 0o755); err != nil {
		f.t.Fatal(err)
	}
}

// projectDir is Claude Code's folder for a project's session logs.
func (f *fixture) projectDir(project string) string {
	return filepath.Join(f.projects, strings.ReplaceAll(project, "/", "-"))
}

func (f *fixture) sessionPath(project, id string) string {
	return filepath.Join(f.projectDir(project), id+".jsonl")
}

type usage struct{ in, out, cacheRead, cacheWrite int64 }

// call is one assistant message calling the given tools.
type call struct {
	tools []string
	u     usage
}

// sessionLog is a session log in Claude Code's format: each assistant
// message written as two lines (a text block, then the tool uses), both
// repeating the message's id and usage.
func sessionLog(id, cwd string, age float64, calls ...call) string {
	var lines []any
	lines = append(lines, obj{"type": "summary", "summary": "a session"})
	lines = append(lines, obj{"type": "user", "sessionId": id, "cwd": cwd, "timestamp": ts(age),
		"message": obj{"role": "user", "content": "please help"}})
	for i, c := range calls {
		msgID := fmt.Sprintf("msg_%s_%d", id, i)
		u := obj{"input_tokens": c.u.in, "output_tokens": c.u.out, "cache_read_input_tokens": c.u.cacheRead,
			"cache_creation_input_tokens": c.u.cacheWrite}
		lines = append(lines, obj{"type": "assistant", "sessionId": id, "cwd": cwd, "timestamp": ts(age),
			"message": obj{"id": msgID, "role": "assistant", "content": []obj{{"type": "text", "text": "Let me look."}}, "usage": u}})
		var items []obj
		for j, tool := range c.tools {
			items = append(items, obj{"type": "tool_use", "id": fmt.Sprintf("toolu_%s_%d_%d", id, i, j), "name": tool,
				"input": obj{"q": "x"}})
		}
		lines = append(lines, obj{"type": "assistant", "sessionId": id, "cwd": cwd, "timestamp": ts(age),
			"message": obj{"id": msgID, "role": "assistant", "content": items, "usage": u}})
		lines = append(lines, obj{"type": "user", "sessionId": id, "cwd": cwd, "timestamp": ts(age),
			"message": obj{"role": "user", "content": []obj{{"type": "tool_result", "tool_use_id": "toolu", "content": "ok"}}}})
	}
	return jsonLines(lines...)
}

// Token counts chosen so costs come out in whole cents:
// githubCall: 100k in, 20k out, 500k cache read = $0.30 + $0.30 + $0.15 = $0.75.
var (
	githubCall     = call{[]string{"mcp__github__search_issues"}, usage{100_000, 20_000, 500_000, 0}}
	playwrightCall = call{[]string{"mcp__playwright__navigate"}, usage{200_000, 10_000, 0, 200_000}} // $1.50
	// One message calling two servers: 200k input split evenly, $0.30 each.
	nixosAndGithub = call{[]string{"mcp__nixos__search", "mcp__github__get_file"}, usage{200_000, 0, 0, 0}}
	plainCall      = call{[]string{"Bash"}, usage{999_000, 999_000, 0, 0}} // not an MCP call: no server pays
)

func (f *fixture) writeSessions() {
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("s%d", i)
		calls := []call{githubCall, plainCall}
		if i == 1 {
			calls = append(calls, playwrightCall)
		}
		log := sessionLog(id, f.webapp, float64(i), calls...)
		if i == 3 {
			log += "{\"type\": \"assistant\", truncated\n" // a malformed line
		}
		f.write(f.sessionPath(f.webapp, id), log)
	}
	old := f.write(f.sessionPath(f.webapp, "s0"), sessionLog("s0", f.webapp, 60,
		call{[]string{"mcp__sqlite__query"}, usage{1, 1, 1, 1}}))
	if err := os.Chtimes(old, daysAgo(60), daysAgo(60)); err != nil {
		f.t.Fatal(err)
	}
	f.write(f.sessionPath(f.api, "s6"), sessionLog("s6", f.api, 2, plainCall))
	f.write(f.sessionPath(f.flake, "s7"), sessionLog("s7", f.flake, 1, nixosAndGithub))
	// Sidecars: s1 is further along than analytics may move it; s2 is raw.
	f.write(f.sessionPath(f.webapp, "s1")+".lifecycle.json",
		`{"lifecycle_stage": "insights_generated", "created_at": "2025-02-20T10:00:00", "insights_generated_at": "2025-02-21T10:00:00"}`)
	f.write(f.sessionPath(f.webapp, "s2")+".lifecycle.json", `{"lifecycle_stage": "raw", "created_at": "2025-02-20T10:00:00"}`)
}

func approval(age float64, perm, session, project string) obj {
	return obj{"timestamp": ts(age), "permission": perm, "session_id": session, "project_path": project}
}

func (f *fixture) writeLearning() {
	var perms []any
	// Recurs over three sessions: becomes Bash(git status:*).
	for i, s := range []string{"s1", "s2", "s3", "s3"} {
		perms = append(perms, approval(float64(i+1), "Bash(git status)", s, f.webapp))
	}
	// Three times, one session: a burst, not a habit.
	for i := range 3 {
		perms = append(perms, approval(1, fmt.Sprintf("Bash(npm test -- --watch=%d)", i), "s1", f.webapp))
	}
	// Destructive, however often.
	for i, s := range []string{"s1", "s2", "s3", "s4", "s5"} {
		perms = append(perms, approval(float64(i+1), "Bash(rm -rf dist)", s, f.webapp))
	}
	// Already allowed (Bash(ls:*) is in settings.local.json).
	for i, s := range []string{"s1", "s2", "s3"} {
		perms = append(perms, approval(float64(i+1), "Bash(ls -la)", s, f.webapp))
	}
	// Too few.
	perms = append(perms, approval(1, "Bash(cargo build)", "s6", f.api), approval(2, "Bash(cargo build)", "s6b", f.api))
	// Outside the window.
	for i, s := range []string{"s1", "s2", "s3", "s4", "s5"} {
		perms = append(perms, approval(float64(60+i), "Bash(make test)", s, f.webapp))
	}
	perms = append(perms, "{not json", obj{"timestamp": "yesterday", "permission": "Bash(x)", "session_id": "s1", "project_path": f.webapp})
	f.write(filepath.Join(f.learning, "permission_approvals.jsonl"), jsonLines(perms...))

	var ctxUse []any
	use := func(section string, n int, relevance float64) {
		for i := range n {
			ctxUse = append(ctxUse, obj{"timestamp": ts(float64(i + 1)), "section_name": section,
				"tokens_in_section": 1200, "relevance_score": relevance, "session_id": fmt.Sprintf("s%d", i%5+1)})
		}
	}
	use("Old Migration Notes", 5, 0.1) // prune
	use("Git Workflow", 6, 0.9)        // move up
	use("Coding Style", 5, 0.5)        // neither
	use("Ghost Section", 5, 0.05)      // in no CLAUDE.md
	use("🔌 MCP Servers", 5, 0.0)       // generated by mcp-analytics: never touched
	use("Rare Section", 2, 0.0)        // too few loads
	f.write(filepath.Join(f.learning, "context_usage.jsonl"), jsonLines(ctxUse...))

	var wf []any
	cmd := func(session string, age float64, project string, ok bool, cmds ...string) {
		for i, c := range cmds {
			wf = append(wf, obj{"timestamp": daysAgo(age).Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
				"command": c, "session_id": session, "success": ok, "duration_ms": 1000, "project_path": project})
		}
	}
	for i, s := range []string{"w1", "w2", "w3"} {
		cmd(s, float64(i+1), f.webapp, true, "/test", "/lint", "/commit") // recurs: a command
		cmd(s, float64(i+1)-0.5, f.webapp, true, "/review", "/pr")        // recurs, but review-pr.md exists
	}
	cmd("w4", 1, f.webapp, true, "/deploy", "/verify") // twice only
	cmd("w5", 2, f.webapp, true, "/deploy", "/verify")
	cmd("w6", 1, f.webapp, true, "/build", "/fmt", "/build", "/fmt", "/build", "/fmt") // one session only
	for i, s := range []string{"w7", "w8", "w9"} {
		cmd(s, float64(i+1), f.webapp, false, "/migrate", "/seed") // failed
	}
	f.write(filepath.Join(f.learning, "workflow_commands.jsonl"), jsonLines(wf...))

	var pv []any
	policy := func(text string, violated, complied int) {
		for i := range violated {
			pv = append(pv, obj{"timestamp": ts(float64(i + 1)), "policy": text, "violated": true, "session_id": fmt.Sprintf("s%d", i%5+1)})
		}
		for i := range complied {
			pv = append(pv, obj{"timestamp": ts(float64(i + 1)), "policy": text, "violated": false, "session_id": "s5"})
		}
	}
	policy("Always run tests before committing", 4, 1) // 20 %: strengthen
	policy("Use fd instead of find", 3, 7)             // 70 %: fine
	policy("Never push to main", 2, 0)                 // too few violations
	policy("Unwritten policy", 5, 0)                   // written nowhere
	f.write(filepath.Join(f.learning, "policy_violations.jsonl"), jsonLines(pv...))

	var pp []any
	pat := func(project, kind, ptype, pattern string, n int) {
		for i := range n {
			pp = append(pp, obj{"timestamp": ts(float64(i + 1)), "project_path": project, "project_type": kind,
				"pattern_type": ptype, "pattern": pattern, "session_id": fmt.Sprintf("s%d", i%5+1)})
		}
	}
	pat(f.webapp, "node", "permission", "Bash(npm run:*)", 3)                               // → api
	pat(f.webapp, "node", "command", "deploy-check", 3)                                     // → api, copied from webapp
	pat(f.webapp, "node", "permission", "Bash(rm:*)", 5)                                    // destructive
	pat(f.webapp, "node", "mcp", "github", 5)                                               // not a carried pattern type
	pat(f.api, "node", "permission", "Bash(jest:*)", 2)                                     // too few uses
	pat(f.tool, "python", "permission", "Bash(pytest:*)", 4)                                // the only python project
	pat(filepath.Join(f.home, "projects", "gone"), "node", "permission", "Bash(yarn:*)", 1) // gone: never a target
	f.write(filepath.Join(f.learning, "project_patterns.jsonl"), jsonLines(pp...))

	var mm []any
	outcome := func(component string, n, accepted int) {
		for i := range n {
			mm = append(mm, obj{"timestamp": ts(float64(i%20 + 1)), "component": component,
				"suggestion_type": "x", "accepted": i < accepted, "confidence": 0.8})
		}
	}
	outcome("learn-permissions", 10, 2)  // 20 %: stricter
	outcome("learn-workflows", 10, 10)   // 100 %: looser
	outcome("learn-context", 3, 0)       // too few
	outcome("learn-mcp", 10, 6)          // 60 %: fine
	outcome("permission_learner", 10, 0) // not one of ours
	f.write(filepath.Join(f.learning, "meta_metrics.jsonl"), jsonLines(mm...))
	f.write(filepath.Join(f.learning, "thresholds.json"), `{"min_occurrences": 3, "confidence": 0.7, "days": 30, "note": "keep me"}`)
}

// flakeClaudeMD is the flake's CLAUDE.md as committed.
const flakeClaudeMD = `# NixOS configuration

Intro text.

## Coding Style

Use 2 spaces.

## Old Migration Notes

We moved from channels to flakes in 2023.

## Git Workflow

Commit often.

## 🔌 MCP Servers

old MCP text

## 📦 System Tool Usage

old tool text
### kept? no, part of the section

## Footer

**Total System Tools**: 122
**Fish Abbreviations**: 45
`

const userClaudeMD = "# Global\n\n## Style\n\nBe brief.\n"

const userPolicies = "# Policies\n\n- Always run tests before committing\n- Use fd instead of find\n- Never push to main\n"

const packagesNix = `{ pkgs, ... }:
{
  environment.systemPackages = with pkgs; [
    ripgrep  # fast grep
    fd  # find alternative
    bat
    pkgs.jq
    python3Packages.black  # formatter
    htop  # process viewer
    (writeShellScriptBin "rebuild-helper" ''
      echo hi
    '')
  ];
  programs.fish.enable = true;  # a comment, not a package
}
`

func (f *fixture) writeFlake() {
	f.write(filepath.Join(f.flake, "CLAUDE.md"), flakeClaudeMD)
	f.write(filepath.Join(f.flake, ".claude", "mcp.json"), `{"mcpServers": {"nixos": {"command": "mcp-nixos"}}}`)
	f.write(filepath.Join(f.flake, "modules", "core", "packages.nix"), packagesNix)
	f.write(filepath.Join(f.claude, "CLAUDE.md"), userClaudeMD)
	f.write(filepath.Join(f.claude, "CLAUDE-USER-POLICIES.md"), userPolicies)
	f.git("init", "-q", "-b", "main")
	f.git("add", "-A")
	f.git("commit", "-q", "-m", "initial")
}

func (f *fixture) git(args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", f.flake}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@e", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (f *fixture) writeFishLog() {
	var lines []any
	cmd := func(age float64, c, src string, n int) {
		for range n {
			lines = append(lines, obj{"ts": daysAgo(age).Unix(), "cmd": c, "src": src, "cwd": f.home})
		}
	}
	cmd(1, "rg foo src/", "human", 3)
	cmd(2, "rg -n bar", "claude-code", 2)
	cmd(1, "fd -e nix", "human", 2)
	cmd(3, "sudo htop", "human", 1)
	cmd(4, "FOO=1 jq .", "cursor", 1)
	cmd(1, "git status", "human", 4)
	cmd(60, "rg old", "human", 10) // outside the window
	lines = append(lines, `{"ts": 1, "cmd": `, obj{"cmd": "no timestamp", "src": "human"})
	f.write(filepath.Join(f.home, ".local", "share", "fish", "command-source.jsonl"), jsonLines(lines...))
}

// spec returns the named Spec of the family.
func spec(t *testing.T, name string) tasks.Spec {
	t.Helper()
	for _, s := range claude.Specs() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no task %q", name)
	return tasks.Spec{}
}

// runOpts tune one task run.
type runOpts struct {
	options map[string]any
	prompt  *taskstest.Prompter // without a terminal when nil
	yes     bool
	dryRun  bool
	environ []string // the runner's environment (os.Environ when nil)
	// stateDir is the configuration's state directory: where the session
	// logs' records are kept ("": none, every log read whole).
	stateDir string
}

// run runs the named task in the fixture, as the scheduler would: its own
// Env, the fixture's clock, HOME, flake and shared values. Without a
// terminal, a task that asks anything at all fails the test.
func (f *fixture) run(name string, o runOpts) (*tasks.Env, error) {
	f.t.Helper()
	env := tasks.NewEnv(name, nil, f.values)
	var log bytes.Buffer
	f.mu.Lock()
	f.logs[name] = &log
	f.mu.Unlock()
	env.Log = &log
	env.Home = f.home
	env.Now = func() time.Time { return now }
	env.Config = &config.Config{Flake: f.flake, Tasks: map[string]config.Task{}, StateDir: o.stateDir}
	env.Runner = &proc.Runner{Environ: o.environ}
	p := o.prompt
	if p == nil {
		p = &taskstest.Prompter{T: f.t}
	}
	env.Prompt = p
	env.Yes, env.DryRun = o.yes, o.dryRun
	// Bound to its options as the catalogue does before a run: an error
	// there is the task's error.
	task, err := spec(f.t, name).Configure(config.Task{Options: o.options})
	if err == nil {
		err = task.Run(context.Background(), env)
	}
	if asked := p.Asked(); !p.Terminal && len(asked) != 0 {
		f.t.Errorf("%s asked without a terminal: %q", name, asked)
	}
	return env, err
}

// mustRun runs a task that must not fail (skipping is fine).
func (f *fixture) mustRun(name string, o runOpts) *tasks.Env {
	f.t.Helper()
	env, err := f.run(name, o)
	if err != nil {
		if _, ok := tasks.AsOutcome(err); !ok {
			f.t.Fatalf("%s: %v\nlog:\n%s", name, err, f.logs[name])
		}
	}
	return env
}
