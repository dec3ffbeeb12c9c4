package git

import (
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// Specs returns accept(8), commit(8) and push(14):
//
//	activate ─▶ accept ─▶ commit ─▶ push
//	commit ◀┄┄ claude-config, mcp-analytics, tool-analytics, learn-review
//
// accept needs only activate, so "Keep this configuration?" comes right
// after the activation; commit comes after the tasks that rewrite files in
// the flake, so the commit holds their changes. A "no" to accept skips
// commit and push (and generations, which needs accept too).
func Specs() []tasks.Spec {
	return []tasks.Spec{
		{
			Name:        "accept",
			PerHost:     true,
			Phase:       8,
			Description: "keep the new configuration, or reject it and roll back",
			Groups:      []string{"git"},
			Needs:       []string{"activate"},
			After:       []string{"diff"}, // its question shows the diff
			Interactive: true,
			Root:        true, // a rejection rolls back
			Estimate:    30 * time.Second,
			Task:        Accept{},
		},
		{
			Name:        "commit",
			Phase:       8,
			Description: "commit flake.lock and the flake's tracked changes (untracked files only when picked)",
			Groups:      []string{"git"},
			Needs:       []string{"accept"},
			After:       []string{"claude-config", "mcp-analytics", "tool-analytics", "learn-review"},
			Interactive: true,
			UsesFlake:   true,
			Estimate:    20 * time.Second,
			Task:        Commit{},
		},
		{
			Name:        "push",
			Phase:       14,
			Description: "push the flake repository's new commits",
			Groups:      []string{"git"},
			Needs:       []string{"commit"},
			Interactive: true,
			DryRun:      true,
			UsesFlake:   true,
			Estimate:    5 * time.Second,
			Task:        Push{},
		},
	}
}
