package claude

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude/mcpusage"
	"github.com/rebuild-nixos/rebuild/tasks/claude/mdsection"
	"github.com/rebuild-nixos/rebuild/tasks/claude/toolusage"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
	"github.com/rebuild-nixos/rebuild/tasks/lifecycle"
)

// defaultDays is the analytics window.
const defaultDays = 30

// MCPAnalyticsOptions are the options of [task.mcp-analytics].
type MCPAnalyticsOptions struct {
	Days        int    `option:"days" doc:"the window, in days"`
	ClaudeJSON  string `option:"claude_json" doc:"Claude Code's user configuration, with its MCP servers"`
	ProjectsDir string `option:"projects_dir" doc:"the session logs"`
}

func defaultMCPAnalyticsOptions() MCPAnalyticsOptions {
	return MCPAnalyticsOptions{Days: defaultDays, ClaudeJSON: "~/.claude.json", ProjectsDir: "~/.claude/projects"}
}

// Check refuses a window shorter than a day.
func (o MCPAnalyticsOptions) Check() error { return positive("days", o.Days) }

// mcpAnalytics is the mcp-analytics task.
type mcpAnalytics struct{ opts MCPAnalyticsOptions }

// Configure implements tasks.Configurable.
func (t mcpAnalytics) Configure(c config.Task) (tasks.Task, error) {
	t.opts = defaultMCPAnalyticsOptions()
	err := tasks.DecodeOptions(c, &t.opts)
	return t, err
}

// TaskOptions implements tasks.Configurable.
func (t mcpAnalytics) TaskOptions() any { return t.opts }

func (t mcpAnalytics) Run(ctx context.Context, env *tasks.Env) error {
	return runMCPAnalytics(ctx, env, t.opts)
}

// ToolAnalyticsOptions are the options of [task.tool-analytics].
type ToolAnalyticsOptions struct {
	Days       int    `option:"days" doc:"the window, in days"`
	Packages   string `option:"packages" doc:"the Nix file listing the installed tools; empty: <flake>/modules/core/packages.nix"`
	CommandLog string `option:"command_log" doc:"fish's log of the commands run, by whom"`
}

func defaultToolAnalyticsOptions() ToolAnalyticsOptions {
	return ToolAnalyticsOptions{Days: defaultDays, CommandLog: "~/.local/share/fish/command-source.jsonl"}
}

// Check refuses a window shorter than a day.
func (o ToolAnalyticsOptions) Check() error { return positive("days", o.Days) }

// toolAnalytics is the tool-analytics task.
type toolAnalytics struct{ opts ToolAnalyticsOptions }

// Configure implements tasks.Configurable.
func (t toolAnalytics) Configure(c config.Task) (tasks.Task, error) {
	t.opts = defaultToolAnalyticsOptions()
	err := tasks.DecodeOptions(c, &t.opts)
	return t, err
}

// TaskOptions implements tasks.Configurable.
func (t toolAnalytics) TaskOptions() any { return t.opts }

func (t toolAnalytics) Run(ctx context.Context, env *tasks.Env) error {
	return runToolAnalytics(ctx, env, t.opts)
}

// runMCPAnalytics is mcp-analytics: servers configured in ~/.claude.json,
// <flake>/.mcp.json and <flake>/.claude/mcp.json, their use in the session
// logs of the window, <flake>/.claude/mcp-analytics.md and the CLAUDE.md
// section. The sessions read move from raw to analyzed, and only from raw.
func runMCPAnalytics(ctx context.Context, env *tasks.Env, o MCPAnalyticsOptions) error {
	if err := requireClaudeDir(env); err != nil {
		return err
	}
	days, claudeJSON, projectsDir := o.Days, env.Expand(o.ClaudeJSON), env.Expand(o.ProjectsDir)
	flake, err := existingFlake(env)
	if err != nil {
		return err
	}
	configured := flakeServers(env, claudeJSON, flake)

	now := env.Now()
	env.Status("reading session logs")
	scan, err := mcpusage.ScanDir(ctx, projectsDir, mcpusage.Options{Since: now.AddDate(0, 0, -days), StateDir: stateDirOf(env),
		Progress: func(done, total int) { env.Status("session logs: %d/%d", done, total) }})
	if errors.Is(err, fs.ErrNotExist) {
		return tasks.Skip("no data: no session logs in %s", fsutil.Tilde(env.Home, projectsDir))
	}
	if err != nil {
		return err
	}
	for _, e := range scan.Errors {
		env.Warn("%v", e)
	}
	if len(configured) == 0 && len(scan.Servers) == 0 {
		return tasks.Skip("no data: no MCP server configured or used in the last %s", text.Plural(days, "day", "days"))
	}
	rep := mcpusage.Report{Home: env.Home, Days: days, Configured: configured, Scan: scan, Now: now}
	if err := writeReportAndSection(env, flake, "mcp-analytics.md", rep.Markdown(), rep.Section()); err != nil {
		return err
	}
	env.Stat("%s", rep.Stat())
	if d := scan.Stats.Describe("the session logs"); d != "" {
		env.Stat("%s", d)
	}
	markAnalyzed(env, scan.Sessions, now)
	return nil
}

