// Package cleanup holds the tasks that delete what the person agreed to
// let go: caches (tool caches, phase 11), sessions (Claude sessions
// whose insights are implemented, phase 12) and backups (old *.backup-*
// files of the Claude configuration, phase 13). The read-only disk
// analysis is tasks/housekeeping's; the session lifecycle it reads is
// tasks/lifecycle's.
//
// What it must never do: delete anything that was not listed to the
// person (or, without a terminal, in the log) first and agreed to by an
// answer, --yes or a configured policy; follow a symlink out of a folder
// it cleans; clean the home directory itself, "/", or a folder outside the
// home that was not configured explicitly for it. All file-system work
// goes through tasks/fsutil.
package cleanup
