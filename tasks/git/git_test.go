package git

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// These tests run accept and push after a real update, build and
// activation in a private Nix store (package nixtest), with real git and
// a bare remote.

type world struct {
	t      *testing.T
	s      *nixtest.Sandbox
	values *tasks.Values
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	s, err := nixtest.New(context.Background(), t.TempDir())
	if s != nil {
		t.Cleanup(func() { _ = s.Cleanup() })
	}
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, s: s, values: tasks.NewValues()}
}

func (w *world) env(name string, p *taskstest.Prompter, yes bool) *tasks.Env {
	env := w.s.TaskEnv(name, w.values, nil)
	env.Now = func() time.Time { return time.Date(2026, 5, 4, 3, 2, 1, 0, time.Local) }
	env.Log = &taskstest.Buffer{}
	if p == nil {
		p = &taskstest.Prompter{}
	}
	env.Prompt = p
	env.Yes = yes
	return env
}

func (w *world) run(task tasks.Task, env *tasks.Env) error {
	w.t.Helper()
	err := task.Run(context.Background(), env)
	w.t.Cleanup(func() {
		if w.t.Failed() {
			w.t.Logf("--- log of %s (err %v):\n%s", env.Name, err, env.Log.(*taskstest.Buffer).String())
		}
	})
	return err
}

// activate bumps foo and runs flake-update, build and activate: the flake
// has an uncommitted lock file and the system is generation 2.
func (w *world) activate() {
	w.t.Helper()
	if err := w.s.SetVersion("1.2"); err != nil {
		w.t.Fatal(err)
	}
	for _, step := range []struct {
		name string
		task tasks.Task
	}{{"flake-update", nixos.FlakeUpdate{}}, {"build", nixos.Build{}}, {"activate", nixos.Activate{}}} {
		if err := w.run(step.task, w.env(step.name, nil, false)); err != nil {
			w.t.Fatalf("%s: %v", step.name, err)
		}
	}
}

