package claude

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// PublishedAutomation is the generator's flake when there is no local
// checkout.
const PublishedAutomation = "github:jacopone/claude-nixos-automation"

// generatedFiles are the five files the generator rewrites, by the name
// the report gives them.
func generatedFiles(home, flake string) [][2]string {
	return [][2]string{
		{"~/.claude/CLAUDE.md", filepath.Join(home, ".claude", "CLAUDE.md")},
		{"~/.claude/CLAUDE-USER-POLICIES.md", filepath.Join(home, ".claude", "CLAUDE-USER-POLICIES.md")},
		{"./CLAUDE.md", filepath.Join(flake, "CLAUDE.md")},
		{"./.claude/settings.local.json", filepath.Join(flake, ".claude", "settings.local.json")},
		{"./.claude/CLAUDE.local.md", filepath.Join(flake, ".claude", "CLAUDE.local.md")},
	}
}

// maxSnapshot caps how much of a generated file is kept to compare: these
// are a few kilobytes; a runaway generator must not cost gigabytes.
const maxSnapshot = 16 << 20

type snapshot struct {
	exists bool
	data   []byte
	size   int64
	big    bool // larger than maxSnapshot: compared by size only
}

func takeSnapshot(path string) snapshot {
	f, err := os.Open(path)
	if err != nil {
		return snapshot{}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return snapshot{}
	}
	s := snapshot{exists: true, size: fi.Size()}
	if fi.Size() > maxSnapshot {
		s.big = true
		return s
	}
	s.data, _ = io.ReadAll(io.LimitReader(f, maxSnapshot))
	return s
}

// ClaudeConfigOptions are the options of [task.claude-config].
type ClaudeConfigOptions struct {
	Command    *Command `option:"command" doc:"the generator: a list (program and arguments) or a string run with sh -c; unset: nix run <automation>#update-all"`
	Automation string   `option:"automation" doc:"the generator's local checkout, used when it exists (else github:jacopone/claude-nixos-automation)"`
}

func defaultClaudeConfigOptions() ClaudeConfigOptions {
	return ClaudeConfigOptions{Automation: "~/claude-nixos-automation"}
}

// Command is a command line option: a list (program and arguments), or a
// string run with sh -c.
type Command struct {
	Args  []string // the list form
	Shell string   // the string form
}

const allowedCommand = `a list (program and arguments), e.g. ["update-all", "--quiet"], or a string run with sh -c`

// SetOption implements tasks.OptionValue.
func (c *Command) SetOption(raw any) error {
	if s, ok := raw.(string); ok {
		if strings.TrimSpace(s) == "" {
			return &tasks.Invalid{Msg: "empty", Allowed: allowedCommand}
		}
		*c = Command{Shell: s}
		return nil
	}
	var args []string
	switch x := raw.(type) {
	case []string:
		args = append(args, x...)
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return &tasks.Invalid{Msg: "not a list of strings", Allowed: allowedCommand}
			}
			args = append(args, s)
		}
	default:
		return &tasks.Invalid{Msg: "not a string or a list of strings", Allowed: allowedCommand}
	}
	if len(args) == 0 || args[0] == "" {
		return &tasks.Invalid{Msg: "empty", Allowed: allowedCommand}
	}
	*c = Command{Args: args}
	return nil
}

// OptionTOML implements tasks.OptionValue.
func (c *Command) OptionTOML() any {
	if c.Args != nil {
		return c.Args
	}
	return c.Shell
}

// argv is the command to run.
func (c *Command) argv() []string {
	if c.Args != nil {
		return append([]string(nil), c.Args...)
	}
	return []string{"sh", "-c", c.Shell}
}

// claudeConfig is the claude-config task.
type claudeConfig struct{ opts ClaudeConfigOptions }

// Configure implements tasks.Configurable.
func (t claudeConfig) Configure(c config.Task) (tasks.Task, error) {
	t.opts = defaultClaudeConfigOptions()
	err := tasks.DecodeOptions(c, &t.opts)
	return t, err
}

// TaskOptions implements tasks.Configurable.
func (t claudeConfig) TaskOptions() any { return t.opts }

func (t claudeConfig) Run(ctx context.Context, env *tasks.Env) error {
	return runClaudeConfig(ctx, env, t.opts)
}

// generator returns the command to run.
func generator(env *tasks.Env, o ClaudeConfigOptions) []string {
	if o.Command != nil {
		return o.Command.argv()
	}
	local := env.Expand(o.Automation)
	ref := PublishedAutomation
	if fi, err := os.Stat(local); err == nil && fi.IsDir() {
		ref = local
	}
	return []string{"nix", "run", ref + "#update-all"}
}

var (
	totalToolsRE = regexp.MustCompile(`\*\*Total System Tools\*\*:\s*([0-9][0-9,]*)`)
	fishAbbrRE   = regexp.MustCompile(`\*\*Fish Abbreviations\*\*:\s*([0-9][0-9,]*)`)
)

