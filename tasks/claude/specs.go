package claude

import (
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
)

// Specs returns the family's tasks: the configuration generator and the
// analytics (configSpecs), then the analyzers and the review
// (learnSpecs).
func Specs() []tasks.Spec {
	return append(configSpecs(), learnSpecs()...)
}

// configSpecs returns claude-config, mcp-analytics and tool-analytics
// (phases 4–6). Their options: ClaudeConfigOptions, MCPAnalyticsOptions,
// ToolAnalyticsOptions.
func configSpecs() []tasks.Spec {
	return []tasks.Spec{
		{
			Name: "claude-config", Phase: 4, Groups: []string{"claude"}, Needs: []string{"activate"},
			Description: "regenerate the Claude Code configuration files (CLAUDE.md, permissions)",
			Estimate:    30 * time.Second,
			Task:        claudeConfig{defaultClaudeConfigOptions()},
		},
		{
			Name: "mcp-analytics", Phase: 5, Groups: []string{"claude", "analytics"}, After: []string{"claude-config"},
			Description: "MCP server use and cost from the session logs; CLAUDE.md section",
			Resources:   []string{tasks.ResourceClaudeMD},
			DryRun:      true,
			Estimate:    5 * time.Second,
			Task:        mcpAnalytics{defaultMCPAnalyticsOptions()},
		},
		{
			Name: "tool-analytics", Phase: 6, Groups: []string{"claude", "analytics"}, After: []string{"claude-config"},
			Description: "installed tools against the commands run; CLAUDE.md section",
			Resources:   []string{tasks.ResourceClaudeMD},
			DryRun:      true,
			Estimate:    2 * time.Second,
			Task:        toolAnalytics{defaultToolAnalyticsOptions()},
		},
	}
}

// learnSpecs returns the seven analyzers and learn-review (phase 7).
// The analyzers are read-only, have no edges and start at once, with the
// build; the review comes after all of them. `--only=learn` selects
// exactly these.
// Options: AnalyzerOptions (LearnMCPOptions for learn-mcp) and
// ReviewOptions.
func learnSpecs() []tasks.Spec {
	var specs []tasks.Spec
	var names []string
	for _, a := range learn.Analyzers() {
		est := 2 * time.Second
		if a.Name == "learn-mcp" {
			est = 5 * time.Second
		}
		specs = append(specs, tasks.Spec{
			Name: a.Name, Phase: 7, Groups: []string{"learn"},
			Description: a.Description,
			DryRun:      true,
			Estimate:    est,
			Task:        analyzerTask{a: a, opts: defaultLearnMCPOptions()},
		})
		names = append(names, a.Name)
	}
	specs = append(specs, tasks.Spec{
		Name: "learn-review", Phase: 7, Groups: []string{"learn"}, After: names,
		Description: "review the analyzers' suggestions and apply the accepted ones",
		Interactive: true,
		// It edits CLAUDE.md files, as the analytics tasks do.
		Resources: []string{tasks.ResourceClaudeMD},
		Estimate:  time.Minute,
		Task:      learnReview{defaultReviewOptions()},
	})
	return specs
}
