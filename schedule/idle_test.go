package schedule

import (
	"context"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// With one slot, three tasks that wait for each other's plans on the
// cleanup board still all run: a task waiting idle lends its slot.
func TestIdleTaskLendsItsSlot(t *testing.T) {
	board := tasks.NewCleanupBoard("a", "b", "c")
	yes := &scriptedYes{}
	submit := tasks.Func(func(ctx context.Context, env *tasks.Env) error {
		env.Prompt, env.Cleanup = yes, board
		_, err := env.Cleanup.Submit(ctx, env, tasks.CleanupPlan{Lines: []tasks.CleanupLine{{Label: env.Name, Goes: true}}})
		return err
	})
	specs := []tasks.Spec{{Name: "a", Task: submit}, {Name: "b", Task: submit}, {Name: "c", Task: submit}, {Name: "d", Task: ok()}}
	done := make(chan *Summary, 1)
	go func() { s, _ := run(t, specs, Options{Jobs: 1}); done <- s }()
	select {
	case s := <-done:
		for _, n := range []string{"a", "b", "c", "d"} {
			if state(s, n) != Succeeded {
				t.Errorf("%s %s: %v", n, state(s, n), s.Results[n].Err)
			}
		}
		if yes.asked != 1 {
			t.Errorf("asked %d times, want once", yes.asked)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: the waiting tasks kept the only slot")
	}
}

// scriptedYes answers the one cleanup question yes (it is asked once,
// by one task, so no lock is needed beyond the board's).
type scriptedYes struct{ asked int }

func (*scriptedYes) Interactive() bool { return true }
func (*scriptedYes) Confirm(context.Context, tasks.Question[bool]) (bool, error) {
	return true, nil
}
func (s *scriptedYes) Choose(context.Context, tasks.Question[rune], []tasks.Choice) (rune, error) {
	s.asked++
	return 'y', nil
}
func (*scriptedYes) MultiSelect(context.Context, tasks.Question[[]int], []string) ([]int, error) {
	return nil, nil
}
func (*scriptedYes) Input(context.Context, tasks.Question[string]) (string, error) { return "", nil }
func (*scriptedYes) Println(string)                                                {}
