package git

import (
	"context"
	"fmt"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// Accept is the accept task, asked right after the activation (it needs
// only activate, so the person is not first taken through the Claude
// tasks' questions): "Configuration activated. Test it now." and "Keep
// this configuration?". Yes: the new system stays; the commit task
// records it later, once the tasks that edit files in the flake are done.
// No: roll back (through the tasks.Activation activate handed on) and end
// declined, "changes rejected; rolled back"; generations, commit and push,
// which need accept, are then skipped: "configuration was rolled back".
//
// When nothing was activated (no changes, or activate not selected) there
// is nothing to keep or reject: skipped, and commit still runs.
//
// Non-interactive answers: no terminal and no --yes: skipped, the new
// configuration kept ("no terminal: kept the new configuration, nothing
// committed": commit, which needs a terminal or --yes too, commits
// nothing). --yes: keep.
type Accept struct{}

// declineCarry is what the tasks that need accept are told when the
// person rejected the configuration.
const declineCarry = "configuration was rolled back"

// Run asks whether to keep the activated configuration.
func (Accept) Run(ctx context.Context, env *tasks.Env) error {
	if env.Config == nil {
		return fmt.Errorf("no configuration")
	}
	act, _ := tasks.Activated.Get(env)
	if act.Path == "" {
		return tasks.Skip("nothing was activated: nothing to keep")
	}
	if act.NotSwitched != "" {
		// Nothing runs that could be tested: the new system is the boot
		// default; `rebuild rollback` undoes that.
		return tasks.Skip("not switched to (%s): it is the boot default; `rebuild rollback` undoes it", act.NotSwitched)
	}
	if !env.Yes {
		if !env.Interactive() {
			if err := confirm(ctx, env, act); err != nil {
				return err
			}
			return tasks.Skip("no terminal: kept the new configuration, nothing committed")
		}
		msg := "Configuration activated. Test it now."
		// What changed, so the question is answered knowing it.
		if d, ok := tasks.DiffSummary.Get(env); ok && d != "" {
			msg += "\n  " + strings.ReplaceAll(d, "\n", "\n  ")
		}
		keep, err := env.Prompt.Confirm(ctx, tasks.Question[bool]{Text: "Keep this configuration?", Body: msg, Default: true, NonInteractive: true})
		if err != nil {
			return err
		}
		if !keep {
			if act.Rollback == nil {
				return fmt.Errorf("changes rejected, but activate handed on no way to roll back")
			}
			if err := act.Rollback(ctx, env); err != nil {
				return fmt.Errorf("changes rejected, but the rollback failed: %w", err)
			}
			return &tasks.Outcome{Kind: tasks.Declined, Reason: "changes rejected; rolled back", Carry: declineCarry}
		}
	}
	if err := confirm(ctx, env, act); err != nil {
		return err
	}
	env.Action("kept %s", act.Path)
	return nil
}

// confirm disarms the confirm timeout, when one is armed: the gates have
// passed (accept runs after them) and the configuration is kept.
func confirm(ctx context.Context, env *tasks.Env, act tasks.Activation) error {
	if act.Confirm == nil {
		return nil
	}
	if err := act.Confirm(ctx, env); err != nil {
		return fmt.Errorf("kept %s, but confirming it failed: %w", act.Path, err)
	}
	return nil
}
