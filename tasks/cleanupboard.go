package tasks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/rebuild-nixos/rebuild/internal/text"
)

// CleanupLine is one line of a cleanup plan: something that goes or
// stays, why, and its size.
type CleanupLine struct {
	// Label says what it is: a generation, a cache folder, a file.
	Label string
	// Bytes is its size; negative when unknown.
	Bytes int64
	// Reason says why it goes or why it stays.
	Reason string
	// Goes: the plan proposes to delete it. A yes deletes exactly these.
	Goes bool
	// Fixed: it stays whatever the answer (the current generation); it is
	// shown, never offered.
	Fixed bool
	// Key names the thing itself (a path, a generation number), the same
	// in a plan worked out at the start of the run and in the task's plan
	// when it applies: an early answer approves keys, not line numbers.
	Key string
}

// CleanupPlan is one task's part of the cleanup plan.
type CleanupPlan struct {
	Task  string // the task's name; Submit fills it from the Env
	Title string // what the lines are, e.g. "system generations"
	Lines []CleanupLine
}

// CleanupPlanner is a cleanup task whose plan can be worked out at the
// start of the run, before the tasks it runs after have run: working out
// a plan only reads, so the person can answer it while the system builds
// (backups waits for claude-config, sessions for learn-review, generations
// for accept). The run calls PlanCleanup once, early, when the task would
// ask (an interactive run without --yes or --dry-run), and hands the plan
// to the board (CleanupBoard.Propose). The task's Run later submits its
// plan as it then is, and gets back only those of its lines whose Key was
// approved in the early plan: what appeared since is kept for the next
// run, never deleted unseen. A Skip error or a plan without lines means
// the task has nothing to ask about.
type CleanupPlanner interface {
	PlanCleanup(ctx context.Context, env *Env) (CleanupPlan, error)
}

// CleanupBoard is the run's one cleanup question. The cleanup tasks
// (generations, caches, sessions, backups) work out their plans
// concurrently and Submit them here; the board waits until every task
// still expected has submitted or withdrawn, shows one table of what goes
// and what stays, grouped by task, and asks once: yes, no, or choose per
// line. Each Submit then returns its task's approved lines, and each task
// applies its part with its own safety checks.
//
// A task withdraws when it will not submit (a policy that applies without
// asking, nothing to clean, a failure, a "no" upstream); the run
// withdraws every task when it finishes, whatever the reason, so the
// board never waits for a task that is gone. A nil board, or a task that
// is not a member, asks its plan alone.
type CleanupBoard struct {
	mu      sync.Mutex
	pending map[string]bool // members that have neither submitted nor withdrawn
	order   []string        // members, in the order the table shows them
	plans   map[string]CleanupPlan
	asking  bool
	asked   bool
	answers map[string][]int
	err     error
	// changed is closed and replaced on every change: the waiters'
	// broadcast, which (unlike sync.Cond) can be selected with a context.
	changed chan struct{}
	// prompter, when set, is what the question is asked through, given
	// the asking task's Env; nil: that task's own Prompt.
	prompter func(*Env) Prompter
	// planning: members whose plan is being worked out early (Planning);
	// their Run's Submit waits for it. planned: members that were
	// planned early, whatever came of it. early: members whose plan on
	// the board is the early one. gone: members withdrawn, whose early
	// plan, if it still comes, is dropped.
	planning, planned, early, gone map[string]bool
}

// AskThrough makes the board ask its question through the prompter f
// returns for the asking task's Env, rather than through that task's own:
// the plan is every cleanup task's, so the question should not be
// labelled by whichever of them happened to submit last. Call it before
// the run starts.
func (b *CleanupBoard) AskThrough(f func(*Env) Prompter) {
	if b != nil {
		b.prompter = f
	}
}

// prompt is what the board asks env's task's question through.
func (b *CleanupBoard) prompt(env *Env) Prompter {
	if b.prompter != nil {
		if p := b.prompter(env); p != nil {
			return p
		}
	}
	return env.Prompt
}

// NewCleanupBoard returns a board expecting a plan (or a withdrawal) from
// each of members: the cleanup tasks selected for this run.
func NewCleanupBoard(members ...string) *CleanupBoard {
	b := &CleanupBoard{pending: map[string]bool{}, plans: map[string]CleanupPlan{}, changed: make(chan struct{}),
		planning: map[string]bool{}, planned: map[string]bool{}, early: map[string]bool{}, gone: map[string]bool{}}
	for _, m := range members {
		if !b.pending[m] {
			b.pending[m] = true
			b.order = append(b.order, m)
		}
	}
	return b
}

