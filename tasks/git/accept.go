package git

import (
	"context"
	"fmt"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Accept is the accept task. After an activation: "Configuration
// activated. Test it now." and "Keep this configuration?". Yes: stage the
// changes in the flake's folder (git add -A -- .), show git status
// --short of it, ask for a commit message (blank: no commit), commit that
// folder's changes. Everything is limited to the flake's folder: when the
// flake is a folder of a larger repository, changes and untracked files
// elsewhere in it, and what the person staged there, are left alone.
// No: roll back (nixos.Rollback) and end declined, so generations and
// push are skipped.
//
// When nothing was activated (no changes, or activate not selected) there
// is nothing to keep or reject: only the staging and commit part runs.
//
// Non-interactive answers: no terminal and no --yes: skipped, nothing
// committed ("no terminal: kept the new configuration, nothing
// committed"). --yes: keep, stage and commit with the message
// "rebuild: <host> <YYYY-MM-DD HH:MM>" (plus " (generation N)" after an
// activation).
type Accept struct{}

// Run asks and commits.
func (Accept) Run(ctx context.Context, env *tasks.Env) error {
	if err := env.Options.CheckOptions(); err != nil {
		return err
	}
	if env.Config == nil {
		return fmt.Errorf("no configuration")
	}
	activated, _ := value[string](env, "activate", "activated")
	interactive := env.Interactive()
	if !interactive && !env.Yes {
		if activated != "" {
			return tasks.Skip("no terminal: kept the new configuration, nothing committed")
		}
		return tasks.Skip("no terminal: nothing committed")
	}
	if activated != "" {
		keep := true
		if !env.Yes {
			msg := "Configuration activated. Test it now."
			// What changed, so the question is answered knowing it.
			if d, ok := value[string](env, "diff", "summary"); ok && d != "" {
				msg += "\n  " + strings.ReplaceAll(d, "\n", "\n  ")
			}
			var err error
			keep, err = env.Prompt.Confirm(ctx, tasks.Question[bool]{Text: "Keep this configuration?", Body: msg, Default: true, NonInteractive: true})
			if err != nil {
				return err
			}
		}
		if !keep {
			if err := nixos.Rollback(ctx, env); err != nil {
				return fmt.Errorf("changes rejected, but the rollback failed: %w", err)
			}
			return tasks.Decline("changes rejected; rolled back")
		}
		env.Action("kept %s", activated)
	}
	// nothing reports what did not happen when there was an activation:
	// the task succeeded in keeping it.
	nothing := func(format string, args ...any) error {
		if activated != "" {
			env.Stat(format, args...)
			return nil
		}
		return tasks.Skip(format, args...)
	}

	dir, err := nixos.FlakeDir(env)
	if err != nil {
		return err
	}
	r, ok := openRepo(ctx, env, dir)
	if !ok {
		return nothing("the flake is not in a git repository: nothing committed")
	}
	env.Status("git add -A")
	if err := r.run(ctx, proc.Cmd{}, "add", "-A", "--", "."); err != nil {
		return err
	}
	status, err := r.out(ctx, "status", "--short", "--", ".")
	if err != nil {
		return err
	}
	status = strings.TrimRight(status, "\n")
	if strings.TrimSpace(status) == "" {
		return nothing("nothing to commit")
	}
	fmt.Fprintln(env.Log, status)

	var msg string
	if env.Yes {
		msg = defaultMessage(env)
	} else {
		msg, err = env.Prompt.Input(ctx, tasks.Question[string]{Text: "Commit message (blank: no commit)",
			Body: "Staged changes in " + dir + ":\n" + status})
		if err != nil {
			return err
		}
		msg = strings.TrimSpace(msg)
	}
	if msg == "" {
		env.Action("staged the changes, not committed (blank message)")
		return nil
	}
	env.Status("git commit")
	if err := r.run(ctx, proc.Cmd{}, "commit", "-q", "-m", msg, "--", "."); err != nil {
		return fmt.Errorf("git commit failed: %s", gitMessage(err))
	}
	hash, err := r.out(ctx, "rev-parse", "--short", "HEAD")
	if err != nil {
		return err
	}
	hash = strings.TrimSpace(hash)
	env.Put("commit", hash)
	env.Action("committed %s %q", hash, msg)
	return nil
}

// defaultMessage is the --yes commit message.
func defaultMessage(env *tasks.Env) string {
	msg := fmt.Sprintf("rebuild: %s %s", env.Config.Host, env.Now().Format("2006-01-02 15:04"))
	if g, ok := value[int](env, "activate", "generation"); ok && g > 0 {
		msg += fmt.Sprintf(" (generation %d)", g)
	}
	return msg
}

// value reads a value another task handed on, typed.
func value[T any](env *tasks.Env, task, key string) (T, bool) {
	var zero T
	v, ok := env.Value(task, key)
	if !ok {
		return zero, false
	}
	t, ok := v.(T)
	return t, ok
}
