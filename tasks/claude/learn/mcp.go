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
	scan, err := scanSessions(ctx, in, &res)
	if err != nil {
		return res, err
	}
	servers := configuredServers(cj, knownProjects(cj, scan, in.Flake), &res)
	if len(servers) == 0 {
		return res, noData("no MCP servers configured")
	}
	if len(scan.Sessions) == 0 {
		return res, noData("no session %s", inDays(in.Days))
	}
	res.stat("%s configured, %d used, %s %s", text.Plural(len(servers), "MCP server", "MCP servers"),
		len(scan.Servers), text.Plural(len(scan.Sessions), "session", "sessions"), inDays(in.Days))
	res.skipped(scan.Stats, "the session logs")

	sessions := newMCPSessions(scan.Sessions)
	suggested := map[string]bool{} // entryKey of every server already suggested for removal
	res.Suggestions = append(res.Suggestions, unusedServers(in, sessions, servers, suggested)...)
	res.Suggestions = append(res.Suggestions, duplicateServers(in, sessions, servers, suggested)...)
	return res, nil
}

// scanSessions reads the session logs of the window; a log it could not
// read is a warning, a missing projects folder is "no data".
func scanSessions(ctx context.Context, in Input, res *Result) (*mcpusage.Scan, error) {
	in.status("reading session logs")
	scan, err := mcpusage.ScanDir(ctx, in.ProjectsDir, mcpusage.Options{Since: in.Since(), MaxLine: in.MaxLine, StateDir: in.StateDir,
		Progress: func(done, total int) { in.status("session logs: %d/%d", done, total) }})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, noData("no session logs in %s", in.tilde(in.ProjectsDir))
	}
	if err != nil {
		return nil, err
	}
	for _, e := range scan.Errors {
		res.Warnings = append(res.Warnings, e.Error())
	}
	return scan, nil
}

// knownProjects are those ~/.claude.json lists, those the session logs were
// recorded in, and the flake, sorted.
func knownProjects(cj mcpusage.ClaudeJSON, scan *mcpusage.Scan, flake string) []string {
	projects := map[string]bool{}
	for _, p := range cj.Projects {
		projects[p] = true
	}
	for _, s := range scan.Sessions {
		if s.Project != "" {
			projects[s.Project] = true
		}
	}
	if flake != "" {
		projects[flake] = true
	}
	return sortedSet(projects)
}

// configuredServers are the servers of ~/.claude.json followed by those of
// each project's files. One unreadable file is a warning; the project's
// other file still counts.
func configuredServers(cj mcpusage.ClaudeJSON, projects []string, res *Result) []mcpusage.Server {
	servers := append([]mcpusage.Server(nil), cj.Servers...)
	for _, p := range projects {
		ps, err := mcpusage.ReadProject(p)
		if err != nil {
			res.Warnings = append(res.Warnings, err.Error())
		}
		servers = append(servers, ps...)
	}
	return servers
}

// mcpSessions are the sessions of the window, asked which of them a server
// was loaded in.
type mcpSessions struct {
	list []mcpusage.Session
	// dirs are the sessions' folders, each once, and dir the index of
	// each session's: whether a folder is inside a project is asked once
	// per folder, not once per session.
	dirs []string
	dir  []int
}

func newMCPSessions(list []mcpusage.Session) mcpSessions {
	ss := mcpSessions{list: list, dir: make([]int, len(list))}
	index := map[string]int{}
	for i, ses := range list {
		d, ok := index[ses.Project]
		if !ok {
			d = len(ss.dirs)
			index[ses.Project] = d
			ss.dirs = append(ss.dirs, ses.Project)
		}
		ss.dir[i] = d
	}
	return ss
}

// available returns the sessions a server was loaded in, and those of them
// that called it. A user-level server is loaded everywhere; a project or
// local one only in sessions recorded inside its project.
func (ss mcpSessions) available(s mcpusage.Server) (avail, used []string) {
	var inside []bool
	if s.Scope != mcpusage.User {
		inside = make([]bool, len(ss.dirs))
		for d, dir := range ss.dirs {
			inside[d] = within(dir, s.Project)
		}
	}
	for i, ses := range ss.list {
		if inside != nil && !inside[ss.dir[i]] {
			continue
		}
		avail = append(avail, ses.ID)
		if ses.Servers[s.Name] > 0 {
			used = append(used, ses.ID)
		}
	}
	return avail, used
}

// entryKey names one configured entry: its file, its JSON path and its name.
func entryKey(s mcpusage.Server) string {
	return s.File + "\x00" + strings.Join(s.Path, "\x00") + "\x00" + s.Name
}

// unusedServers suggests removing each server no session it was loaded in
// called, over at least MinOccurrences sessions, and marks it in suggested.
func unusedServers(in Input, sessions mcpSessions, servers []mcpusage.Server, suggested map[string]bool) []Suggestion {
	var out []Suggestion
	for _, s := range servers {
		avail, used := sessions.available(s)
		if len(used) > 0 || len(avail) < in.Thresholds.MinOccurrences {
			continue
		}
		conf := round2(0.6 + 0.05*float64(len(avail)))
		if !meets(conf, in.Thresholds.Confidence) {
			continue
		}
		loadedIn := "the 1 session"
		if len(avail) != 1 {
			loadedIn = fmt.Sprintf("any of the %d sessions", len(avail))
		}
		ev := fmt.Sprintf("not called in %s it was loaded in over %s", loadedIn, text.Plural(in.Days, "day", "days"))
		out = append(out, removeServer(in, s, conf,
			fmt.Sprintf("remove the unused MCP server %q from %s (%s)", s.Name, s.Where(in.Home), ev), ev, avail))
		suggested[entryKey(s)] = true
	}
	return out
}

// scopeRank orders scopes from the widest (the user's) to the narrowest.
func scopeRank(s mcpusage.Scope) int {
	switch s {
	case mcpusage.Project:
		return 1
	case mcpusage.Local:
		return 2
	}
	return 0
}

// duplicateServers suggests removing the narrower entry of two identical
// ones, skipping entries already suggested for removal.
func duplicateServers(in Input, sessions mcpSessions, servers []mcpusage.Server, suggested map[string]bool) []Suggestion {
	var out []Suggestion
	for i, narrow := range servers {
		if narrow.Scope == mcpusage.User || suggested[entryKey(narrow)] {
			continue
		}
		wide, ok := widerTwin(servers, i)
		if !ok {
			continue
		}
		avail, _ := sessions.available(narrow)
		ev := fmt.Sprintf("configured identically in %s", wide.Where(in.Home))
		out = append(out, removeServer(in, narrow, 0.9,
			fmt.Sprintf("remove the duplicate MCP server %q from %s (%s)", narrow.Name, narrow.Where(in.Home), ev), ev, avail))
		suggested[entryKey(narrow)] = true
	}
	return out
}

// widerTwin returns the first entry of a wider scope that configures
// servers[i] identically: same name, the user's or the same project's,
// same command. An entry of the same name that differs is an override.
func widerTwin(servers []mcpusage.Server, i int) (mcpusage.Server, bool) {
	narrow := servers[i]
	for j, wide := range servers {
		if i == j || wide.Name != narrow.Name || scopeRank(wide.Scope) >= scopeRank(narrow.Scope) {
			continue
		}
		if wide.Scope != mcpusage.User && wide.Project != narrow.Project {
			continue
		}
		if mcpusage.SameCommand(wide.Raw, narrow.Raw) {
			return wide, true
		}
	}
	return mcpusage.Server{}, false
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
