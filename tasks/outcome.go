package tasks

import (
	"errors"
	"fmt"
	"sort"
)

// Kind is how a task ended when it did not simply succeed or fail.
type Kind int

const (
	// Skipped: the task decided not to act (nothing to do, no terminal,
	// disabled). Its needs-dependents still run.
	Skipped Kind = iota + 1
	// Declined: the person said no. Its needs-dependents are skipped,
	// and theirs in turn: a "no" carries down the needs edges.
	Declined
)

// Outcome is the error a task returns to end as skipped or declined.
type Outcome struct {
	Kind   Kind
	Reason string
	// Carry is, for Declined, the reason the needs-dependents are skipped
	// with, when "<task> was declined" would not say what happened (a
	// rejected configuration that was rolled back).
	Carry string
}

func (o *Outcome) Error() string {
	switch o.Kind {
	case Declined:
		return "declined: " + o.Reason
	default:
		return "skipped: " + o.Reason
	}
}

// Skip ends a task as skipped with a one-line reason.
func Skip(format string, args ...any) error {
	return &Outcome{Kind: Skipped, Reason: fmt.Sprintf(format, args...)}
}

// Decline ends a task as declined with a one-line reason.
func Decline(format string, args ...any) error {
	return &Outcome{Kind: Declined, Reason: fmt.Sprintf(format, args...)}
}

// AsOutcome reports whether err is (or wraps) an Outcome.
func AsOutcome(err error) (*Outcome, bool) {
	var o *Outcome
	if errors.As(err, &o) {
		return o, true
	}
	return nil, false
}

func sortStrings(s []string) { sort.Strings(s) }
