package git

import (
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// Specs returns accept(8) and push(14): activate ─▶ accept ─▶ push, and
// accept after the tasks that rewrite files in the flake
// (claude-config, mcp-analytics, tool-analytics, learn-review), so the
// commit holds their changes.
func Specs() []tasks.Spec {
	return []tasks.Spec{
		{
			Name:        "accept",
			Seed:        8,
			Description: "keep the new configuration and commit it, or reject it and roll back",
			Groups:      []string{"git"},
			Needs:       []string{"activate"},
			After:       []string{"claude-config", "mcp-analytics", "tool-analytics", "learn-review"},
			Interactive: true,
			Root:        true, // a rejection rolls back
			UsesFlake:   true,
			Estimate:    30 * time.Second,
			Task:        Accept{},
		},
		{
			Name:        "push",
			Seed:        14,
			Description: "push the flake repository's new commits",
			Groups:      []string{"git"},
			Needs:       []string{"accept"},
			Interactive: true,
			DryRun:      true,
			UsesFlake:   true,
			Estimate:    5 * time.Second,
			Task:        Push{},
		},
	}
}