// Member reports whether task is expected on the board.
func (b *CleanupBoard) Member(task string) bool {
	if b == nil {
		return false
	}
	return slices.Contains(b.order, task)
}

// Withdraw says task will not submit a plan (or no longer needs its
// answer). It is safe to call more than once, after Submit, and for a
// task that is not a member.
func (b *CleanupBoard) Withdraw(task string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gone[task] = true
	if b.pending[task] || b.planning[task] {
		delete(b.pending, task)
		delete(b.planning, task)
		b.broadcast()
	}
	if b.early[task] && !b.asking && !b.asked {
		// Planned early, then skipped (a "no" upstream) before the
		// question: its lines would never be applied, so they are not
		// shown.
		delete(b.plans, task)
		delete(b.early, task)
		b.broadcast()
	}
}

// Planning says that task's plan is being worked out early (see
// CleanupPlanner). Call it before the run starts, for each member the
// run plans early; then Propose or Withdraw, once.
func (b *CleanupBoard) Planning(task string) {
	if b == nil || !b.Member(task) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.planning[task], b.planned[task] = true, true
}

// Propose hands in task's plan worked out early and waits, like Submit,
// until the question has been asked (by whichever member completes the
// board); the answer is kept for the task's Run, whose Submit gets it.
// A plan of a task withdrawn meanwhile is dropped.
func (b *CleanupBoard) Propose(ctx context.Context, env *Env, p CleanupPlan) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	if b.gone[env.Name] || !b.planning[env.Name] || len(p.Lines) == 0 {
		delete(b.planning, env.Name)
		b.broadcast()
		b.mu.Unlock()
		b.Withdraw(env.Name)
		return nil
	}
	delete(b.planning, env.Name)
	b.early[env.Name] = true
	b.mu.Unlock()
	_, err := b.submit(ctx, env, p)
	return err
}

// broadcast wakes every waiter; b.mu is held.
func (b *CleanupBoard) broadcast() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// Submit hands in env's task's plan and returns the indexes of the lines
// the person approved to go. It asks nobody and returns at once when no
// question is to be asked: without a terminal (nothing goes), with --yes
// or in a dry run (the lines marked Goes go). Otherwise it waits, without
// using a concurrency slot (Env.Idle), until every member has submitted
// or withdrawn, then one of the waiting tasks asks for all of them.
//
// A member planned early (Planning) gets no question of its own: Submit
// waits for that plan's answer and returns the indexes of p's lines whose
// Key was approved in it. When the early plan had nothing to ask about,
// Submit returns a Skip error: what is there now was never shown, so it
// is kept for the next run.
func (b *CleanupBoard) Submit(ctx context.Context, env *Env, p CleanupPlan) ([]int, error) {
	p.Task = env.Name
	if !env.Yes && !env.DryRun && env.Interactive() && b.Member(p.Task) {
		if picked, handled, err := b.fromEarly(ctx, env, p); handled {
			return picked, err
		}
	}
	return b.submit(ctx, env, p)
}

// fromEarly answers the Submit of a task planned early: handled is false
// when it was not.
func (b *CleanupBoard) fromEarly(ctx context.Context, env *Env, p CleanupPlan) (picked []int, handled bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.waitWhile(ctx, env, func() bool { return b.planning[p.Task] }); err != nil {
		return nil, true, err
	}
	if !b.planned[p.Task] {
		return nil, false, nil
	}
	early, ok := b.plans[p.Task]
	if !b.early[p.Task] || !ok {
		return nil, true, Skip("not in the cleanup plan asked at the start of the run: kept for the next run")
	}
	if err := b.waitWhile(ctx, env, func() bool { return !b.asked }); err != nil {
		return nil, true, err
	}
	if b.err != nil {
		return nil, true, b.err
	}
	return approvedNow(env, early, b.answers[p.Task], p), true, nil
}

// waitWhile waits, b.mu held and the task's slot lent out, while cond
// holds; it returns ctx's error if the context ends first.
func (b *CleanupBoard) waitWhile(ctx context.Context, env *Env, cond func() bool) error {
	if cond() {
		env.Status("waiting for the answer to the cleanup plan")
	}
	for cond() {
		if err := b.waitChange(ctx, env); err != nil {
			return err
		}
	}
	return nil
}

