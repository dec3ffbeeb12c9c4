package tasks_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// keyed is a plan whose line i has key keys[i], every line proposed to go.
func keyed(keys ...string) tasks.CleanupPlan {
	var p tasks.CleanupPlan
	for _, k := range keys {
		p.Lines = append(p.Lines, tasks.CleanupLine{Label: k, Bytes: 10, Reason: "why", Goes: true, Key: k})
	}
	return p
}

func envFor(name string, p tasks.Prompter, b *tasks.CleanupBoard) *tasks.Env {
	env := tasks.NewEnv(name, nil, nil)
	env.Prompt, env.Cleanup = p, b
	return env
}

// proposeAsync proposes plan for name from its own goroutine, as the
// run's early planner does.
func proposeAsync(b *tasks.CleanupBoard, env *tasks.Env, plan tasks.CleanupPlan) chan error {
	errc := make(chan error, 1)
	go func() { errc <- b.Propose(context.Background(), env, plan) }()
	return errc
}

func within(t *testing.T, errc chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no answer in 10 s: deadlock")
		return nil
	}
}

// A plan worked out at the start is asked with the others before its
// task runs; when the task runs, it gets those of its lines (as they are
// then) whose key was approved: what appeared since is not deleted
// unseen, and a line gone since is simply not there.
func TestCleanupBoardEarlyPlanAppliesByKey(t *testing.T) {
	b := tasks.NewCleanupBoard("generations", "caches")
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{'y'}}
	b.Planning("generations")
	early := proposeAsync(b, envFor("generations", p, b), keyed("2", "3"))
	got := submitAll(t, b, p, false, map[string]tasks.CleanupPlan{"caches": keyed("uv")})
	if err := within(t, early); err != nil {
		t.Fatal(err)
	}
	if len(p.Asked()) != 1 || !strings.Contains(p.Asked()[0], "3 items") {
		t.Fatalf("asked %q, want one question for the early plan and caches'", p.Asked())
	}
	if !slices.Equal(got["caches"].picked, []int{0}) {
		t.Errorf("caches got %v", got["caches"])
	}
	// The task runs later: 2 is gone, 4 is new, 3 is still there.
	env := envFor("generations", p, b)
	picked, err := b.Submit(context.Background(), env, keyed("3", "4"))
	if err != nil || !slices.Equal(picked, []int{0}) {
		t.Errorf("the run's plan 3, 4 after yes to 2, 3: got %v %v, want [0] (3 only)", picked, err)
	}
	if len(p.Asked()) != 1 {
		t.Errorf("asked again: %q", p.Asked())
	}
}

// The task's Run may come before its early plan is in (--only, no
// needs): it waits for that plan's answer rather than asking alone.
func TestCleanupBoardRunWaitsForEarlyPlan(t *testing.T) {
	b := tasks.NewCleanupBoard("backups")
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{'n'}}
	b.Planning("backups")
	run := make(chan error, 1)
	var picked []int
	go func() {
		var err error
		picked, err = b.Submit(context.Background(), envFor("backups", p, b), keyed("a"))
		run <- err
	}()
	time.Sleep(30 * time.Millisecond)
	if err := within(t, proposeAsync(b, envFor("backups", p, b), keyed("a"))); err != nil {
		t.Fatal(err)
	}
	if err := within(t, run); err != nil || len(picked) != 0 {
		t.Errorf("after n: %v %v", picked, err)
	}
	if len(p.Asked()) != 1 {
		t.Errorf("asked %q, want once", p.Asked())
	}
}

// Planned early with nothing to ask (nothing there yet): what the task
// finds when it runs was never shown, so it is kept — a skip, no second
// question.
func TestCleanupBoardEarlyNothingKeepsLater(t *testing.T) {
	b := tasks.NewCleanupBoard("sessions", "caches")
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{'y'}}
	b.Planning("sessions")
	if err := within(t, proposeAsync(b, envFor("sessions", p, b), tasks.CleanupPlan{})); err != nil {
		t.Fatal(err)
	}
	submitAll(t, b, p, false, map[string]tasks.CleanupPlan{"caches": keyed("uv")})
	_, err := b.Submit(context.Background(), envFor("sessions", p, b), keyed("s1"))
	var out *tasks.Outcome
	if !errors.As(err, &out) || out.Kind != tasks.Skipped || !strings.Contains(out.Reason, "next run") {
		t.Errorf("sessions found later: %v, want a skip keeping them for the next run", err)
	}
	if len(p.Asked()) != 1 {
		t.Errorf("asked %q, want the one question", p.Asked())
	}
}

// A task planned early and then skipped before the question (a "no"
// upstream) is not in the table: its lines would never be applied.
func TestCleanupBoardEarlyPlanOfSkippedTaskNotShown(t *testing.T) {
	b := tasks.NewCleanupBoard("generations", "caches", "sessions")
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{'y'}}
	b.Planning("generations")
	early := proposeAsync(b, envFor("generations", p, b), keyed("gen-7"))
	time.Sleep(30 * time.Millisecond) // generations' plan is in; sessions' is not
	b.Withdraw("generations")         // accept was declined: generations skipped
	if err := within(t, early); err != nil {
		t.Fatal(err)
	}
	submitAll(t, b, p, false, map[string]tasks.CleanupPlan{"caches": keyed("uv"), "sessions": keyed("s1")})
	table := strings.Join(p.Printed(), "\n")
	if strings.Contains(table, "gen-7") || len(p.Asked()) != 1 || !strings.Contains(p.Asked()[0], "2 items") {
		t.Errorf("asked %q with the table:\n%s", p.Asked(), table)
	}
}
