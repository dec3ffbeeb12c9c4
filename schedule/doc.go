// Package schedule walks a task graph: it decides what runs when, under
// the rules of DESIGN.md's "Scheduling rules" (needs and after edges,
// concurrency slots taken only when runnable, exclusive resources, the
// critical chain first, critical abort, timeouts, panics caught per task,
// Ctrl-C), and it records history (kept under a size by CompactHistory,
// read from its newest end for ETAs) and holds the single-run lock. The
// lock and the history are opened through internal/safefile: never
// through a link, and only in a state directory of the user or root.
//
// One file per concept: run.go is the Run and its Options, walker.go the
// walk itself (a walker whose fields are the state of one Execute, each
// with its rule), runone.go one task's run (log, timeout, panic,
// outcome), queue.go the order of runnable tasks, hosts.go the bound on
// the hosts at work at once (--parallel-hosts), gate.go a failed gate's
// rollback (each host's own), summary.go the outcome, history.go the
// history file, lock.go the lock.
//
// It never prints: everything it has to say leaves as an Event through a
// Sink. It imports dag and tasks, never render, config or tasks/proc: the
// caller completes each task's environment (EnvFunc) with the
// configuration, the command runner and the terminal.
package schedule
