package tasks

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Env is everything a task may use. The scheduler builds one per task run.
type Env struct {
	// Name is the task's name.
	Name string
	// Log receives the task's output: its own log file and run.log.
	Log io.Writer
	// Now is the clock.
	Now func() time.Time
	// Config is the whole validated configuration. A built-in task's own
	// options are not here: they are decoded and checked before the run
	// and bound to the task (see Configurable).
	Config *config.Config
	// Prompt asks questions; see Prompter.
	Prompt Prompter
	// Runner runs external commands (process groups, drained output,
	// cancellation, elevation).
	Runner *proc.Runner
	// Terminal is set while the task holds the tty resource and a real
	// terminal exists: a child may be attached to it.
	Terminal *proc.Terminal
	// Home is the invoking user's home directory: the root of every `~`
	// path. Tests point it at a temporary directory.
	Home string
	// DryRun: show exactly what would be done, change nothing.
	DryRun bool
	// Yes answers every question with its documented --yes answer.
	Yes bool
	// Cleanup is the run's one cleanup question (see CleanupBoard); nil
	// asks each plan alone.
	Cleanup *CleanupBoard

	report   Reporter
	vals     *Values
	mu       sync.Mutex
	actions  []string
	stats    []string
	warnings []string
	waited   time.Duration
	diff     *ClosureDiff
}

// Reporter receives a task's live status lines; the scheduler turns them
// into events.
type Reporter interface {
	Status(task, line string)
}

// NewEnv returns an Env whose status lines go to r and whose handed-on
// values live in v. Either may be nil.
func NewEnv(name string, r Reporter, v *Values) *Env {
	if v == nil {
		v = NewValues()
	}
	return &Env{Name: name, report: r, vals: v, Now: time.Now, Log: io.Discard}
}

// Status sets the task's one-line live status.
func (e *Env) Status(format string, args ...any) {
	if e.report != nil {
		e.report.Status(e.Name, fmt.Sprintf(format, args...))
	}
}

// Idler is a Reporter that can lend a task's concurrency slot to other
// tasks while the task waits for something that uses no machine (other
// tasks' plans, a person).
type Idler interface {
	Idle(task string, idle bool)
}

// Idle runs wait, which blocks without working, with the task's
// concurrency slot lent to other tasks meanwhile: a task waiting for
// others must not keep them from starting.
func (e *Env) Idle(wait func()) {
	if i, ok := e.report.(Idler); ok {
		i.Idle(e.Name, true)
		defer i.Idle(e.Name, false)
	}
	wait()
}

// StatusFunc returns Status as a plain func, for command runners.
func (e *Env) StatusFunc() func(string) {
	return func(s string) { e.Status("%s", s) }
}

// Action records something the task did, for the summary.
func (e *Env) Action(format string, args ...any) { e.add(&e.actions, format, args) }

// Stat records a statistic for the summary.
func (e *Env) Stat(format string, args ...any) { e.add(&e.stats, format, args) }

// Warn records a warning for the summary; it does not fail the task.
func (e *Env) Warn(format string, args ...any) { e.add(&e.warnings, format, args) }

func (e *Env) add(dst *[]string, format string, args []any) {
	line := fmt.Sprintf(format, args...)
	e.mu.Lock()
	*dst = append(*dst, line)
	e.mu.Unlock()
	fmt.Fprintln(e.Log, line)
}

// AddWait records d as time the task spent waiting for the person to
// answer. The Prompter a task is given reports it; the scheduler keeps it
// apart from the task's working time, so a slow answer never makes the
// next run's estimate longer.
func (e *Env) AddWait(d time.Duration) {
	e.mu.Lock()
	e.waited += d
	e.mu.Unlock()
}

// Waited is the time recorded with AddWait.
func (e *Env) Waited() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.waited
}

// Report is what a task recorded for the summary.
type Report struct {
	Actions, Stats, Warnings []string
	// Diff is what SetDiff recorded (the diff task's), else nil.
	Diff *ClosureDiff
}

// Report returns copies of the recorded lines.
func (e *Env) Report() Report {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Report{
		Actions:  append([]string(nil), e.actions...),
		Stats:    append([]string(nil), e.stats...),
		Warnings: append([]string(nil), e.warnings...),
		Diff:     e.diff,
	}
}

// Interactive reports whether a question reaches a person: a Prompter
// that really asks (stdin and stdout are terminals).
func (e *Env) Interactive() bool { return e.Prompt != nil && e.Prompt.Interactive() }

// Show puts text (a table, a list) in the log, and on the terminal when
// someone is there to read it: under the task's label, with its next
// question (see Prompter.Println).
func (e *Env) Show(text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	fmt.Fprintln(e.Log, text)
	if e.Interactive() {
		e.Prompt.Println(text)
	}
}

// Expand resolves a leading ~ against Home.
func (e *Env) Expand(p string) string {
	if p == "~" {
		return e.Home
	}
	if len(p) > 1 && p[0] == '~' && p[1] == '/' {
		return e.Home + p[1:]
	}
	return p
}

// Values is the run-wide store of handed-on values (see Key). Ordering
// comes from the graph's edges; the mutex only guards the map.
type Values struct {
	mu sync.RWMutex
	m  map[[2]string]any
}

// NewValues returns an empty store.
func NewValues() *Values { return &Values{m: map[[2]string]any{}} }

func (v *Values) set(task, key string, val any) {
	v.mu.Lock()
	v.m[[2]string{task, key}] = val
	v.mu.Unlock()
}

func (v *Values) get(task, key string) (any, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	val, ok := v.m[[2]string{task, key}]
	return val, ok
}

// Snapshot returns the values the run's history keeps, keyed
// "task.key", each a string: a handed-on string as it is, and what a
// Recorded value records under its task ("build.out"). Other values are
// left out.
func (v *Values) Snapshot() map[string]any {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[string]any, len(v.m))
	for k, val := range v.m {
		switch x := val.(type) {
		case string:
			out[k[0]+"."+k[1]] = x
		case Recorded:
			for name, s := range x.Record() {
				out[k[0]+"."+name] = s
			}
		}
	}
	return out
}