func (w *world) git(args ...string) string {
	w.t.Helper()
	out, err := w.s.Run(context.Background(), w.s.Flake, append([]string{"git"}, args...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func outcome(err error) (tasks.Kind, string) {
	if o, ok := tasks.AsOutcome(err); ok {
		return o.Kind, o.Reason
	}
	return 0, ""
}

// Yes to "Keep this configuration?": accept asks that one question, with
// what changed, and commits nothing; commit then shows what it will commit
// and asks for the message.
func TestAcceptKeepsThenCommitCommits(t *testing.T) {
	w := newWorld(t)
	head := w.git("rev-parse", "HEAD")
	w.activate()
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{true}}
	env := w.env("accept", p, false)
	if err := w.run(Accept{}, env); err != nil {
		t.Fatal(err)
	}
	if got := p.Asked(); !slices.Equal(got, []string{"Keep this configuration?"}) {
		t.Errorf("accept asked %q", got)
	}
	if printed := strings.Join(p.Printed(), "\n"); !strings.Contains(printed, "Configuration activated. Test it now.") {
		t.Errorf("shown %q", printed)
	}
	// The text goes with its question.
	if b := p.Bodies(); len(b) != 1 || !strings.Contains(b[0], "Configuration activated. Test it now.") {
		t.Errorf("the question's body is %q", b)
	}
	if w.git("rev-parse", "HEAD") != head {
		t.Error("accept committed")
	}

	p = &taskstest.Prompter{T: t, Terminal: true, Answers: []any{"  foo 1.2  "}}
	env = w.env("commit", p, false)
	if err := w.run(Commit{}, env); err != nil {
		t.Fatal(err)
	}
	if got := p.Asked(); !slices.Equal(got, []string{"Commit message (blank: no commit)"}) {
		t.Errorf("commit asked %q", got)
	}
	if printed := strings.Join(p.Printed(), "\n"); !strings.Contains(printed, "M  flake.lock") {
		t.Errorf("shown %q", printed)
	}
	if b := p.Bodies(); len(b) != 1 || !strings.Contains(b[0], "M  flake.lock") {
		t.Errorf("the question's body is %q", b)
	}
	if msg := w.git("log", "-1", "--format=%s"); msg != "foo 1.2" {
		t.Errorf("last commit %q", msg)
	}
	if st := w.git("status", "--porcelain"); st != "" {
		t.Errorf("not committed: %q", st)
	}
	id := w.git("rev-parse", "--short", "HEAD")
	if c, _ := CommitKey.Get(env); c.ID != id || c.Hash != w.git("rev-parse", "HEAD") || c.Files != 1 || !c.ByPerson {
		t.Errorf("handed on %+v", c)
	}
	if a := env.Report().Actions; !slices.Equal(a, []string{fmt.Sprintf("committed 1 file as %s %q", id, "foo 1.2")}) {
		t.Errorf("actions %q", a)
	}
}

func TestAcceptNoRollsBack(t *testing.T) {
	w := newWorld(t)
	first, _ := nixtest.Resolve(w.s.Profile)
	head := w.git("rev-parse", "HEAD")
	w.activate()
	p := &taskstest.Prompter{Terminal: true, Answers: []any{false}}
	err := w.run(Accept{}, w.env("accept", p, false))
	kind, reason := outcome(err)
	if kind != tasks.Declined || reason != "changes rejected; rolled back" {
		t.Errorf("outcome %v %q", kind, reason)
	}
	// What needs accept (generations, commit, push) is told why.
	if o, _ := tasks.AsOutcome(err); o == nil || o.Carry != "configuration was rolled back" {
		t.Errorf("outcome %+v, want it to carry \"configuration was rolled back\"", o)
	}
	if calls := w.s.SwitchCalls(); !slices.Equal(calls, []string{"test", "boot", "switch"}) {
		t.Errorf("switch calls %q", calls)
	}
	running, _ := nixtest.Resolve(w.s.CurrentSystem)
	if _, cur, _ := w.s.Generations(); cur != 1 || running != first {
		t.Errorf("generation %d, running %s", cur, running)
	}
	if w.git("rev-parse", "HEAD") != head {
		t.Error("a commit was made")
	}
}

// Rejecting goes back to the system that ran before the activation, not
// to whichever generation is numbered just below the new one: after an
// earlier rollback from 2 to 1, activate makes 3, and "no" must bring back
// 1, not 2 (the generation the person had rolled back from).
func TestAcceptNoRollsBackToTheSystemBefore(t *testing.T) {
	w := newWorld(t)
	first, _ := nixtest.Resolve(w.s.Profile)
	if _, err := w.s.AddGeneration(context.Background(), "1.1"); err != nil {
		t.Fatal(err)
	}
	if err := nixos.Rollback(context.Background(), w.env("rollback", nil, false)); err != nil {
		t.Fatal(err)
	}
	if _, cur, _ := w.s.Generations(); cur != 1 {
		t.Fatalf("after the first rollback: generation %d", cur)
	}
	w.activate()
	if _, cur, _ := w.s.Generations(); cur != 3 {
		t.Fatalf("after activate: generation %d, want 3", cur)
	}
	p := &taskstest.Prompter{Terminal: true, Answers: []any{false}}
	kind, reason := outcome(w.run(Accept{}, w.env("accept", p, false)))
	if kind != tasks.Declined || reason != "changes rejected; rolled back" {
		t.Errorf("outcome %v %q", kind, reason)
	}
	running, _ := nixtest.Resolve(w.s.CurrentSystem)
	if _, cur, _ := w.s.Generations(); cur != 1 || running != first {
		t.Errorf("rejected: generation %d, running %s; want 1, %s", cur, running, first)
	}
}

func TestAcceptYesFlag(t *testing.T) {
	w := newWorld(t)
	w.activate()
	env := w.env("accept", nil, true)
	if err := w.run(Accept{}, env); err != nil {
		t.Fatal(err)
	}
	if err := w.run(Commit{}, w.env("commit", nil, true)); err != nil {
		t.Fatal(err)
	}
	if msg := w.git("log", "-1", "--format=%s"); msg != "rebuild: demo 2026-05-04 03:02 (generation 2)" {
		t.Errorf("message %q", msg)
	}
}

// No terminal, no --yes: nothing committed, nothing pushed.
func TestNoTerminalCommitsAndPushesNothing(t *testing.T) {
	w := newWorld(t)
	head := w.git("rev-parse", "HEAD")
	w.activate()
	kind, reason := outcome(w.run(Accept{}, w.env("accept", nil, false)))
	if kind != tasks.Skipped || reason != "no terminal: kept the new configuration, nothing committed" {
		t.Errorf("accept: %v %q", kind, reason)
	}
	kind, reason = outcome(w.run(Commit{}, w.env("commit", nil, false)))
	if kind != tasks.Skipped || reason != "no terminal: nothing committed" {
		t.Errorf("commit: %v %q", kind, reason)
	}
	if w.git("rev-parse", "HEAD") != head || !strings.Contains(w.git("status", "--porcelain"), "flake.lock") {
		t.Error("accept committed")
	}
	w.git("commit", "-q", "-am", "by hand")
	kind, reason = outcome(w.run(Push{}, w.env("push", nil, false)))
	if kind != tasks.Skipped || reason != "no terminal: nothing pushed (1 commit to origin/main waiting)" {
		t.Errorf("push: %v %q", kind, reason)
	}
	if remote := w.git("--git-dir", w.s.Remote, "rev-parse", "main"); remote != head {
		t.Error("pushed")
	}
}

func TestPush(t *testing.T) {
	w := newWorld(t)
	if kind, reason := outcome(w.run(Push{}, w.env("push", nil, true))); kind != tasks.Skipped || reason != "nothing to push" {
		t.Errorf("clean: %v %q", kind, reason)
	}
	w.activate()
	if err := w.run(Commit{}, w.env("commit", nil, true)); err != nil {
		t.Fatal(err)
	}
	head := w.git("rev-parse", "HEAD")

	// Asked, answered no: declined.
	p := &taskstest.Prompter{Terminal: true, Answers: []any{false}}
	if kind, _ := outcome(w.run(Push{}, w.env("push", p, false))); kind != tasks.Declined {
		t.Errorf("answer no: %v", kind)
	}
	if got := p.Asked(); !slices.Equal(got, []string{"Push 1 commit to origin/main?"}) {
		t.Errorf("asked %q", got)
	}
	// A dry run says what it would push.
	dry := w.env("push", nil, false)
	dry.DryRun = true
	if err := w.run(Push{}, dry); err != nil || !slices.Equal(dry.Report().Actions, []string{"would push 1 commit to origin/main"}) {
		t.Errorf("dry run: %v %q", err, dry.Report().Actions)
	}
	// Asked, answered yes: the bare remote has the commit.
	p = &taskstest.Prompter{Terminal: true, Answers: []any{true}}
	env := w.env("push", p, false)
	if err := w.run(Push{}, env); err != nil {
		t.Fatal(err)
	}
	if remote := w.git("--git-dir", w.s.Remote, "rev-parse", "main"); remote != head {
		t.Errorf("remote main %s, want %s", remote, head)
	}
	if a := env.Report().Actions; !slices.Equal(a, []string{"pushed 1 commit to origin/main"}) {
		t.Errorf("actions %q", a)
	}
	if kind, reason := outcome(w.run(Push{}, w.env("push", nil, true))); kind != tasks.Skipped || reason != "nothing to push" {
		t.Errorf("pushed again: %v %q", kind, reason)
	}
}

// A failed push is a warning carrying git's message, never a failure.
func TestPushFailureIsAWarning(t *testing.T) {
	w := newWorld(t)
	w.git("commit", "-q", "--allow-empty", "-m", "local")
	w.git("remote", "set-url", "origin", w.s.Root+"/no-such-remote.git")
	env := w.env("push", nil, true)
	kind, reason := outcome(w.run(Push{}, env))
	if kind != tasks.Skipped || reason != "push failed" {
		t.Errorf("outcome %v %q", kind, reason)
	}
	warn := strings.Join(env.Report().Warnings, "\n")
	if !strings.HasPrefix(warn, "push to origin/main failed: ") || !strings.Contains(warn, "no-such-remote.git") {
		t.Errorf("warning %q", warn)
	}
}

// Without an upstream, push goes to origin's branch of the same name.
func TestPushWithoutUpstream(t *testing.T) {
	w := newWorld(t)
	w.git("checkout", "-q", "-b", "feature")
	w.git("commit", "-q", "--allow-empty", "-m", "feature work")
	env := w.env("push", nil, true)
	if err := w.run(Push{}, env); err != nil {
		t.Fatal(err)
	}
	if remote := w.git("--git-dir", w.s.Remote, "rev-parse", "feature"); remote != w.git("rev-parse", "HEAD") {
		t.Errorf("remote feature %s", remote)
	}
}

// With no activation (no changes), there is nothing to keep or reject:
// accept is skipped, and commit only commits what is there. An untracked
// file is left out (nothing asked) until the person git-adds it.
func TestCommitWithoutActivation(t *testing.T) {
	w := newWorld(t)
	if kind, reason := outcome(w.run(Accept{}, w.env("accept", nil, true))); kind != tasks.Skipped || reason != "nothing was activated: nothing to keep" {
		t.Errorf("accept: %v %q", kind, reason)
	}
	if kind, reason := outcome(w.run(Commit{}, w.env("commit", nil, true))); kind != tasks.Skipped || reason != "nothing to commit" {
		t.Errorf("clean tree: %v %q", kind, reason)
	}
	if err := os.WriteFile(filepath.Join(w.s.Flake, "notes.md"), []byte("notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &taskstest.Prompter{T: t, Terminal: true}
	if kind, reason := outcome(w.run(Commit{}, w.env("commit", p, false))); kind != tasks.Skipped || reason != "nothing to commit" || len(p.Asked()) != 0 {
		t.Errorf("untracked only: %v %q, asked %q", kind, reason, p.Asked())
	}
	w.git("add", "notes.md")
	p = &taskstest.Prompter{T: t, Terminal: true, Answers: []any{"notes"}}
	if err := w.run(Commit{}, w.env("commit", p, false)); err != nil {
		t.Fatal(err)
	}
	if got := p.Asked(); len(got) != 1 || got[0] != "Commit message (blank: no commit)" {
		t.Errorf("asked %q", got)
	}
	if msg := w.git("log", "-1", "--format=%s"); msg != "notes" {
		t.Errorf("last commit %q", msg)
	}
}

// A flake in a folder of a larger repository (a dotfiles repository with
// the flake in nixos/): accept stages and commits the flake's changes
// only, even with add_untracked. Untracked files elsewhere in the repository (a secret not yet in
// .gitignore) and what the person staged there themselves stay out of the
// commit, which --yes makes and push then sends to the remote unseen.
func TestAcceptCommitsOnlyTheFlakeFolder(t *testing.T) {
	w := newWorld(t)
	sub := filepath.Join(w.s.Flake, "nixos")
	for name, text := range map[string]string{
		filepath.Join(sub, "host.nix"):           "{ }\n",
		filepath.Join(w.s.Flake, "secrets.env"):  "TOKEN=hunter2\n",
		filepath.Join(w.s.Flake, "other", "wip"): "half done\n",
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.git("add", "other/wip")
	env := w.env("commit", nil, true)
	env.Config.Flake = sub
	if err := w.run(commitWith(t, map[string]any{"add_untracked": true}), env); err != nil {
		t.Fatal(err)
	}
	if got := w.git("show", "--name-only", "--format=", "HEAD"); got != "nixos/host.nix" {
		t.Errorf("committed %q, want only nixos/host.nix", got)
	}
	if got := w.git("status", "--porcelain"); got != "A  other/wip\n?? secrets.env" {
		t.Errorf("left %q, want other/wip still staged and secrets.env untracked", got)
	}
}

func TestSpecs(t *testing.T) {
	s := Specs()
	if len(s) != 3 {
		t.Fatalf("specs %+v", s)
	}
	accept, commit, push := s[0], s[1], s[2]
	if accept.Name != "accept" || accept.Phase != 8 || !accept.Interactive || !accept.Root ||
		!slices.Equal(accept.Needs, []string{"activate"}) || !slices.Equal(accept.After, []string{"diff"}) {
		t.Errorf("accept %+v: it must need only activate (and wait for diff, which runs beside activate, to show it)", accept)
	}
	if commit.Name != "commit" || commit.Phase != 8 || !commit.Interactive || commit.Root || !slices.Equal(commit.Needs, []string{"accept"}) ||
		!slices.Equal(commit.After, []string{"claude-config", "mcp-analytics", "tool-analytics", "learn-review"}) ||
		!slices.Equal(commit.Groups, []string{"git"}) {
		t.Errorf("commit %+v", commit)
	}
	if push.Name != "push" || push.Phase != 14 || !slices.Equal(push.Needs, []string{"commit"}) {
		t.Errorf("push %+v", push)
	}
}

// commitWith is the commit task bound to [task.commit] options.
func commitWith(t *testing.T, options map[string]any) tasks.Task {
	t.Helper()
	task, err := Specs()[1].Configure(config.Task{Options: options, File: "test.toml"})
	if err != nil {
		t.Fatal(err)
	}
	return task
}
