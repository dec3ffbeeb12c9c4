// Package mcpusage knows where Claude Code's MCP servers are configured
// (~/.claude.json, for the user and per project, and a project's .mcp.json
// and .claude/mcp.json) and how much they were used, read from the session
// logs ~/.claude/projects/<project>/<session>.jsonl: invocations, the
// sessions that used each server, and the tokens of the messages that
// called it, with their estimated cost.
//
// Session logs are streamed line by line (package jsonl): a log of a
// gigabyte costs a few buffers. Logs not modified within the window are
// not opened at all. Lines are read by parseLine, which accepts exactly
// the lines encoding/json would and keeps only the fields counted.
//
// With a state directory (Options.StateDir), each log's complete lines are
// read once, ever: a record per log (incremental.go, record.go) keeps a
// cursor (package logcursor: device, inode, size, times, offset of the
// last complete line, a hash of the bytes sampled before it) and every
// line that carries a time, reduced to what a scan counts, with what they
// all count. A scan replays the record with its own window, so a window
// moving on needs no log read again; it reads only the bytes appended
// since, and a log truncated or replaced from its start. The records are
// kept in claude-sessions.rec, their lines apart in a lines file, so that
// a scan reads only the lines of the logs that changed or that its window
// cuts through, and writes only the lines and the records that are new.
//
// mcpusage never writes and never prints; the tasks decide what to do
// with a Scan.
package mcpusage
