// Package render turns the scheduler's events into output, and owns the
// run's log files and the questions asked at the keyboard.
//
// It owns:
//   - the four output modes of DESIGN.md's "Output": tty (a live area of
//     running tasks redrawn at most every 100 ms, with the build view
//     under a build (buildview.go), one permanent line per finished
//     task), plain (one timestamped line per event, never an
//     escape code), json (one object per line) and quiet (only failures
//     and warnings, at the end);
//   - in a run with hosts (tasks whose events carry a Host): a lane per
//     host in the live area (lanes.go: the host's step, its progress and
//     its time left, unfolded when few, one line each when many), the
//     host first on plain's lines of its tasks, a host field on json's,
//     a table of the hosts in the summary (hostsummary.go), host labels
//     in the metrics; a run without hosts is drawn as it always was;
//   - the summary printed after a run;
//   - the log directory of a run (<task>.log, run.log), its retention,
//     the per-task cap (log_max: head and tail kept, the cut said) and
//     the one goroutine that writes it, so tasks never wait on the disk
//     (logwriter.go);
//   - the display the renderers draw on, which drops its output once a
//     write to it fails (a closed terminal, a pipe nobody reads): the run
//     never depends on someone watching;
//   - the questions asked at the keyboard: one Conversation per run owns
//     the terminal's questions, and each task asks through its own
//     Prompter (conversation.go, prompt.go). One question is on screen at
//     a time, as one block under its task's label, drawn by the live
//     display under its area, which keeps updating; the system's
//     questions come first, then by phase (block.go draws a block,
//     terminal.go reads the keys).
//
// Every status line a task sets reaches its renderer (the scheduler drops
// none); rate limiting happens here, where the output is drawn, and never
// loses the newest line: tty keeps the latest status of each task and
// draws it at the next tick, plain (every 2 s) and json (every 50 ms) hold
// back a line that comes too soon and write it at the first tick after
// its interval (status.go). The ticks come from Options.Ticker, so tests
// drive them.
//
// Text that comes from a task (its status, reason, warnings, the tables
// and questions it shows, the last lines of its log) may hold file names
// and command output: it reaches the terminal escaped (internal/termtext),
// a control character shown as \x1b, never acted on; json lines carry
// such characters as JSON escapes only.
//
// It must never decide anything about scheduling, run a command, or read
// a task's state from anywhere but the events and the Summary it is given.
// It keeps no global state: writers, clock, colour and terminal width all
// come in through Options, and pterm's package-level defaults are never
// touched. pterm gives the styles and the spinner; the live area is drawn
// here (cursor up, clear to end, one write per frame) because pterm's
// AreaPrinter writes to os.Stdout whenever its writer is not a terminal
// file, wraps at os.Stdout's width and shares one package-wide cursor, so
// it could be neither tested on a buffer nor run twice in one process.
//
// Finished-task symbols, the same in tty, plain and the summary:
//
//	✔  succeeded
//	⚠  failed, non-critical (a warning: the run goes on)
//	✖  failed critical, upstream-failed, canceled (the state word says which;
//	   only a failed task is a root cause)
//	↷  skipped, declined (on purpose; the reason says why)
package render
