package main

import (
	"context"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// slowPerson answers a scripted prompter's questions after a while: the
// clock moves by think on every question.
type slowPerson struct {
	tasks.Prompter
	clock *time.Time
	think time.Duration
}

func (s slowPerson) Confirm(ctx context.Context, q tasks.Question[bool]) (bool, error) {
	*s.clock = s.clock.Add(s.think)
	return s.Prompter.Confirm(ctx, q)
}

func (s slowPerson) Input(ctx context.Context, q tasks.Question[string]) (string, error) {
	*s.clock = s.clock.Add(s.think)
	return s.Prompter.Input(ctx, q)
}

// The env hook's prompter records the time a task waited for answers on
// the task's Env, and only that: showing text is not waiting.
func TestTaskEnvTimesWaitsForAnswers(t *testing.T) {
	clock := time.Unix(1764090000, 0)
	scripted := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{true, "fix"}}
	te := taskEnv{prompter: func(render.Asker) tasks.Prompter {
		return slowPerson{Prompter: scripted, clock: &clock, think: 15 * time.Second}
	}}
	env := tasks.NewEnv("accept", nil, nil)
	env.Now = func() time.Time { return clock }
	te.fill(env, true)

	env.Prompt.Println("the diff")
	if _, err := env.Prompt.Confirm(context.Background(), tasks.Question[bool]{Text: "Keep?"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Prompt.Input(context.Background(), tasks.Question[string]{Text: "Commit message"}); err != nil {
		t.Fatal(err)
	}
	if got := env.Waited(); got != 30*time.Second {
		t.Errorf("waited %s, want 30s", got)
	}
	if !env.Interactive() {
		t.Error("the timed prompter hides that a person is there")
	}

	// No prompter: nobody to ask, and nothing to time.
	env = tasks.NewEnv("push", nil, nil)
	taskEnv{}.fill(env, false)
	if env.Prompt != nil {
		t.Errorf("no prompter became %T", env.Prompt)
	}
}
