package tasks

import "context"

// The values below are handed from one family to another; they are
// declared here, in the contract, so that no family imports another.
// Values a family only hands to itself are declared in that family.

// Activation is what activate hands on: the system it switched to, the
// profile generation it became, the one the profile pointed at before,
// and how to go back to it. accept, which asks whether to keep the new
// configuration, rolls back through it without knowing how NixOS does it.
type Activation struct {
	Path       string // the activated store path
	Generation int    // the profile generation it became
	Previous   int    // the generation before it; 0 when there was none
	// Rollback puts the previous generation back and switches to it,
	// running its commands with env (the calling task's runner, log,
	// status and dry run).
	Rollback func(ctx context.Context, env *Env) error
	// Confirm, set when a confirm timeout is armed, disarms it: the new
	// system passed its gates and was kept (accept), or the run ends
	// with it. Nil when nothing waits for a confirmation.
	Confirm func(ctx context.Context, env *Env) error
	// NotSwitched, when set, says why the new system was made the boot
	// default without being switched to (a switch inhibitor): it runs only
	// after a reboot, so there is nothing to test or check now.
	NotSwitched string
}

// Record keeps the activated path in the run's history, as
// "activate.activated".
func (a Activation) Record() map[string]string { return map[string]string{"activated": a.Path} }

// Activated is the Activation activate hands on.
var Activated = NewKey[Activation]("activate", "activated")

// DiffSummary is the compact difference between the running system and
// the one built (version changes, closure size), one change per line,
// which diff hands on for the questions of activate (--ask) and accept.
var DiffSummary = NewKey[string]("diff", "summary")