// runClaudeConfig is claude-config: run the generator in the flake
// directory, then report on the five files it writes.
func runClaudeConfig(ctx context.Context, env *tasks.Env, o ClaudeConfigOptions) error {
	if err := requireClaudeDir(env); err != nil {
		return err
	}
	flake := flakeOf(env)
	if fi, err := os.Stat(flake); flake == "" || err != nil || !fi.IsDir() {
		return tasks.Skip("flake directory %s not found", fsutil.Tilde(env.Home, flake))
	}
	args := generator(env, o)
	r := taskRunner(env)
	prog, err := lookProgram(args[0], r.Environ)
	if err != nil {
		return tasks.Skip("generator %s not found", args[0])
	}
	// exec looks a bare name up on our own PATH, not the one the command
	// gets: run what was found on the latter.
	args = append([]string{prog}, args[1:]...)
	files := generatedFiles(env.Home, flake)
	before := make([]snapshot, len(files))
	for i, f := range files {
		before[i] = takeSnapshot(f[1])
	}
	env.Status("running %s", proc.CommandLine(args))
	runErr := r.Run(ctx, proc.Cmd{Args: args, Dir: flake, Log: env.Log, Status: env.StatusFunc()})
	if ctx.Err() != nil {
		return runErr
	}
	for i, f := range files {
		reportFile(env, f[0], before[i], takeSnapshot(f[1]))
	}
	if b, err := os.ReadFile(files[2][1]); err == nil {
		var parts []string
		if m := totalToolsRE.FindSubmatch(b); m != nil {
			parts = append(parts, "System tools: "+string(m[1]))
		}
		if m := fishAbbrRE.FindSubmatch(b); m != nil {
			parts = append(parts, "Fish abbreviations: "+string(m[1]))
		}
		if len(parts) > 0 {
			env.Stat("%s", strings.Join(parts, " | "))
		}
	}
	if runErr != nil {
		var pe *proc.Error
		if errors.As(runErr, &pe) && errors.Is(pe.Err, fs.ErrNotExist) {
			return tasks.Skip("generator %s not found", args[0])
		}
		return fmt.Errorf("generator failed: %w", runErr)
	}
	return nil
}

// reportFile records one generated file: size and unchanged / updated
// (+A −D lines) / untracked (no earlier version to compare with) / EMPTY /
// missing. An update is an action, an empty file a warning, the rest
// statistics.
func reportFile(env *tasks.Env, name string, old, cur snapshot) {
	switch {
	case !cur.exists:
		env.Stat("%s: missing", name)
	case cur.size == 0:
		env.Warn("%s: EMPTY", name)
	case !old.exists:
		env.Stat("%s: %s, untracked", name, fsutil.FormatBytes(cur.size))
	case old.big || cur.big:
		if old.size == cur.size {
			env.Stat("%s: %s, unchanged", name, fsutil.FormatBytes(cur.size))
		} else {
			env.Action("%s: %s, updated", name, fsutil.FormatBytes(cur.size))
		}
	case bytes.Equal(old.data, cur.data):
		env.Stat("%s: %s, unchanged", name, fsutil.FormatBytes(cur.size))
	default:
		add, del := lineChanges(old.data, cur.data)
		env.Action("%s: %s, updated (+%d −%d lines)", name, fsutil.FormatBytes(cur.size), add, del)
	}
}

// lineChanges counts the lines added and deleted between a and b, as
// `diff` would: from the length D of the shortest edit script (Myers,
// O((N+M)·D)), A − Del = M − N and A + Del = D.
func lineChanges(a, b []byte) (added, deleted int) {
	x, y := splitLines(a), splitLines(b)
	// Common prefix and suffix cost nothing and are most of a regenerated file.
	for len(x) > 0 && len(y) > 0 && x[0] == y[0] {
		x, y = x[1:], y[1:]
	}
	for len(x) > 0 && len(y) > 0 && x[len(x)-1] == y[len(y)-1] {
		x, y = x[:len(x)-1], y[:len(y)-1]
	}
	n, m := len(x), len(y)
	if n+m > maxDiffLines {
		return multisetChanges(x, y)
	}
	d := editDistance(x, y)
	return (d + m - n) / 2, (d - (m - n)) / 2
}

func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.Split(s, "\n")
}

// maxDiffLines bounds the exact diff; beyond it lines are compared as
// multisets (the counts can then be lower than diff's for moved lines).
const maxDiffLines = 20000

func multisetChanges(x, y []string) (added, deleted int) {
	count := map[string]int{}
	for _, l := range x {
		count[l]++
	}
	for _, l := range y {
		if count[l] > 0 {
			count[l]--
		} else {
			added++
		}
	}
	for _, c := range count {
		deleted += c
	}
	return added, deleted
}

// editDistance is Myers' shortest edit script length (insertions and
// deletions only).
func editDistance(a, b []string) int {
	n, m := len(a), len(b)
	maxD := n + m
	if maxD == 0 {
		return 0
	}
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	for d := 0; d <= maxD; d++ {
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return d
			}
		}
	}
	return maxD
}
