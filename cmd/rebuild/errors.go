package main

import (
	"errors"
	"fmt"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
)

// usageError is a mistake on the command line: exit 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// ExitCode is exitcode.Usage.
func (e *usageError) ExitCode() int { return exitcode.Usage }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitError carries an exit code that was already explained on screen.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// ExitCode is the code the run ended with.
func (e *exitError) ExitCode() int { return e.code }

// exitCoder is an error that knows its exit code, as go-task's errors do:
// usage and configuration errors (config, dag) say 2, a held lock
// (schedule) 3, a finished run its own. Every other error is 1.
//
// *exec.ExitError has the same method: a child's exit status would become
// ours. Nothing wraps one today (tasks/proc turns it into a *proc.Error,
// which has no ExitCode); TestExitCodes keeps it so.
type exitCoder interface{ ExitCode() int }

// exitCode maps an error to the exit codes of DESIGN.md, in one place.
func exitCode(err error) int {
	if err == nil {
		return exitcode.OK
	}
	var c exitCoder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return exitcode.Failed
}
