package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Every error that reaches main gets DESIGN.md's exit code from the error
// itself, however deep it is wrapped.
func TestExitCodes(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("/etc/rebuild/config.toml: %w", err) }
	// A command that really exited 7: its error must not become our exit code.
	cmdErr := (&proc.Runner{}).Run(context.Background(), proc.Cmd{Args: []string{"sh", "-c", "exit 7"}})
	var pe *proc.Error
	if !errors.As(cmdErr, &pe) || pe.Code != 7 {
		t.Fatalf("sh -c 'exit 7' = %v", cmdErr)
	}
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("anything else"), 1},
		{cmdErr, 1},
		{wrap(cmdErr), 1},
		{usagef("--jobs must be at least 1, got %d", 0), 2},
		{&usageError{errors.New("unknown flag")}, 2},
		{&config.Error{File: "flags", Key: "jobs", Msg: "bad"}, 2},
		{wrap(&config.Error{Key: "jobs", Msg: "bad"}), 2},
		{&dag.CycleError{Cycle: []string{"a", "b", "a"}}, 2},
		{wrap(&dag.UnknownEdgeError{Task: "x", Kind: dag.Needs, Target: "biuld"}), 2},
		{&dag.DuplicateError{Name: "build"}, 2},
		{&dag.SelectorError{Input: ",", Msg: "empty item"}, 2},
		{&dag.UnknownSelectorError{Token: "biuld"}, 2},
		{&schedule.LockedError{Path: "/state/lock", PID: 42}, 3},
		{fmt.Errorf("run: %w", &schedule.LockedError{Path: "/state/lock"}), 3},
		{&exitError{1}, 1},
		{&exitError{130}, 130},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	// The reason the comment on exitCoder gives: an *exec.ExitError knows
	// a code too, and proc must keep it to itself.
	var ee *exec.ExitError
	if errors.As(cmdErr, &ee) {
		t.Errorf("proc.Error wraps an *exec.ExitError: a command's exit status would become rebuild's")
	}
}
