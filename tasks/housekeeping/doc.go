// Package housekeeping holds disk (phase 10), a read-only analysis
// of what grows in the home directory: oversized logs, sessions, JSON
// files and backups, and the health of Claude's data. It deletes
// nothing; the tasks that clean are tasks/cleanup's. All file-system
// work goes through tasks/fsutil.
package housekeeping