// existingFlake is the flake directory, or a skip when it is not one.
func existingFlake(env *tasks.Env) (string, error) {
	flake := flakeOf(env)
	if fi, err := os.Stat(flake); flake == "" || err != nil || !fi.IsDir() {
		return "", tasks.Skip("flake directory %s not found", fsutil.Tilde(env.Home, flake))
	}
	return flake, nil
}

// flakeServers are the MCP servers the flake sees: the user's and those
// ~/.claude.json keeps for the flake, then those of the flake's own files.
// Servers local to other projects are not this flake's business. A file
// that cannot be read is a warning.
func flakeServers(env *tasks.Env, claudeJSON, flake string) []mcpusage.Server {
	cj, err := mcpusage.ReadClaudeJSON(claudeJSON)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		env.Warn("%v", err)
	}
	var configured []mcpusage.Server
	for _, s := range cj.Servers {
		if s.Scope == mcpusage.User || s.Project == flake {
			configured = append(configured, s)
		}
	}
	ps, err := mcpusage.ReadProject(flake)
	if err != nil {
		env.Warn("%v", err)
	}
	return append(configured, ps...)
}

// markAnalyzed moves the sessions read from raw to analyzed, and only from
// raw; in a dry run it only says how many it would consider.
func markAnalyzed(env *tasks.Env, sessions []mcpusage.Session, now time.Time) {
	if env.DryRun {
		env.Action("would mark the raw sessions of the %s read as analyzed", text.Plural(len(sessions), "session", "sessions"))
		return
	}
	marked := 0
	for _, s := range sessions {
		changed, err := lifecycle.Advance(s.Path, lifecycle.StageAnalyzed, now)
		if err != nil {
			env.Warn("lifecycle of %s: %v", fsutil.Tilde(env.Home, s.Path), err)
			continue
		}
		if changed {
			marked++
		}
	}
	if marked > 0 {
		env.Action("marked %s analyzed", text.Plural(marked, "raw session", "raw sessions"))
	}
}

// runToolAnalytics is tool-analytics: the tools of packages.nix against
// the fish command log of the window, <flake>/.claude/tool-analytics.md
// and the CLAUDE.md section.
func runToolAnalytics(ctx context.Context, env *tasks.Env, o ToolAnalyticsOptions) error {
	if err := requireClaudeDir(env); err != nil {
		return err
	}
	days := o.Days
	flake, err := existingFlake(env)
	if err != nil {
		return err
	}
	pkgPath := filepath.Join(flake, "modules", "core", "packages.nix")
	if o.Packages != "" {
		pkgPath = env.Expand(o.Packages)
	}
	logPath := env.Expand(o.CommandLog)
	installed, err := toolusage.ReadPackages(pkgPath)
	if errors.Is(err, fs.ErrNotExist) {
		return tasks.Skip("no data: no %s", fsutil.Tilde(env.Home, pkgPath))
	}
	if err != nil {
		return err
	}
	now := env.Now()
	env.Status("reading %s", fsutil.Tilde(env.Home, logPath))
	usage, err := toolusage.ReadLog(ctx, logPath, now.AddDate(0, 0, -days), 0)
	if errors.Is(err, fs.ErrNotExist) {
		return tasks.Skip("no data: no fish command log at %s", fsutil.Tilde(env.Home, logPath))
	}
	if err != nil {
		return err
	}
	rep := toolusage.Report{Installed: installed, Usage: usage, Days: days, Now: now}
	if err := writeReportAndSection(env, flake, "tool-analytics.md", rep.Markdown(), rep.Section()); err != nil {
		return err
	}
	env.Stat("%s", rep.Stat())
	if d := usage.Stats.Describe(filepath.Base(logPath)); d != "" {
		env.Stat("%s", d)
	}
	return nil
}

// writeReportAndSection writes <flake>/.claude/<name> and replaces the
// report's section of <flake>/CLAUDE.md, keeping every other byte of it.
// A flake without a CLAUDE.md gets none (the generator owns that file).
// In a dry run it only says what it would write.
func writeReportAndSection(env *tasks.Env, flake, name string, report, section []byte) error {
	reportPath := filepath.Join(flake, ".claude", name)
	claudeMD := filepath.Join(flake, "CLAUDE.md")
	heading, _, _ := bytes.Cut(section, []byte("\n"))
	doc, err := os.ReadFile(claudeMD)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		doc = nil
		env.Stat("no %s: section %s not written", fsutil.Tilde(env.Home, claudeMD), heading)
	case err != nil:
		return err
	}
	var updated []byte
	if doc != nil {
		updated = mdsection.Replace(doc, section)
	}
	if env.DryRun {
		env.Action("would write %s", fsutil.Tilde(env.Home, reportPath))
		if doc != nil && !bytes.Equal(doc, updated) {
			env.Action("would update the section %s of %s", heading, fsutil.Tilde(env.Home, claudeMD))
		}
		return nil
	}
	if err := writeFileAtomic(reportPath, report); err != nil {
		return fmt.Errorf("writing %s: %w", reportPath, err)
	}
	env.Action("wrote %s", fsutil.Tilde(env.Home, reportPath))
	if doc != nil && !bytes.Equal(doc, updated) {
		if err := fsutil.WriteAtomic(claudeMD, updated); err != nil {
			return fmt.Errorf("writing %s: %w", claudeMD, err)
		}
		env.Action("updated the section %s of %s", heading, fsutil.Tilde(env.Home, claudeMD))
	}
	return nil
}
