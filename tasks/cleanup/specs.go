package cleanup

import (
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// Specs returns the family's tasks, caches (phase 11), sessions (phase 12)
// and backups (phase 13), with DESIGN.md's names, groups and edges.
func Specs() []tasks.Spec {
	return []tasks.Spec{
		{
			Name:        "caches",
			Phase:       11,
			Description: "size tool caches and clean the ones you agree to",
			Groups:      []string{"cleanup"},
			Interactive: true,
			DryRun:      true,
			Estimate:    10 * time.Second,
			Task:        &Caches{Options: DefaultCachesOptions()},
		},
		{
			Name:        "sessions",
			Phase:       12,
			Description: "delete or archive the Claude sessions whose insights are implemented",
			Groups:      []string{"claude", "cleanup"},
			After:       []string{"mcp-analytics", "learn-review"},
			Interactive: true,
			DryRun:      true,
			Estimate:    2 * time.Second,
			Task:        &Sessions{Options: DefaultSessionsOptions()},
		},
		{
			Name:        "backups",
			Phase:       13,
			Description: "delete old *.backup-* files of the Claude configuration",
			Groups:      []string{"claude", "cleanup"},
			After:       []string{"claude-config"},
			Interactive: true,
			DryRun:      true,
			Estimate:    time.Second,
			Task:        &Backups{Options: DefaultBackupsOptions()},
		},
	}
}
