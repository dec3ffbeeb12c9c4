package main

import (
	"context"

	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// executor is how a command runs programs on the machine, shared by run
// and rollback: a runner with the machine's environment, the elevation
// that gives it root's prefix, and the terminal a password is asked on
// (nil: nobody to ask).
type executor struct {
	runner   *proc.Runner
	elevator *proc.Elevator
	term     *proc.Terminal
}

// newExecutor makes the runner and the elevation of method (config key
// elevate); nothing is run until acquireRoot.
func newExecutor(sys *System, method string, term *proc.Terminal) *executor {
	runner := &proc.Runner{Environ: sys.Environ, Subreaper: sys.Subreaper}
	return &executor{
		runner:   runner,
		elevator: &proc.Elevator{Method: method, Runner: runner, Euid: func() int { return sys.Euid }},
		term:     term,
	}
}

// acquireRoot asks for root once and keeps it alive until Close; the
// runner's commands marked Root run with its prefix from then on. display,
// when not nil, is paused while the password is asked on the terminal.
func (e *executor) acquireRoot(ctx context.Context, display render.Pauser) error {
	if display != nil {
		display.Pause()
	}
	prefix, err := e.elevator.Acquire(ctx, e.term)
	if display != nil {
		display.Resume()
	}
	if err != nil {
		return err
	}
	e.runner.Elevate = prefix
	return nil
}

// Close stops keeping root alive.
func (e *executor) Close() { e.elevator.Close() }
