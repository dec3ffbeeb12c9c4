package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// planEarly works out, from the start of the run, the cleanup plans of the
// board's members that can (tasks.CleanupPlanner), so that the one
// cleanup question is asked while the system builds rather than after
// activation: backups would otherwise wait for claude-config, sessions for
// learn-review, generations for accept. Each plan is worked out on its own
// goroutine with an Env like the task's (no concurrency slot: it only
// reads) and its output in the log "<task>.plan". Nothing is planned
// early when nothing would be asked (--yes, --dry-run, no terminal).
//
// The returned stop cancels the planners still waiting for the answer and
// waits for them; call it when the run has ended.
func planEarly(board *tasks.CleanupBoard, specs map[string]tasks.Spec, order []string, fill func(*tasks.Env, bool),
	now func() time.Time, logs func(string) (io.WriteCloser, string, error)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, name := range order {
		s := specs[name]
		planner, ok := s.Task.(tasks.CleanupPlanner)
		if !ok || s.Disabled || !board.Member(name) {
			continue
		}
		env := tasks.NewEnv(name, nil, nil)
		env.Now = now
		fill(env, false)
		if env.Yes || !env.Interactive() {
			continue
		}
		board.Planning(name)
		wg.Go(func() { proposeEarly(ctx, board, planner, env, logs) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// proposeEarly works out one task's early plan and hands it to the board;
// a plan that cannot be worked out (or has nothing in it) is an empty
// one, which takes the task off the board: its Run then keeps what it
// finds for the next run.
func proposeEarly(ctx context.Context, board *tasks.CleanupBoard, planner tasks.CleanupPlanner, env *tasks.Env, logs func(string) (io.WriteCloser, string, error)) {
	if logs != nil {
		if w, _, err := logs(env.Name + ".plan"); err == nil {
			defer w.Close()
			env.Log = w
		}
	}
	fmt.Fprintf(env.Log, "the cleanup plan of %s, worked out at the start of the run\n", env.Name)
	plan, err := planner.PlanCleanup(ctx, env)
	var out *tasks.Outcome
	switch {
	case errors.As(err, &out):
		fmt.Fprintf(env.Log, "nothing to ask: %v\n", err)
		plan = tasks.CleanupPlan{}
	case err != nil:
		fmt.Fprintf(env.Log, "could not work out the plan: %v\n", err)
		plan = tasks.CleanupPlan{}
	}
	if err := board.Propose(ctx, env, plan); err != nil && ctx.Err() == nil {
		fmt.Fprintf(env.Log, "%v\n", err)
	}
}
