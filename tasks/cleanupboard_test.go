package tasks_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

func boardPlan(goes ...bool) tasks.CleanupPlan {
	var p tasks.CleanupPlan
	for i, g := range goes {
		p.Lines = append(p.Lines, tasks.CleanupLine{Label: string(rune('a' + i)), Bytes: 100, Reason: "why", Goes: g})
	}
	return p
}

type submitted struct {
	picked []int
	err    error
}

// submitAll submits each plan from its own goroutine, as the tasks do,
// and fails the test if they do not all come back within 10 s.
func submitAll(t *testing.T, b *tasks.CleanupBoard, p tasks.Prompter, yes bool, plans map[string]tasks.CleanupPlan) map[string]submitted {
	t.Helper()
	var mu sync.Mutex
	out := map[string]submitted{}
	var wg sync.WaitGroup
	for name, plan := range plans {
		wg.Go(func() {
			env := tasks.NewEnv(name, nil, nil)
			env.Prompt, env.Yes, env.Cleanup = p, yes, b
			picked, err := env.Cleanup.Submit(context.Background(), env, plan)
			mu.Lock()
			out[name] = submitted{picked, err}
			mu.Unlock()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the board never answered: deadlock")
	}
	return out
}

func TestCleanupBoardAsksOnceForAll(t *testing.T) {
	b := tasks.NewCleanupBoard("generations", "caches", "sessions")
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{'y'}}
	got := submitAll(t, b, p, false, map[string]tasks.CleanupPlan{
		"generations": boardPlan(false, true, true),
		"caches":      boardPlan(true),
		"sessions":    boardPlan(true, false),
	})
	if len(p.Asked()) != 1 || !strings.HasPrefix(p.Asked()[0], "Apply the cleanup plan: delete the 4 items marked goes") {
		t.Fatalf("asked %q, want the one cleanup question", p.Asked())
	}
	for name, want := range map[string][]int{"generations": {1, 2}, "caches": {0}, "sessions": {0}} {
		if g := got[name]; g.err != nil || !slices.Equal(g.picked, want) {
			t.Errorf("%s got %v %v, want %v", name, g.picked, g.err, want)
		}
	}
	table := strings.Join(p.Printed(), "\n")
	for _, want := range []string{"generations\n", "caches\n", "sessions\n", "total: 4 items to go, 400 B"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Index(table, "generations") > strings.Index(table, "caches") {
		t.Errorf("groups not in the members' order:\n%s", table)
	}
}

func TestCleanupBoardChoosePerLine(t *testing.T) {
	b := tasks.NewCleanupBoard("caches", "backups")
	// Offered: caches a, b; backups a (fixed) is not offered, b.
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{'c', []int{1, 2}}}
	fixed := boardPlan(true, false)
	fixed.Lines[0].Fixed = true
	got := submitAll(t, b, p, false, map[string]tasks.CleanupPlan{"caches": boardPlan(true, true), "backups": fixed})
	if o := p.Offered(); len(o) != 2 || len(o[1]) != 3 {
		t.Fatalf("offered %q", o)
	}
	if !slices.Equal(got["caches"].picked, []int{1}) || !slices.Equal(got["backups"].picked, []int{1}) {
		t.Errorf("got %v", got)
	}
}

func TestCleanupBoardNoKeepsEverything(t *testing.T) {
	b := tasks.NewCleanupBoard("caches", "sessions")
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{'n'}}
	got := submitAll(t, b, p, false, map[string]tasks.CleanupPlan{"caches": boardPlan(true), "sessions": boardPlan(true)})
	for name, g := range got {
		if g.err != nil || len(g.picked) != 0 {
			t.Errorf("%s: %v %v after no", name, g.picked, g.err)
		}
	}
}

