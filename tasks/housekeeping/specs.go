package housekeeping

import (
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// Specs returns the family's built-in tasks, with the names, phases and
// groups of DESIGN.md's default graph.
func Specs() []tasks.Spec {
	return []tasks.Spec{
		{
			Name:        "disk",
			Phase:       10,
			Description: "find oversized logs, sessions, JSON files and backups; Claude data health",
			Groups:      []string{"analytics"},
			DryRun:      true,
			Estimate:    5 * time.Second,
			Task:        &Disk{Options: DefaultDiskOptions()},
		},
	}
}
