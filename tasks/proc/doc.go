// Package proc runs external commands for tasks: each in its own process
// group, its output drained continuously into the task's log (a child must
// never block on a full pipe), its latest meaningful line offered as live
// status, canceled with SIGTERM to the whole group and SIGKILL after a
// grace period, and its failure reported with the command line and the
// last lines it printed. A bare program name is looked up on the PATH
// the command runs with and never in the working directory (lookpath.go).
// What a command leaves behind — processes that left its group — is
// killed when it ends, and orphans re-parented to a subreaper rebuild are
// reaped (reap.go), in passes over /proc that commands ending together
// share and that a subreaper skips when nothing can be left (sweep.go,
// procfs.go). ssh.go makes the commands that reach another host:
// ssh's argv, NIX_SSHOPTS, ssh-ng:// URIs and the elevation prefix there.
//
// proc imports nothing of this project's but the leaf helpers
// internal/ansi and internal/tail (which the scheduler and the renderers
// share), and never writes to the terminal unless a command is explicitly
// attached to it.
package proc