// waitChange waits, b.mu held (and held again on return) and the task's
// slot lent out, for the next change on the board or the end of ctx.
func (b *CleanupBoard) waitChange(ctx context.Context, env *Env) error {
	changed := b.changed
	b.mu.Unlock()
	var canceled error
	env.Idle(func() {
		select {
		case <-changed:
		case <-ctx.Done():
			canceled = ctx.Err()
		}
	})
	b.mu.Lock()
	return canceled
}

// approvedNow is the indexes of now's lines that were approved (picked)
// in the early plan, matched by Key; a line that is Fixed now stays
// whatever was approved. What now has that early did not is logged as
// kept.
func approvedNow(env *Env, early CleanupPlan, picked []int, now CleanupPlan) []int {
	ok := map[string]bool{}
	for _, i := range picked {
		if i >= 0 && i < len(early.Lines) && early.Lines[i].Key != "" {
			ok[early.Lines[i].Key] = true
		}
	}
	shown := map[string]bool{}
	for _, l := range early.Lines {
		shown[l.Key] = true
	}
	var out []int
	for i, l := range now.Lines {
		switch {
		case l.Fixed:
		case ok[l.Key]:
			out = append(out, i)
		case l.Goes && !shown[l.Key]:
			fmt.Fprintf(env.Log, "not in the cleanup plan asked at the start of the run, kept for the next run: %s\n", l.Label)
		}
	}
	return out
}

// submit is Submit for a plan to be asked now.
func (b *CleanupBoard) submit(ctx context.Context, env *Env, p CleanupPlan) ([]int, error) {
	p.Task = env.Name
	switch {
	case env.Yes || env.DryRun:
		b.Withdraw(p.Task)
		return p.goes(), nil
	case !env.Interactive():
		b.Withdraw(p.Task)
		return nil, nil
	case !b.Member(p.Task):
		// Alone: a board of one.
		b = b.alone(p.Task)
	}
	b.mu.Lock()
	if !b.pending[p.Task] || b.asking || b.asked {
		b.mu.Unlock()
		// Withdrawn already, or the question is gone: ask alone.
		b = b.alone(p.Task)
		b.mu.Lock()
	}
	b.plans[p.Task] = p
	delete(b.pending, p.Task)
	b.broadcast()
	for {
		switch {
		case b.gone[p.Task] && !b.asking && !b.asked:
			// Withdrawn while it waited (an early plan whose task was
			// skipped): its plan is off the board, nobody waits for it.
			delete(b.plans, p.Task)
			b.mu.Unlock()
			return nil, nil
		case b.asked:
			ans, err := b.answers[p.Task], b.err
			b.mu.Unlock()
			return ans, err
		case len(b.pending) == 0 && !b.asking:
			b.asking = true
			plans := b.ordered()
			b.mu.Unlock()
			env.Status("the cleanup plan is asked below")
			answers, err := askCleanup(ctx, env, b.prompt(env), plans)
			b.mu.Lock()
			b.asking, b.asked, b.answers, b.err = false, true, answers, err
			if err != nil {
				b.err = fmt.Errorf("the cleanup question (asked by %s): %w", p.Task, err)
			}
			b.broadcast()
			continue
		}
		env.Status("waiting for the cleanup plan")
		if canceled := b.waitChange(ctx, env); canceled != nil && !b.asked {
			if !b.asking {
				// Not asked yet: the plan goes off the board with its task.
				delete(b.plans, p.Task)
				b.broadcast()
			}
			b.mu.Unlock()
			return nil, canceled
		}
	}
}

// alone is a board of task alone, asking as b does; b may be nil.
func (b *CleanupBoard) alone(task string) *CleanupBoard {
	n := NewCleanupBoard(task)
	if b != nil {
		n.prompter = b.prompter
	}
	return n
}

// ordered is the submitted plans in the members' order; b.mu is held.
func (b *CleanupBoard) ordered() []CleanupPlan {
	var out []CleanupPlan
	for _, m := range b.order {
		if p, ok := b.plans[m]; ok {
			out = append(out, p)
		}
	}
	if len(out) == 0 { // a lone board's task was not in order
		for _, p := range b.plans {
			out = append(out, p)
		}
	}
	return out
}

func (p CleanupPlan) goes() []int {
	var out []int
	for i, l := range p.Lines {
		if l.Goes && !l.Fixed {
			out = append(out, i)
		}
	}
	return out
}

