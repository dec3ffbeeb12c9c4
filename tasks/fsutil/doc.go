// Package fsutil is the file-system ground the housekeeping tasks stand on:
// a parallel directory walker (walk.go, sharing out folders through
// walkqueue.go), directory sizing like du -sb
// (size.go), a deletion helper that cannot delete outside the folder it
// was given (remove.go) and deletes an entry only if it is still what was
// listed (listed.go), mount-point detection (mounts.go), replacing a file
// atomically (atomic.go), and the few text
// helpers the tasks share to show what they found: sizes, ~ paths, tables
// (units.go, text.go).
//
// What it must never do: follow a symbolic link (every entry is looked at
// with lstat semantics, every directory is opened with O_NOFOLLOW), enter
// a mount point — another file system, or a bind mount that shows the
// same device — delete a path that is not strictly inside a root the
// caller was allowed to clean, or delete something other than what was
// listed. Errors met on the way (an unreadable folder, a file that
// vanished) are collected and handed back; they never end a walk early.
//
// fsutil imports nothing of this project's but the leaf internal/termtext
// (the tables and ~ paths it makes are escaped for the terminal), and
// never prints.
package fsutil
