package tasks

import (
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/table"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Env is everything a task may use. The scheduler builds one per task run.
type Env struct {
	// Name is the task's name; a per-host task's carries its host
	// (build@web1, see OnHost).
	Name string
	// SSHControl is the directory of the run's shared ssh connections to
	// its hosts, one socket per host named <host>.sock (see proc.SSH
	// ControlPath); "" shares none.
	SSHControl string
	// Host is the host a per-host task acts on, in a run with [host.*]
	// tables; nil otherwise (see Target). Config.Host is then its name.
	Host *config.Host
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
	// Screen is the size of the terminal the task's questions and tables
	// are shown on, asked each time (a resize is followed); nil or 0 when
	// unknown. ShowTable lays tables out for it.
	Screen func() (width, height int)

	report   Reporter
	vals     *Values
	mu       sync.Mutex
	actions  []string
	stats    []string
	warnings []string
	fields   map[string]any
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
	e := new(Env)
	e.Init(name, r, v)
	return e
}

// Init makes e, an Env not yet used, what NewEnv returns: for the
// scheduler, which keeps each task's Env with the rest of the task's
// bookkeeping rather than allocating one per task.
func (e *Env) Init(name string, r Reporter, v *Values) {
	if v == nil {
		v = NewValues()
	}
	*e = Env{Name: name, report: r, vals: v, Now: time.Now, Log: io.Discard}
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

// Field records a fact about the task's outcome for programs: json mode
// writes it in the task's finish event under "fields" (see
// FieldRebootNeeded). value must encode as JSON.
func (e *Env) Field(key string, value any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fields == nil {
		e.fields = map[string]any{}
	}
	e.fields[key] = value
}

// Fields a task may record (Env.Field) that something other than its
// finish event reads: the metrics file reads these two.
const (
	// FieldRebootNeeded (a bool) says whether the activated system needs
	// a reboot to be fully in effect: its kernel, initrd or modules are
	// not the booted ones, or it was only made the boot default.
	FieldRebootNeeded = "reboot_needed"
	// FieldRebootReason (a string) says why, e.g. "kernel 6.6.1 → 6.6.8".
	FieldRebootReason = "reboot_reason"
	// FieldGeneration and FieldPreviousGeneration (ints) are, on a
	// per-host activate's result in a run with hosts, the generation it
	// became and the one before (its Activation's): the summary's table
	// of hosts and the json summary read them.
	FieldGeneration         = "generation"
	FieldPreviousGeneration = "previous_generation"
)

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
	// Fields are the facts recorded with Env.Field; nil when none.
	Fields map[string]any
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
		Fields:   maps.Clone(e.fields),
	}
}

// Interactive reports whether a question reaches a person: a Prompter
// that really asks (stdin and stdout are terminals).
func (e *Env) Interactive() bool { return e.Prompt != nil && e.Prompt.Interactive() }

// Show puts text (a list of paths, one a line) in the log, and on the
// terminal when someone is there to read it: under the task's label, with
// its next question (see Prompter.Println). On the terminal a line wider
// than it is cut in the middle, and a list longer than half the screen
// shows its first lines, then "… N more (all in the log)".
func (e *Env) Show(text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	fmt.Fprintln(e.Log, text)
	if e.Interactive() {
		e.Prompt.Println(fitLines(text, e.TableOptions(0)))
	}
}

// fitLines lays lines out by o's width and rows, as Show does.
func fitLines(text string, o table.Options) string {
	lines := strings.Split(text, "\n")
	if o.MaxRows > 0 && len(lines) > o.MaxRows {
		more := len(lines) - (o.MaxRows - 1)
		lines = append(lines[:o.MaxRows-1:o.MaxRows-1], table.More(more))
	}
	if o.Width > 0 {
		for i, l := range lines {
			lines[i] = table.Middle(l, o.Width)
		}
	}
	return strings.Join(lines, "\n")
}

// ShowTable is Show for a table (rows[0] the header, the last foot rows a
// total): the log gets all of it as wide as it is; the terminal gets it
// fitted to its width (a path cut in the middle, a number never), and
// only its first rows when it is longer than half the screen, then
// "… N more (all in the log)". note, if not "", follows the table.
func (e *Env) ShowTable(rows [][]string, foot int, note string) {
	if len(rows) == 0 {
		return
	}
	if note != "" {
		note = strings.TrimRight(note, "\n") + "\n"
	}
	full := table.Layout(rows, table.Options{})
	fmt.Fprint(e.Log, full+note)
	if e.Interactive() {
		e.Prompt.Println(strings.TrimRight(table.Layout(rows, e.TableOptions(foot))+note, "\n"))
	}
}

// TableOptions lay a table out for the task's terminal: as wide as a
// question's body may be there (the block indents it by two columns and
// leaves the last column free), and at most half the screen's rows long.
// With no screen: as wide as the cells, every row.
func (e *Env) TableOptions(foot int) table.Options {
	if e.Screen == nil {
		return table.Options{Foot: foot}
	}
	w, h := e.Screen()
	o := table.Options{Foot: foot}
	if w > 0 {
		o.Width = max(w-3, 20)
	}
	if h > 0 {
		o.MaxRows = max(h/2-2, 5)
	}
	return o
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
