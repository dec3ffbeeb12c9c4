package git

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Push is the push task: "Push N commits to <remote>/<branch>?", then git
// push. The branch's upstream is the target; without one, the remote
// "origin" (or the only remote) and a branch of the same name.
//
// Skipped when there is nothing to push (or no remote, or a detached
// HEAD). No terminal and no --yes: skipped, nothing pushed. --yes: push.
// No question either when the one commit to push is the one the person
// has just made in this run (commit showed it and they typed its message).
// A failed push is a warning with git's message and the task ends
// skipped: never a failure. A dry run says what would be pushed.
type Push struct{}

// Run pushes.
func (Push) Run(ctx context.Context, env *tasks.Env) error {
	if env.Config == nil {
		return fmt.Errorf("no configuration")
	}
	dir, err := env.FlakeDir()
	if err != nil {
		return err
	}
	r, ok := openRepo(ctx, env, dir)
	if !ok {
		return tasks.Skip("the flake is not in a git repository")
	}
	t, err := r.target(ctx)
	if err != nil {
		return err
	}
	if t.remote == "" {
		return tasks.Skip("%s", t.why)
	}
	if t.ahead == 0 {
		return tasks.Skip("nothing to push")
	}
	what := fmt.Sprintf("%s to %s/%s", text.Plural(t.ahead, "commit", "commits"), t.remote, t.branch)
	if env.DryRun {
		env.Action("would push %s", what)
		return nil
	}
	if !env.Yes {
		if !env.Interactive() {
			return tasks.Skip("no terminal: nothing pushed (%s waiting)", what)
		}
		if r.justApproved(ctx, env, t) {
			// The person has just seen this commit and typed its message:
			// a second question would only repeat the first.
			env.Stat("pushing the commit just made, without asking again")
		} else {
			yes, err := env.Prompt.Confirm(ctx, tasks.Question[bool]{Text: "Push " + what + "?", Default: true})
			if err != nil {
				return err
			}
			if !yes {
				return tasks.Decline("not pushed")
			}
		}
	}
	env.Status("git push %s", t.remote)
	if err := r.run(ctx, proc.Cmd{}, "push", t.remote, "HEAD:refs/heads/"+t.branch); err != nil {
		if ctx.Err() != nil {
			return err
		}
		env.Warn("push to %s/%s failed: %s", t.remote, t.branch, gitMessage(err))
		return tasks.Skip("push failed")
	}
	env.Action("pushed %s", what)
	if id, err := r.out(ctx, "rev-parse", "--short", "HEAD"); err == nil {
		env.Stat("%s/%s is at %s", t.remote, t.branch, strings.TrimSpace(id))
	}
	return nil
}

// justApproved reports whether what is to push is the one commit made in
// this run with the person (who saw what it holds and typed its message)
// on top of the earlier unpushed commits its question listed. Commits
// made by --yes, or after the question, are asked about.
func (r *repo) justApproved(ctx context.Context, env *tasks.Env, t pushTarget) bool {
	c, ok := CommitKey.Get(env)
	if !ok || !c.ByPerson || t.ahead != 1+c.Earlier {
		return false
	}
	head, err := r.out(ctx, "rev-parse", "HEAD")
	return err == nil && strings.TrimSpace(head) == c.Hash
}

type pushTarget struct {
	remote, branch string
	ahead          int
	why            string // no remote: why
}

func (r *repo) target(ctx context.Context) (pushTarget, error) {
	var t pushTarget
	branch, err := r.out(ctx, "symbolic-ref", "--short", "-q", "HEAD")
	branch = strings.TrimSpace(branch)
	if err != nil || branch == "" {
		t.why = "detached HEAD: nothing to push"
		return t, nil
	}
	var count string
	if up, err := r.out(ctx, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}"); err == nil {
		remote, _ := r.out(ctx, "config", "branch."+branch+".remote")
		merge, _ := r.out(ctx, "config", "branch."+branch+".merge")
		t.remote = strings.TrimSpace(remote)
		t.branch = strings.TrimPrefix(strings.TrimSpace(merge), "refs/heads/")
		if t.remote == "" || t.branch == "" {
			t.remote, t.branch, _ = strings.Cut(strings.TrimSpace(up), "/")
		}
		if count, err = r.out(ctx, "rev-list", "--count", "@{u}..HEAD"); err != nil {
			return t, err
		}
	} else {
		remotes, err := r.out(ctx, "remote")
		if err != nil {
			return t, err
		}
		list := strings.Fields(remotes)
		switch {
		case slices.Contains(list, "origin"):
			t.remote = "origin"
		case len(list) == 1:
			t.remote = list[0]
		default:
			t.why = fmt.Sprintf("no upstream for %s and no single remote to push to", branch)
			return t, nil
		}
		t.branch = branch
		if count, err = r.out(ctx, "rev-list", "--count", "HEAD", "--not", "--remotes="+t.remote); err != nil {
			return t, err
		}
	}
	t.ahead, err = strconv.Atoi(strings.TrimSpace(count))
	return t, err
}
