// Package housekeeping holds the tasks that look after the home
// directory's disk space: disk (seed phase 10), a read-only analysis of
// what grows, and caches (seed phase 11), which cleans tool caches.
//
// What it must never do: delete anything that was not listed to the
// person (or, without a terminal, in the log) first and agreed to by an
// answer, --yes or a configured policy; follow a symlink out of a folder
// it cleans; clean the home directory itself, "/", or a folder outside the
// home that was not configured explicitly for it. All file-system work
// goes through tasks/fsutil.
package housekeeping

import (
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// Specs returns the family's built-in tasks, with the names, seeds and
// groups of DESIGN.md's default graph.
func Specs() []tasks.Spec {
	return []tasks.Spec{
		{
			Name:        "disk",
			Seed:        10,
			Description: "find oversized logs, sessions, JSON files and backups; Claude data health",
			Groups:      []string{"analytics"},
			DryRun:      true,
			Estimate:    5 * time.Second,
			Task:        &Disk{Options: DefaultDiskOptions()},
		},
		{
			Name:        "caches",
			Seed:        11,
			Description: "size tool caches and clean the ones you agree to",
			Groups:      []string{"cleanup"},
			Cleanup:     true,
			DryRun:      true,
			Estimate:    10 * time.Second,
			Task:        &Caches{Options: DefaultCachesOptions()},
		},
	}
}
