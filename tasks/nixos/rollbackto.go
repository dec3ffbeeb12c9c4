package nixos

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// RollbackTo points the system profile at generation n and runs its
// `switch-to-configuration switch` (`rebuild rollback --to N`). It
// refuses a generation that does not exist or whose link does not
// resolve, and one that is already the current and the running system.
// In a dry run it says what it would do.
func RollbackTo(ctx context.Context, env *tasks.Env, n int) error {
	if env.Config == nil {
		return errNoConfig
	}
	gens, err := listGenerations(ctx, env)
	if err != nil {
		return err
	}
	cur := findGeneration(gens, func(g *generation) bool { return g.Current })
	if cur == nil {
		return fmt.Errorf("rollback: the profile %s has no current generation", env.Config.Profile)
	}
	to := findGeneration(gens, func(g *generation) bool { return g.Number == n })
	switch {
	case to == nil:
		nums := make([]string, len(gens))
		for i, g := range gens {
			nums[i] = strconv.Itoa(g.Number)
		}
		return fmt.Errorf("rollback: there is no generation %d of %s (there are %s)", n, env.Config.Profile, strings.Join(nums, ", "))
	case to.Path == "":
		return fmt.Errorf("rollback: generation %d's link %s cannot be resolved", n, link(env.Config.Profile, n))
	case to.Current && to.Running:
		return fmt.Errorf("rollback: generation %d is already the current and the running system", n)
	}
	return switchGeneration(ctx, env, cur, to)
}

// switchGeneration points the profile at to and switches to it, from
// cur; with a dry run it only says so.
func switchGeneration(ctx context.Context, env *tasks.Env, cur, to *generation) error {
	if env.DryRun {
		env.Action("would roll back from generation %d to %d (%s)", cur.Number, to.Number, to.Path)
		return nil
	}
	env.Status("rolling back to generation %d", to.Number)
	err := run(ctx, env, proc.Cmd{Args: []string{"nix-env", "-p", env.Config.Profile, "--switch-generation", fmt.Sprint(to.Number)}, Root: true})
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	env.Status("switch-to-configuration switch")
	err = run(ctx, env, proc.Cmd{Args: []string{to.Path + "/bin/switch-to-configuration", "switch"}, Root: true})
	if err != nil {
		return fmt.Errorf("rollback: the profile points at generation %d, but its switch-to-configuration switch failed: %w", to.Number, err)
	}
	env.Action("rolled back from generation %d to %d (%s)", cur.Number, to.Number, to.Path)
	return nil
}
