package main

import (
	"errors"
	"fmt"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/internal/exitcode"
	"github.com/rebuild-nixos/rebuild/schedule"
)

// usageError is a mistake on the command line: exit 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitError carries an exit code that was already explained on screen.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// exitCode maps an error to the exit codes of DESIGN.md, in one place.
func exitCode(err error) int {
	var (
		ue  *usageError
		ce  *config.Error
		cy  *dag.CycleError
		uk  *dag.UnknownEdgeError
		dup *dag.DuplicateError
		se  *dag.SelectorError
		us  *dag.UnknownSelectorError
		le  *schedule.LockedError
		ee  *exitError
	)
	switch {
	case err == nil:
		return exitcode.OK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &le):
		return exitcode.Locked
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &cy), errors.As(err, &uk),
		errors.As(err, &dup), errors.As(err, &se), errors.As(err, &us):
		return exitcode.Usage
	}
	return exitcode.Failed
}
