package schedule

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// LogOpener opens a task's log: a writer and the path shown to the user.
type LogOpener func(task string) (io.WriteCloser, string, error)

// EnvFunc completes the environment of one run of a task with what the
// caller owns: the configuration and the task's options, the command
// runner, the prompter, the home directory, --yes. When tty is true the
// task holds the tty resource and may be given the terminal, if there is
// one; the walker announces it (a Prompt event) only when env.Terminal is
// set afterwards.
//
// The walker has already set what it owns: the name, the log, the clock,
// the dry run, the status lines (each one becomes a Status event) and the
// run's store of handed-on values. This is how schedule stays clear of
// config and tasks/proc: cmd/rebuild supplies the EnvFunc.
type EnvFunc func(env *tasks.Env, tty bool)

// Options configure a Run. Everything the tasks touch comes in here.
type Options struct {
	// Jobs is the number of concurrency slots (at least 1).
	Jobs int
	// ParallelHosts bounds, besides Jobs, how many hosts are at work at
	// once in a run over several hosts (tasks with Spec.Host); 0 is no
	// bound. See hosts.go for what "at work" is.
	ParallelHosts int
	// Now is the clock (time.Now when nil).
	Now  func() time.Time
	Sink Sink
	Logs LogOpener
	// Estimate gives a task's expected duration: history's median, else
	// the task's default estimate. Used for priorities and ETAs; nil is
	// the spec's Estimate.
	Estimate func(task string) time.Duration
	// Env completes each task's environment (nothing more when nil: no
	// configuration, runner, prompter or terminal).
	Env EnvFunc
	// DryRun runs only the tasks that support a dry run; the rest are
	// skipped with the reason "dry run".
	DryRun bool
	Values *tasks.Values
	// TailLines is how many log lines a failed task's Finish event carries.
	TailLines int
}

// Run is one walk of a graph. Create it with New, start it with Execute;
// Interrupt may be called from a signal handler at any time.
type Run struct {
	g     *dag.Graph
	specs map[string]tasks.Spec
	opts  Options
	// order is the graph's Order and list its specs in that order, looked
	// up once here: the walk finds a task's spec by its index. hostOf
	// has the host of each per-host task (none in a run without hosts),
	// for the events that come by name only (status lines).
	order  []string
	list   []tasks.Spec
	hostOf map[string]string

	interrupts chan struct{}
	// lent carries slot changes from tasks that wait idle (tasks.Env.Idle):
	// +1 lends the slot to the walker, -1 takes it back.
	lent   chan int
	emitMu sync.Mutex
	// gateMu makes the first failed gate of each host the only one that
	// rolls that host back; rolledBack is what it did, by host ("" in a
	// run without hosts) (gate.go).
	gateMu     sync.Mutex
	rolledBack map[string]*GateRollback
}

// New checks that every node of g has a spec and returns a Run.
func New(g *dag.Graph, specs map[string]tasks.Spec, opts Options) (*Run, error) {
	order := g.Order()
	list := make([]tasks.Spec, len(order))
	var hostOf map[string]string
	for i, n := range order {
		s, ok := specs[n]
		if !ok {
			return nil, fmt.Errorf("schedule: task %q is in the graph but has no spec", n)
		}
		if s.Task == nil && !s.Disabled {
			return nil, fmt.Errorf("schedule: task %q has nothing to run", n)
		}
		list[i] = s
		if s.Host != "" {
			if hostOf == nil {
				hostOf = map[string]string{}
			}
			hostOf[n] = s.Host
		}
	}
	if opts.Jobs < 1 {
		opts.Jobs = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sink == nil {
		opts.Sink = SinkFunc(func(Event) {})
	}
	if opts.Env == nil {
		opts.Env = func(*tasks.Env, bool) {}
	}
	if opts.Values == nil {
		opts.Values = tasks.NewValues()
	}
	if opts.TailLines <= 0 {
		opts.TailLines = 20
	}
	return &Run{g: g, specs: specs, opts: opts, order: order, list: list, hostOf: hostOf,
		interrupts: make(chan struct{}, 16), lent: make(chan int), rolledBack: map[string]*GateRollback{}}, nil
}

// Values is the store of values tasks handed on during the run.
func (r *Run) Values() *tasks.Values { return r.opts.Values }

// Interrupt asks the run to stop, as Ctrl-C does. While a task that holds
// interrupts back is running, the first call only emits a Notice.
func (r *Run) Interrupt() {
	select {
	case r.interrupts <- struct{}{}:
	default:
	}
}

// emit stamps e with its time and its task's host and hands it to the
// Sink, one event at a time. The host is stamped here, the one door every
// event goes through, so that no event of a per-host task leaves without
// it (the walker's own events come with it already: it has the spec at
// hand).
func (r *Run) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = r.opts.Now()
	}
	if e.Host == "" && e.Task != "" && r.hostOf != nil {
		e.Host = r.hostOf[e.Task]
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	// A panicking Sink loses its event. Emit runs on the walker, on task
	// goroutines and on a command's output readers: a panic there would
	// stop the walker waiting forever, or take the process down with
	// commands still running.
	defer func() { _ = recover() }()
	r.opts.Sink.Emit(e)
}

// statusEvents turns a task's status lines into Status events, every one
// of them: the newest line must reach the screen, so rate limiting is the
// renderers' business, where the screen is drawn.
type statusEvents struct{ r *Run }

func (s statusEvents) Status(task, line string) {
	s.r.emit(Event{Task: task, Kind: Status, State: Running, Status: line})
}

// Progress is a status line with the build's progress behind it.
func (s statusEvents) Progress(task, line string, p tasks.BuildProgress) {
	s.r.emit(Event{Task: task, Kind: Status, State: Running, Status: line, Progress: &p})
}

// Idle lends task's slot to the walker while it waits idle, and takes it
// back afterwards, even when the slots are all taken then (the walker
// starts nothing until enough tasks have finished): a task waiting for
// others (the cleanup board) never keeps them from starting.
func (s statusEvents) Idle(task string, idle bool) {
	if idle {
		s.r.lent <- 1
	} else {
		s.r.lent <- -1
	}
}
