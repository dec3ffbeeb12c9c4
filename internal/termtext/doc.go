// Package termtext makes text that did not come from rebuild itself — a
// file name read from disk, a line a command printed, a message built
// around either — safe to put on a terminal, by escaping it: a control
// character, a C1 control, an invalid UTF-8 byte or any other rune that
// does not print is written as a visible escape in Go's syntax (\x1b,
// \a, \u009b, \u202e, \xff), as `ls -b` and %q do, so a name cannot set
// the window title, clear the screen or hide a line of a confirmation
// table. Ordinary UTF-8 text stays as it is.
//
// It owns escaping only: removing colour codes from a command's output is
// another package's job. It imports nothing of this project's, so every
// package may use it: the tables of the tasks (tasks/fsutil) and every
// output mode of render.
package termtext
