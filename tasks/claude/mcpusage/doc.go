// Package mcpusage knows where Claude Code's MCP servers are configured
// (~/.claude.json, for the user and per project, and a project's .mcp.json
// and .claude/mcp.json) and how much they were used, read from the session
// logs ~/.claude/projects/<project>/<session>.jsonl: invocations, the
// sessions that used each server, and the tokens of the messages that
// called it, with their estimated cost.
//
// Session logs are streamed line by line (package jsonl): a log of a
// gigabyte costs a few buffers. Logs not modified within the window are
// not opened at all.
//
// mcpusage never writes and never prints; the tasks decide what to do
// with a Scan.
package mcpusage
