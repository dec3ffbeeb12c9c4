// Package logcursor keeps how far an append-only log has been read, so
// that a reader reads each byte once, ever: a Cursor per log (device,
// inode, size, the offset just after its last complete line, a hash of
// bytes sampled before that offset), and a Store, one file of the state
// directory that holds what a reader kept of its logs, locked while it is
// read and written: a journal of a whole state (replaced through a
// temporary file) and of what each run changed since, appended.
//
// A log whose Cursor no longer holds — another inode, shorter than the
// offset read, the sampled bytes changed — was truncated or replaced and
// is read again from its start. The session logs' scan (mcpusage) and
// the learning analyzers (learn) keep their records this way.
//
// logcursor imports nothing of this project's but the leaf
// internal/safefile, and never prints.
package logcursor
