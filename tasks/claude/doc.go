// Package claude holds the tasks that look after Claude Code's data:
// the configuration generator, the analytics, the analyzers and the
// learning cycle. The session lifecycle sidecars they advance are
// tasks/lifecycle's; the cleanup of sessions and backups is
// tasks/cleanup's. Nothing here moves a session's lifecycle stage
// backwards.
package claude
