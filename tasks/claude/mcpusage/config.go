package mcpusage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// Scope says where a server is configured.
type Scope string

const (
	// User: ~/.claude.json "mcpServers", loaded in every session.
	User Scope = "user"
	// Local: ~/.claude.json "projects"[path]."mcpServers", one project.
	Local Scope = "local"
	// Project: "mcpServers" of <project>/.mcp.json (where Claude Code keeps
	// a project's shared servers, committed with it) or of
	// <project>/.claude/mcp.json.
	Project Scope = "project"
)

// Server is one configured MCP server.
type Server struct {
	Name    string
	Scope   Scope
	Project string // the project directory, for Local and Project scope
	File    string // the file that configures it
	// Path is the chain of object keys from the file's top level to the
	// "mcpServers" object that holds this server.
	Path []string
	// Raw is the server's configuration as written.
	Raw json.RawMessage
}

// Where describes the server's place for a report: "user (~/.claude.json)".
func (s Server) Where(home string) string {
	switch s.Scope {
	case User:
		return "user (" + fsutil.Tilde(home, s.File) + ")"
	case Local:
		return "local to " + fsutil.Tilde(home, s.Project) + " (" + fsutil.Tilde(home, s.File) + ")"
	default:
		return "project (" + fsutil.Tilde(home, s.File) + ")"
	}
}

// SameCommand reports whether two configurations start the same program
// the same way (whitespace and key order aside).
func SameCommand(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// ClaudeJSON is what ~/.claude.json says about MCP servers and projects.
type ClaudeJSON struct {
	Servers  []Server // user and local scope, sorted by scope, project, name
	Projects []string // every project directory Claude Code knows, sorted
}

type claudeFile struct {
	MCPServers map[string]json.RawMessage `json:"mcpServers"`
	Projects   map[string]struct {
		MCPServers map[string]json.RawMessage `json:"mcpServers"`
	} `json:"projects"`
}

// ReadClaudeJSON reads path (~/.claude.json). A missing file is returned
// as an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadClaudeJSON(path string) (ClaudeJSON, error) {
	var out ClaudeJSON
	f, err := os.Open(path)
	if err != nil {
		return out, err
	}
	defer f.Close()
	var cf claudeFile
	if err := json.NewDecoder(f).Decode(&cf); err != nil {
		return out, fmt.Errorf("%s: %w", path, err)
	}
	for _, name := range slices.Sorted(maps.Keys(cf.MCPServers)) {
		out.Servers = append(out.Servers, Server{Name: name, Scope: User, File: path,
			Path: []string{"mcpServers"}, Raw: cf.MCPServers[name]})
	}
	projects := slices.Sorted(maps.Keys(cf.Projects))
	out.Projects = projects
	for _, p := range projects {
		servers := cf.Projects[p].MCPServers
		for _, name := range slices.Sorted(maps.Keys(servers)) {
			out.Servers = append(out.Servers, Server{Name: name, Scope: Local, Project: p, File: path,
				Path: []string{"projects", p, "mcpServers"}, Raw: servers[name]})
		}
	}
	return out, nil
}

// ProjectFiles are the files that configure a project's servers:
// <project>/.mcp.json, Claude Code's project scope (`claude mcp add
// --scope project` writes it, and a team commits it), and
// <project>/.claude/mcp.json, read as before.
func ProjectFiles(project string) []string {
	return []string{filepath.Join(project, ".mcp.json"), filepath.Join(project, ".claude", "mcp.json")}
}

// ReadProject reads the "mcpServers" of each of ProjectFiles(project), in
// that order. A missing file has no servers and no error; a file that
// cannot be read or parsed is an error naming it, and the other's servers
// are still returned.
func ReadProject(project string) ([]Server, error) {
	var out []Server
	var errs []error
	for _, path := range ProjectFiles(project) {
		servers, err := readProjectFile(project, path)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, servers...)
	}
	return out, errors.Join(errs...)
}

func readProjectFile(project, path string) ([]Server, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cf struct {
		MCPServers map[string]json.RawMessage `json:"mcpServers"`
	}
	if err := json.Unmarshal(data, &cf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Server
	for _, name := range slices.Sorted(maps.Keys(cf.MCPServers)) {
		out = append(out, Server{Name: name, Scope: Project, Project: project, File: path,
			Path: []string{"mcpServers"}, Raw: cf.MCPServers[name]})
	}
	return out, nil
}
