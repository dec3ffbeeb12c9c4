package main

import (
	"context"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// waitTimer is the Prompter one task asks through: it passes every
// question on and records, on the task's Env, how long the task waited
// for the answer. That time is the person's, not the task's: history keeps
// it apart and ETAs leave it out (schedule.Estimates). One is made per
// task run, in the env hook, around whatever prompter the run gives it.
type waitTimer struct {
	tasks.Prompter
	env *tasks.Env
}

// timeWaits wraps p for env's task; nil stays nil (no one to ask).
func timeWaits(p tasks.Prompter, env *tasks.Env) tasks.Prompter {
	if p == nil {
		return nil
	}
	return waitTimer{Prompter: p, env: env}
}

// since records the time from start to now as waiting.
func (w waitTimer) since(start time.Time) { w.env.AddWait(w.env.Now().Sub(start)) }

func (w waitTimer) Confirm(ctx context.Context, q tasks.Question[bool]) (bool, error) {
	defer w.since(w.env.Now())
	return w.Prompter.Confirm(ctx, q)
}

func (w waitTimer) Choose(ctx context.Context, q tasks.Question[rune], choices []tasks.Choice) (rune, error) {
	defer w.since(w.env.Now())
	return w.Prompter.Choose(ctx, q, choices)
}

func (w waitTimer) MultiSelect(ctx context.Context, q tasks.Question[[]int], options []string) ([]int, error) {
	defer w.since(w.env.Now())
	return w.Prompter.MultiSelect(ctx, q, options)
}

func (w waitTimer) Input(ctx context.Context, q tasks.Question[string]) (string, error) {
	defer w.since(w.env.Now())
	return w.Prompter.Input(ctx, q)
}
