package learn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// Input is what an analyzer reads and how it judges.
type Input struct {
	Home        string
	Flake       string // the flake directory: the default project
	LearningDir string // ~/.claude/learning
	ClaudeJSON  string // ~/.claude.json
	ProjectsDir string // ~/.claude/projects
	Now         time.Time
	// Days is the window: records older than Now - Days are ignored.
	Days int
	// Thresholds are this analyzer's, from thresholds.json (Days aside).
	Thresholds Thresholds
	// MaxLine is the longest JSONL line decoded (jsonl.DefaultMaxLine when 0).
	MaxLine int
	// DryRun: learn-meta reports its threshold changes without writing.
	DryRun bool
	// StateDir keeps what the session logs and the learning files read
	// so far left (see mcpusage.Options.StateDir, readLedger); empty:
	// they are read whole.
	StateDir string
	// Status receives progress lines; may be nil.
	Status func(string)
}

// Since is the start of the window.
func (in Input) Since() time.Time { return in.Now.AddDate(0, 0, -in.Days) }

func (in Input) status(format string, args ...any) {
	if in.Status != nil {
		in.Status(fmt.Sprintf(format, args...))
	}
}

// tilde shortens a path under the home directory for display.
func (in Input) tilde(p string) string { return fsutil.Tilde(in.Home, p) }

// Result is what an analyzer found.
type Result struct {
	Suggestions []Suggestion
	// Stats are lines for the summary: what was read, lines skipped.
	Stats []string
	// Actions are changes the analyzer made itself (learn-meta only).
	Actions []string
	// Warnings are problems that did not stop the analysis.
	Warnings []string
	// Write are files the task is to write atomically, except in a dry
	// run (learn-meta's thresholds.json).
	Write []File
}

// File is a whole file's new content.
type File struct {
	Path string
	Data []byte
}

func (r *Result) stat(format string, args ...any) {
	r.Stats = append(r.Stats, fmt.Sprintf(format, args...))
}

func (r *Result) skipped(st jsonl.Stats, where string) {
	if d := st.Describe(where); d != "" {
		r.Stats = append(r.Stats, d)
	}
}

// NoDataError says the analyzer's input is absent: it is skipped, not failed.
type NoDataError struct{ What string }

func (e *NoDataError) Error() string { return "no data: " + e.What }

func noData(format string, args ...any) error {
	return &NoDataError{What: fmt.Sprintf(format, args...)}
}

// IsNoData reports whether err is a NoDataError; it returns its text.
func IsNoData(err error) (string, bool) {
	var nd *NoDataError
	if errors.As(err, &nd) {
		return nd.Error(), true
	}
	return "", false
}

// Analyzer is one of the seven.
type Analyzer struct {
	Name        string // the task name
	Description string
	// Reads names what it reads, for `rebuild list` and the docs.
	Reads string
	Run   func(ctx context.Context, in Input) (Result, error)
}

// Analyzers returns the seven analyzers in the order of PHASES.md.
func Analyzers() []Analyzer {
	return []Analyzer{
		{Name: "learn-permissions", Run: Permissions,
			Description: "permission approvals that recur → allow-list patterns",
			Reads:       "~/.claude/learning/permission_approvals.jsonl"},
		{Name: "learn-mcp", Run: MCP,
			Description: "MCP servers configured but unused, or configured twice",
			Reads:       "~/.claude.json, <project>/.mcp.json, <project>/.claude/mcp.json, ~/.claude/projects/*/*.jsonl"},
		{Name: "learn-context", Run: Context,
			Description: "CLAUDE.md sections loaded often but rarely relevant (prune) or often relevant (move up)",
			Reads:       "~/.claude/learning/context_usage.jsonl"},
		{Name: "learn-workflows", Run: Workflows,
			Description: "recurring command sequences → slash commands",
			Reads:       "~/.claude/learning/workflow_commands.jsonl"},
		{Name: "learn-instructions", Run: Instructions,
			Description: "policies often broken → stronger wording",
			Reads:       "~/.claude/learning/policy_violations.jsonl"},
		{Name: "learn-cross-project", Run: CrossProject,
			Description: "patterns adopted in one project that fit projects of the same kind",
			Reads:       "~/.claude/learning/project_patterns.jsonl"},
		{Name: "learn-meta", Run: Meta,
			Description: "acceptance rate per analyzer → thresholds.json",
			Reads:       "~/.claude/learning/meta_metrics.jsonl"},
	}
}

// readAnalyzerLedger is readLedger for the analyzer named, its warning
// (a ledger that could not be kept) added to res.
func readAnalyzerLedger(ctx context.Context, in Input, analyzer string, sh *shape, res *Result) (*ledger, error) {
	l, warning, err := readLedger(ctx, in, analyzer, sh)
	if warning != nil {
		res.Warnings = append(res.Warnings, warning.Error())
	}
	return l, err
}