// askCleanup shows the one table and asks the one question for plans;
// the answer is each task's approved line indexes.
func askCleanup(ctx context.Context, env *Env, prompt Prompter, plans []CleanupPlan) (map[string][]int, error) {
	answers := map[string][]int{}
	var n int
	var bytes int64
	for _, p := range plans {
		for _, i := range p.goes() {
			n++
			bytes += max(p.Lines[i].Bytes, 0)
		}
	}
	table := CleanupTable(plans)
	fmt.Fprintln(env.Log, table)
	if n == 0 {
		// Nothing is proposed: the one question is which, if any, of
		// what may go should go.
		return pickLines(ctx, env, prompt, plans, table, "Nothing is planned to go. Delete any of these?")
	}
	prompt.Println(table)
	q := Question[rune]{
		Text:           fmt.Sprintf("Apply the cleanup plan: delete the %s marked goes (%s)?", text.Plural(n, "item", "items"), text.FormatBytes(bytes)),
		Default:        'n',
		NonInteractive: 'n',
	}
	choices := []Choice{{Key: 'y', Label: "yes, as planned"}, {Key: 'n', Label: "no, keep everything"}, {Key: 'c', Label: "choose per line"}}
	a, err := prompt.Choose(ctx, q, choices)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Log, "%s %c\n", q.Text, a)
	switch a {
	case 'y':
		for _, p := range plans {
			answers[p.Task] = p.goes()
		}
	case 'c':
		return pickLines(ctx, env, prompt, plans, "", "Delete which?")
	}
	return answers, nil
}

// pickLines offers every line that may go (not Fixed), those planned to
// go preselected, and returns each task's picked lines. table, when not
// empty, is shown first; with no line to offer nothing is asked.
func pickLines(ctx context.Context, env *Env, prompt Prompter, plans []CleanupPlan, table, text string) (map[string][]int, error) {
	answers := map[string][]int{}
	type ref struct {
		task string
		line int
	}
	var refs []ref
	var labels []string
	var pre []int
	for _, p := range plans {
		for i, l := range p.Lines {
			if l.Fixed {
				continue
			}
			if l.Goes {
				pre = append(pre, len(refs))
			}
			refs = append(refs, ref{p.Task, i})
			labels = append(labels, fmt.Sprintf("%s: %s  %s  (%s)", p.Task, l.Label, sizeText(l.Bytes), l.Reason))
		}
	}
	if len(refs) == 0 {
		fmt.Fprintln(env.Log, "cleanup plan: nothing may go; nothing asked")
		return answers, nil
	}
	if table != "" {
		prompt.Println(table)
	}
	picked, err := prompt.MultiSelect(ctx, Question[[]int]{Text: text, Default: pre}, labels)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Log, "%s %v\n", text, picked)
	for _, i := range picked {
		if i >= 0 && i < len(refs) {
			answers[refs[i].task] = append(answers[refs[i].task], refs[i].line)
		}
	}
	return answers, nil
}

// CleanupTable is the plans as one table, grouped by task, as `nh clean`
// shows it: each line goes or stays, with its size and the reason, and a
// total of what goes.
func CleanupTable(plans []CleanupPlan) string {
	var rows [][4]string
	var w [4]int
	var heads []int // row index where a task's group starts
	var goesN int
	var goesB int64
	for _, p := range plans {
		heads = append(heads, len(rows))
		for _, l := range p.Lines {
			mark := "stays"
			if l.Goes && !l.Fixed {
				mark = "goes"
				goesN++
				goesB += max(l.Bytes, 0)
			}
			r := [4]string{mark, l.Label, sizeText(l.Bytes), l.Reason}
			for i, c := range r {
				w[i] = max(w[i], len([]rune(c)))
			}
			rows = append(rows, r)
		}
	}
	var s strings.Builder
	s.WriteString("Cleanup plan\n")
	for pi, p := range plans {
		title := p.Task
		if p.Title != "" {
			title += " — " + p.Title
		}
		s.WriteString(title + "\n")
		end := len(rows)
		if pi+1 < len(heads) {
			end = heads[pi+1]
		}
		for _, r := range rows[heads[pi]:end] {
			fmt.Fprintf(&s, "  %-*s  %-*s  %*s  %s\n", w[0], r[0], w[1], r[1], w[2], r[2], r[3])
		}
	}
	fmt.Fprintf(&s, "total: %s to go, %s", text.Plural(goesN, "item", "items"), text.FormatBytes(goesB))
	return s.String()
}

func sizeText(n int64) string {
	if n < 0 {
		return "?"
	}
	return text.FormatBytes(n)
}