// A member that withdraws (it skipped, failed, or applies a policy)
// is not waited for.
func TestCleanupBoardWithdrawNoDeadlock(t *testing.T) {
	b := tasks.NewCleanupBoard("generations", "caches", "backups")
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{'y'}}
	go func() {
		time.Sleep(50 * time.Millisecond)
		b.Withdraw("generations")
	}()
	got := submitAll(t, b, p, false, map[string]tasks.CleanupPlan{"caches": boardPlan(true), "backups": boardPlan(true)})
	if len(p.Asked()) != 1 || len(got) != 2 {
		t.Fatalf("asked %q, got %v", p.Asked(), got)
	}
}

// A member whose context ends while it waits leaves the board; the
// others are asked without it.
func TestCleanupBoardCanceledWaiterLeaves(t *testing.T) {
	b := tasks.NewCleanupBoard("caches", "sessions", "backups")
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{'y'}}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		env := tasks.NewEnv("caches", nil, nil)
		env.Prompt = p
		_, err := b.Submit(ctx, env, boardPlan(true))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("a canceled waiter got an answer")
	}
	b.Withdraw("caches") // as the run does when the task finishes
	submitAll(t, b, p, false, map[string]tasks.CleanupPlan{"sessions": boardPlan(true), "backups": boardPlan(true)})
	if len(p.Asked()) != 1 || !strings.Contains(p.Asked()[0], "2 items") {
		t.Errorf("asked %q", p.Asked())
	}
}

func TestCleanupBoardNoTerminalAsksNothing(t *testing.T) {
	b := tasks.NewCleanupBoard("caches", "sessions", "generations")
	p := &taskstest.Prompter{T: t}
	// generations never submits: without a terminal nobody waits for it.
	got := submitAll(t, b, p, false, map[string]tasks.CleanupPlan{"caches": boardPlan(true), "sessions": boardPlan(true)})
	if len(p.Asked()) != 0 || len(p.Printed()) != 0 {
		t.Errorf("asked %q, shown %q without a terminal", p.Asked(), p.Printed())
	}
	for name, g := range got {
		if len(g.picked) != 0 {
			t.Errorf("%s: %v goes without a terminal", name, g.picked)
		}
	}
}

func TestCleanupBoardYesAsksNothing(t *testing.T) {
	b := tasks.NewCleanupBoard("caches", "sessions", "generations")
	p := &taskstest.Prompter{T: t, Terminal: true}
	got := submitAll(t, b, p, true, map[string]tasks.CleanupPlan{"caches": boardPlan(true, false), "sessions": boardPlan(false, true)})
	if len(p.Asked()) != 0 {
		t.Errorf("asked %q with --yes", p.Asked())
	}
	if !slices.Equal(got["caches"].picked, []int{0}) || !slices.Equal(got["sessions"].picked, []int{1}) {
		t.Errorf("--yes: %v, want what the plans mark goes", got)
	}
}

// Nothing proposed: one question, which of the lines that may go should
// go; with nothing that may go, no question at all.
func TestCleanupBoardNothingPlanned(t *testing.T) {
	b := tasks.NewCleanupBoard("generations")
	p := &taskstest.Prompter{T: t, Terminal: true, Answers: []any{[]int{1}}}
	got := submitAll(t, b, p, false, map[string]tasks.CleanupPlan{"generations": boardPlan(false, false)})
	if len(p.Asked()) != 1 || !strings.HasPrefix(p.Asked()[0], "Nothing is planned to go") || !slices.Equal(got["generations"].picked, []int{1}) {
		t.Errorf("asked %q, got %v", p.Asked(), got)
	}
	fixed := boardPlan(false)
	fixed.Lines[0].Fixed = true
	b = tasks.NewCleanupBoard("generations")
	p = &taskstest.Prompter{T: t, Terminal: true}
	got = submitAll(t, b, p, false, map[string]tasks.CleanupPlan{"generations": fixed})
	if len(p.Asked()) != 0 || len(got["generations"].picked) != 0 {
		t.Errorf("asked %q, got %v", p.Asked(), got)
	}
}
