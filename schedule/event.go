package schedule

import (
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// EventKind says what an Event reports.
type EventKind string

// Event kinds. Start, Finish, Status and Prompt are the ones DESIGN.md's
// json output names; Notice carries a run-level message (a held-back
// Ctrl-C, the lock holder) and Release tells a renderer that a task gave
// the terminal back.
const (
	Start   EventKind = "start"
	Finish  EventKind = "finish"
	Status  EventKind = "status"
	Prompt  EventKind = "prompt"
	Release EventKind = "release"
	Notice  EventKind = "notice"
)

// Event is plain data about the run; renderers turn it into output.
type Event struct {
	Time time.Time
	Task string
	// Host is the host of a per-host task's instance (tasks.Spec.Host:
	// "web1" on every event of build@web1); "" for a task of the whole
	// run, and on every event of a run without hosts.
	Host     string
	Kind     EventKind
	State    State
	Duration time.Duration
	// ETA is the expected duration of a starting task (0 = unknown).
	ETA time.Duration
	// Reason is the one-line reason of every final state but succeeded.
	Reason string
	// Err is the error of a failed task.
	Err error
	// Status is the live status line of a Status event, or the message
	// of a Notice.
	Status string
	// Progress is, on a build's Status events, what the build is doing
	// (Status is its one-line form).
	Progress *tasks.BuildProgress
	Actions  []string
	Stats    []string
	Warnings []string
	// Diff is, on the diff task's Finish, the closure difference.
	Diff *tasks.ClosureDiff
	// Fields are the task's recorded facts (tasks.Env.Field).
	Fields map[string]any
	// Tail holds the last lines of a failed task's log; LogPath its file.
	Tail     []string
	LogPath  string
	Critical bool
	Phase    int
}

// Sink receives events. The scheduler calls Emit from one goroutine at a
// time, in order; Emit must not block for long.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Emit calls f.
func (f SinkFunc) Emit(e Event) { f(e) }

// Sinks fans events out to several sinks in order.
type Sinks []Sink

// Emit sends e to every sink.
func (s Sinks) Emit(e Event) {
	for _, k := range s {
		k.Emit(e)
	}
}
