package learn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks/claude/mcpusage"
)

// MCP is learn-mcp: the MCP servers configured in ~/.claude.json (for the
// user and per project) and in every known project's .mcp.json and
// .claude/mcp.json,
// against their use in the session logs of the window.
//
//   - unused: a server no session it was available to called, over at
//     least MinOccurrences such sessions → remove it (confidence 0.6 +
//     0.05 per session);
//   - configured twice: a project-level entry identical to the user-level
//     one (or a local entry identical to the project file's) → remove the
//     narrower copy (confidence 0.9). Entries of the same name that differ
//     are an override, not a duplicate, and are left alone.
//
// Known projects are those ~/.claude.json lists, those the session logs
// were recorded in, and the flake.
func MCP(ctx context.Context, in Input) (Result, error) {
	var res Result
	cj, err := mcpusage.ReadClaudeJSON(in.ClaudeJSON)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		res.Warnings = append(res.Warnings, err.Error())
	}
	in.status("reading session logs")
	scan, err := mcpusage.ScanDir(ctx, in.ProjectsDir, mcpusage.Options{Since: in.Since(), MaxLine: in.MaxLine,
		Progress: func(done, total int) { in.status("session logs: %d/%d", done, total) }})
	if errors.Is(err, fs.ErrNotExist) {
		return res, noData("no session logs in %s", in.tilde(in.ProjectsDir))
	}
	if err != nil {
		return res, err
	}
	for _, e := range scan.Errors {
		res.Warnings = append(res.Warnings, e.Error())
	}

	projects := map[string]bool{}
	for _, p := range cj.Projects {
		projects[p] = true
	}
	for _, s := range scan.Sessions {
		if s.Project != "" {
			projects[s.Project] = true
		}
	}
	if in.Flake != "" {
		projects[in.Flake] = true
	}
	servers := append([]mcpusage.Server(nil), cj.Servers...)
	for _, p := range sortedSet(projects) {
		ps, err := mcpusage.ReadProject(p)
		if err != nil { // one bad file; the project's other file still counts
			res.Warnings = append(res.Warnings, err.Error())
		}
		servers = append(servers, ps...)
	}
	if len(servers) == 0 {
		return res, noData("no MCP servers configured")
	}
	if len(scan.Sessions) == 0 {
		return res, noData("no session %s", inDays(in.Days))
	}
	res.stat("%s configured, %d used, %s %s", text.Plural(len(servers), "MCP server", "MCP servers"),
		len(scan.Servers), text.Plural(len(scan.Sessions), "session", "sessions"), inDays(in.Days))
	res.skipped(scan.Stats, "the session logs")

	// available returns the sessions a server was loaded in, and those of
	// them that called it.
	available := func(s mcpusage.Server) (avail, used []string) {
		for _, ses := range scan.Sessions {
			if s.Scope != mcpusage.User && !within(ses.Project, s.Project) {
				continue
			}
			avail = append(avail, ses.ID)
			if ses.Servers[s.Name] > 0 {
				used = append(used, ses.ID)
			}
		}
		return avail, used
	}

	suggested := map[string]bool{} // file + path + name
	entryKey := func(s mcpusage.Server) string {
		return s.File + "\x00" + strings.Join(s.Path, "\x00") + "\x00" + s.Name
	}
	for _, s := range servers {
		avail, used := available(s)
		if len(used) > 0 || len(avail) < in.Thresholds.MinOccurrences {
			continue
		}
		conf := round2(0.6 + 0.05*float64(len(avail)))
		if !meets(conf, in.Thresholds.Confidence) {
			continue
		}
		sessions := "the 1 session"
		if len(avail) != 1 {
			sessions = fmt.Sprintf("any of the %d sessions", len(avail))
		}
		ev := fmt.Sprintf("not called in %s it was loaded in over %s", sessions, text.Plural(in.Days, "day", "days"))
		res.Suggestions = append(res.Suggestions, removeServer(in, s, conf,
			fmt.Sprintf("remove the unused MCP server %q from %s (%s)", s.Name, s.Where(in.Home), ev), ev, avail))
		suggested[entryKey(s)] = true
	}

	// Duplicates: the narrower entry of two identical ones is removed.
	rank := map[mcpusage.Scope]int{mcpusage.User: 0, mcpusage.Project: 1, mcpusage.Local: 2}
	for i, narrow := range servers {
		if narrow.Scope == mcpusage.User || suggested[entryKey(narrow)] {
			continue
		}
		for j, wide := range servers {
			if i == j || wide.Name != narrow.Name || rank[wide.Scope] >= rank[narrow.Scope] {
				continue
			}
			if wide.Scope != mcpusage.User && wide.Project != narrow.Project {
				continue
			}
			if !mcpusage.SameCommand(wide.Raw, narrow.Raw) {
				continue
			}
			avail, _ := available(narrow)
			ev := fmt.Sprintf("configured identically in %s", wide.Where(in.Home))
			res.Suggestions = append(res.Suggestions, removeServer(in, narrow, 0.9,
				fmt.Sprintf("remove the duplicate MCP server %q from %s (%s)", narrow.Name, narrow.Where(in.Home), ev), ev, avail))
			suggested[entryKey(narrow)] = true
			break
		}
	}
	return res, nil
}

func removeServer(in Input, s mcpusage.Server, conf float64, text, evidence string, sessions []string) Suggestion {
	raw := string(s.Raw)
	var v any
	if json.Unmarshal(s.Raw, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			raw = string(b)
		}
	}
	where := "mcpServers"
	if len(s.Path) > 1 {
		where = fmt.Sprintf("the mcpServers of project %s", s.Project)
	}
	return Suggestion{
		ID:         makeID("learn-mcp", string(RemoveMCPServer), s.File, strings.Join(s.Path, "/"), s.Name),
		Analyzer:   "learn-mcp",
		Kind:       RemoveMCPServer,
		Text:       text,
		Confidence: conf,
		Apply:      fmt.Sprintf("removes %q from %s in %s", s.Name, where, in.tilde(s.File)),
		Undo:       fmt.Sprintf("add it back to %s in %s: %q: %s", where, in.tilde(s.File), s.Name, raw),
		Target:     s.File,
		Sessions:   sessions,
		Evidence:   evidence,
		Server:     s.Name,
		JSONPath:   append([]string(nil), s.Path...),
	}
}

// within reports whether dir is project or inside it.
func within(dir, project string) bool {
	if dir == "" || project == "" {
		return false
	}
	rel, err := filepath.Rel(project, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func sortedSet(m map[string]bool) []string {
	out := slices.Sorted(maps.Keys(m))
	return out
}
