package nixos

import (
	"context"
	"fmt"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Rollback points the system profile at the generation before the
// current one and runs its `switch-to-configuration switch`. It refuses
// when there is no previous generation. After an activation in the same
// run (accept rejecting it), "before" is the generation the profile
// pointed at before activate, which is not always the one numbered just
// below (after an earlier rollback it is not). In a dry run it says what
// it would do. Used by `rebuild rollback` and by accept when the new
// configuration is rejected; both need root (env.Runner's elevation).
func Rollback(ctx context.Context, env *tasks.Env) error {
	if env.Config == nil {
		return errNoConfig
	}
	gens, err := listGenerations(ctx, env)
	if err != nil {
		return err
	}
	var cur, prev *generation
	for i := range gens {
		if gens[i].Current {
			cur = &gens[i]
		}
	}
	if cur == nil {
		return fmt.Errorf("rollback: the profile %s has no current generation", env.Config.Profile)
	}
	for i := range gens {
		if g := &gens[i]; g.Number < cur.Number && (prev == nil || g.Number > prev.Number) {
			prev = g
		}
	}
	act, activated := tasks.Activated.Get(env)
	if b := act.Previous; activated && act.Generation == cur.Number && b != 0 && b != cur.Number {
		prev = nil
		for i := range gens {
			if gens[i].Number == b {
				prev = &gens[i]
			}
		}
		if prev == nil {
			return fmt.Errorf("rollback: generation %d, the one before the activation, is gone", b)
		}
	}
	if prev == nil {
		return fmt.Errorf("rollback: no generation before %d to roll back to", cur.Number)
	}
	if prev.Path == "" {
		return fmt.Errorf("rollback: generation %d's link %s cannot be resolved", prev.Number, link(env.Config.Profile, prev.Number))
	}
	if env.DryRun {
		env.Action("would roll back from generation %d to %d (%s)", cur.Number, prev.Number, prev.Path)
		return nil
	}
	env.Status("rolling back to generation %d", prev.Number)
	err = run(ctx, env, proc.Cmd{Args: []string{"nix-env", "-p", env.Config.Profile, "--switch-generation", fmt.Sprint(prev.Number)}, Root: true})
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	env.Status("switch-to-configuration switch")
	err = run(ctx, env, proc.Cmd{Args: []string{prev.Path + "/bin/switch-to-configuration", "switch"}, Root: true})
	if err != nil {
		return fmt.Errorf("rollback: the profile points at generation %d, but its switch-to-configuration switch failed: %w", prev.Number, err)
	}
	env.Action("rolled back from generation %d to %d (%s)", cur.Number, prev.Number, prev.Path)
	return nil
}
