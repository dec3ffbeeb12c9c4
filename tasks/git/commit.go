package git

import (
	"context"
	"fmt"
	"strings"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/termtext"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Commit is the commit task. After accept kept the configuration, and
// after the tasks that edit files in the flake (claude-config,
// learn-review), it stages the flake folder's tracked changes and
// flake.lock, shows what will be committed, asks for a commit message
// (blank: no commit) and commits.
//
// Untracked files are never staged behind the person's back: with a
// terminal they are offered (none picked by default); with --yes, or no
// pick, they are left out and listed as a warning, in the log, the
// summary and the json events. The option add_untracked stages them all.
// Files git ignores are never staged. Everything is limited to the
// flake's folder: when the flake is a folder of a larger repository,
// changes and untracked files elsewhere in it, and what the person staged
// there, stay out of the commit.
//
// Non-interactive answers: no terminal and no --yes: skipped, nothing
// committed. --yes: commit with the message "rebuild: <host> <YYYY-MM-DD
// HH:MM>" (plus " (generation N)" after an activation).
type Commit struct{ Options CommitOptions }

// CommitOptions are the options of [task.commit].
type CommitOptions struct {
	AddUntracked bool `option:"add_untracked" doc:"also commit the untracked files of the flake's folder (never those git ignores); false: only flake.lock and tracked changes, the rest is listed, and offered in a terminal"`
}

// Configure implements tasks.Configurable.
func (c Commit) Configure(t config.Task) (tasks.Task, error) {
	c.Options = CommitOptions{}
	err := tasks.DecodeOptions(t, &c.Options)
	return c, err
}

// TaskOptions implements tasks.Configurable.
func (c Commit) TaskOptions() any { return c.Options }

// Committed is what commit hands on: the commit it made.
type Committed struct {
	ID   string // short hash
	Hash string // full hash
	// Files is how many files the commit changed.
	Files int
	// ByPerson: the person saw what would be committed and typed the
	// message (not --yes). push then pushes this commit without asking
	// again.
	ByPerson bool
	// Earlier is how many commits, not yet on the upstream branch, the
	// commit question listed as going with this one: push sends those
	// without asking too, since the person has seen them.
	Earlier int
}

// unpushedShown is how many earlier unpushed commits the commit question
// lists by name; more are counted.
const unpushedShown = 10

// unpushed is how many commits are on HEAD but not on its upstream
// branch, and a note listing them for the commit question; 0 and "" when
// there is no upstream or nothing waits.
func (r *repo) unpushed(ctx context.Context) (int, string) {
	t, err := r.target(ctx)
	if err != nil || t.remote == "" || t.ahead == 0 {
		return 0, ""
	}
	out, err := r.out(ctx, "log", "--oneline", "--no-decorate", "-n", fmt.Sprint(unpushedShown), "@{u}..HEAD")
	if err != nil {
		return 0, ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n\nNot yet on %s/%s, pushed with this commit: %s\n", t.remote, t.branch, count(t.ahead, "earlier commit", "earlier commits"))
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	if t.ahead > unpushedShown {
		fmt.Fprintf(&b, "  … and %d more\n", t.ahead-unpushedShown)
	}
	return t.ahead, strings.TrimRight(b.String(), "\n")
}

// Record keeps the short hash in the run's history, as "commit.id".
func (c Committed) Record() map[string]string { return map[string]string{"id": c.ID} }

// CommitKey is the Committed commit hands on.
var CommitKey = tasks.NewKey[Committed]("commit", "commit")

// listLimit is how many untracked file names the summary's warning shows;
// the log has them all.
const listLimit = 8

// Run stages, asks and commits.
func (c Commit) Run(ctx context.Context, env *tasks.Env) error {
	if env.Config == nil {
		return fmt.Errorf("no configuration")
	}
	interactive := env.Interactive() && !env.Yes
	if !interactive && !env.Yes {
		return tasks.Skip("no terminal: nothing committed")
	}
	dir, err := env.FlakeDir()
	if err != nil {
		return err
	}
	r, ok := openRepo(ctx, env, dir)
	if !ok {
		return tasks.Skip("the flake is not in a git repository: nothing committed")
	}

	add, err := c.chooseUntracked(ctx, env, r, dir, interactive)
	if err != nil {
		return err
	}
	staged, err := stage(ctx, env, r, add)
	if err != nil {
		return err
	}
	if len(staged) == 0 {
		return tasks.Skip("nothing to commit")
	}
	status, err := r.out(ctx, "status", "--short", "--untracked-files=all", "--", ".")
	if err != nil {
		return err
	}
	status = strings.TrimRight(status, "\n")
	fmt.Fprintln(env.Log, status)

	msg, earlier, err := commitMessage(ctx, env, r, dir, status, interactive)
	if err != nil {
		return err
	}
	if msg == "" {
		env.Action("staged %s, not committed (blank message)", count(len(staged), "file", "files"))
		return nil
	}
	done, err := commit(ctx, env, r, msg)
	if err != nil {
		return err
	}
	done.Files, done.ByPerson, done.Earlier = len(staged), interactive, earlier
	CommitKey.Put(env, done)
	env.Action("committed %s as %s %q", count(done.Files, "file", "files"), done.ID, msg)
	return nil
}

// chooseUntracked is the untracked files of the flake's folder to stage:
// flake.lock always (it is the update's result, committed even when new),
// the rest when add_untracked says so or the person picks them. What is
// left out is logged and warned about.
func (c Commit) chooseUntracked(ctx context.Context, env *tasks.Env, r *repo, dir string, interactive bool) ([]string, error) {
	untracked, err := r.untracked(ctx)
	if err != nil {
		return nil, err
	}
	var add, rest []string
	for _, f := range untracked {
		if f == "flake.lock" {
			add = append(add, f)
		} else {
			rest = append(rest, f)
		}
	}
	// Untracked files are not offered in a question of their own: the
	// commit question lists them as left out, and the person who wants
	// one git-adds it or sets add_untracked. One question per commit.
	left := rest
	if len(rest) > 0 && c.Options.AddUntracked {
		add, left = append(add, rest...), nil
	}
	if len(left) > 0 {
		fmt.Fprintf(env.Log, "untracked, not committed:\n  %s\n", strings.Join(escaped(left), "\n  "))
		env.Warn("left out %s (untracked; git add them, or set task.commit.add_untracked = true): %s",
			count(len(left), "file", "files"), shortList(escaped(left), listLimit))
	}
	return add, nil
}

// stage stages the tracked changes of the flake's folder and the
// untracked files add, and lists what is staged there.
func stage(ctx context.Context, env *tasks.Env, r *repo, add []string) ([]string, error) {
	env.Status("git add")
	if err := r.run(ctx, proc.Cmd{}, "add", "--update", "--", "."); err != nil {
		return nil, fmt.Errorf("git add --update failed: %s", gitMessage(err))
	}
	if len(add) > 0 {
		// Names as they are: no pathspec magic in a file's name.
		cmd := proc.Cmd{Env: []string{"GIT_LITERAL_PATHSPECS=1"}}
		if err := r.run(ctx, cmd, append([]string{"add", "--"}, add...)...); err != nil {
			return nil, fmt.Errorf("git add failed: %s", gitMessage(err))
		}
	}
	return r.staged(ctx)
}

// commitMessage is the message the person types after seeing status
// and the earlier commits that will go with this one (trimmed; blank: no
// commit), or the --yes message; and how many earlier commits were shown.
func commitMessage(ctx context.Context, env *tasks.Env, r *repo, dir, status string, interactive bool) (string, int, error) {
	if !interactive {
		return defaultMessage(env), 0, nil
	}
	earlier, unpushed := r.unpushed(ctx)
	msg, err := env.Prompt.Input(ctx, tasks.Question[string]{Text: "Commit message (blank: no commit)",
		Body: "To commit in " + dir + " (?? untracked, left out):\n" + status + unpushed})
	if err != nil {
		return "", 0, err
	}
	return strings.TrimSpace(msg), earlier, nil
}

// commit commits what is staged in the flake's folder with msg and
// returns the commit's hashes.
func commit(ctx context.Context, env *tasks.Env, r *repo, msg string) (Committed, error) {
	env.Status("git commit")
	if err := r.run(ctx, proc.Cmd{}, "commit", "-q", "-m", msg, "--", "."); err != nil {
		return Committed{}, fmt.Errorf("git commit failed: %s", gitMessage(err))
	}
	hash, err := r.out(ctx, "rev-parse", "HEAD")
	if err != nil {
		return Committed{}, err
	}
	id, err := r.out(ctx, "rev-parse", "--short", "HEAD")
	if err != nil {
		return Committed{}, err
	}
	return Committed{ID: strings.TrimSpace(id), Hash: strings.TrimSpace(hash)}, nil
}

// untracked lists the untracked files of the flake's folder, relative to
// it, one by one (not folders), leaving out what git ignores.
func (r *repo) untracked(ctx context.Context) ([]string, error) {
	out, err := r.out(ctx, "ls-files", "-z", "--others", "--exclude-standard", "--", ".")
	if err != nil {
		return nil, fmt.Errorf("git ls-files failed: %s", gitMessage(err))
	}
	return splitZ(out), nil
}

// staged lists the staged changes of the flake's folder, relative to it.
func (r *repo) staged(ctx context.Context) ([]string, error) {
	out, err := r.out(ctx, "diff", "--cached", "--name-only", "--relative", "-z")
	if err != nil {
		return nil, fmt.Errorf("git diff --cached failed: %s", gitMessage(err))
	}
	return splitZ(out), nil
}

// escaped is names as they may be shown: a file's name cannot drive the
// terminal.
func escaped(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = termtext.Escape(n)
	}
	return out
}

func splitZ(s string) []string {
	var out []string
	for _, f := range strings.Split(s, "\x00") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// defaultMessage is the --yes commit message.
func defaultMessage(env *tasks.Env) string {
	msg := fmt.Sprintf("rebuild: %s %s", env.Config.Host, env.Now().Format("2006-01-02 15:04"))
	if a, ok := tasks.Activated.Get(env); ok && a.Generation > 0 {
		msg += fmt.Sprintf(" (generation %d)", a.Generation)
	}
	return msg
}

// count is "1 file" or "3 files".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// shortList is the first limit names, comma-separated, and how many more.
func shortList(names []string, limit int) string {
	if len(names) <= limit {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:limit], ", "), len(names)-limit)
}
