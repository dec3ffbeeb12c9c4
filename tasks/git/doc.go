// Package git owns the tasks that keep and record the configuration in
// the flake's git repository: accept (keep the activated system, or reject
// it and roll back), commit (flake.lock and the tracked changes of the
// flake's folder; untracked files only when picked) and push.
//
// Git runs as the invoking user, never through the elevation program; only
// accept's rollback needs root. Git is never asked for credentials on the
// terminal (GIT_TERMINAL_PROMPT=0, ssh in batch mode unless configured):
// it runs in its own process group, where a prompt would hang the run.
package git
