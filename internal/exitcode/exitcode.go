// Package exitcode names the exit codes of DESIGN.md's command line. It is
// a leaf: config, dag and schedule give their errors an ExitCode method
// that returns one of these, and the command line reads it with one
// errors.As, next to main.
package exitcode

// The exit codes.
const (
	// OK: done, warnings allowed.
	OK = 0
	// Failed: a critical task failed (or any task, with --strict), or
	// anything else went wrong.
	Failed = 1
	// Usage: a usage or configuration error.
	Usage = 2
	// Locked: another run holds the lock.
	Locked = 3
	// Interrupted: Ctrl-C, SIGTERM or SIGHUP.
	Interrupted = 130
)
