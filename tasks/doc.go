// Package tasks defines the contract between the scheduler and the work it
// runs: a Task is one method, Run, and everything it may touch comes in
// through its Env (log writer, status line, prompts, values handed on by
// earlier tasks, the clock, the command runner, configuration).
//
// A built-in task's own options are typed: it is a Configurable, whose
// options struct DecodeOptions fills from its [task.NAME] table and
// checks, before the run starts. Values handed from one task to the next
// go through a typed Key; those that cross from one family to another
// (the Activation, the diff's summary) are declared here, so that no
// family imports another.
//
// A task never prints to the terminal and never imports render or schedule:
// it writes to the writers it is given and reports through its Env. The
// built-in tasks live in sub-packages, one per family (nixos, git,
// claude, housekeeping, cleanup), each declaring its tasks in its
// specs.go; the catalogue that registers them is tasks/catalog. What
// several families share lives in leaves no family owns: fsutil, proc,
// lifecycle.
package tasks
