package nixos

import (
	"context"
	"fmt"

	"github.com/rebuild-nixos/rebuild/tasks"
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
	cur, prev, err := rollbackTarget(env, gens)
	if err != nil {
		return err
	}
	return switchGeneration(ctx, env, cur, prev)
}

// rollbackTarget returns the current generation and the one to roll back
// to: the one the profile pointed at before this run's activation, if
// the current one is what activate made; else the highest numbered below
// the current one. It must still exist and its link resolve.
func rollbackTarget(env *tasks.Env, gens []generation) (cur, prev *generation, err error) {
	act, activated := tasks.Activated.Get(env)
	return pickRollback(env.Config.Profile, gens, act, activated)
}

// pickRollback is rollbackTarget for the generations gens of profile,
// act being what this run's activation handed on (activated false: none).
func pickRollback(profile string, gens []generation, act tasks.Activation, activated bool) (cur, prev *generation, err error) {
	cur = findGeneration(gens, func(g *generation) bool { return g.Current })
	if cur == nil {
		return nil, nil, fmt.Errorf("rollback: the profile %s has no current generation", profile)
	}
	for i := range gens {
		if g := &gens[i]; g.Number < cur.Number && (prev == nil || g.Number > prev.Number) {
			prev = g
		}
	}
	if b := act.Previous; activated && act.Generation == cur.Number && b != 0 && b != cur.Number {
		prev = findGeneration(gens, func(g *generation) bool { return g.Number == b })
		if prev == nil {
			return nil, nil, fmt.Errorf("rollback: generation %d, the one before the activation, is gone", b)
		}
	}
	if prev == nil {
		return nil, nil, fmt.Errorf("rollback: no generation before %d to roll back to", cur.Number)
	}
	if prev.Path == "" {
		return nil, nil, fmt.Errorf("rollback: generation %d's link %s cannot be resolved", prev.Number, link(profile, prev.Number))
	}
	return cur, prev, nil
}

// findGeneration returns the last generation that is, or nil.
func findGeneration(gens []generation, is func(*generation) bool) *generation {
	var found *generation
	for i := range gens {
		if is(&gens[i]) {
			found = &gens[i]
		}
	}
	return found
}
