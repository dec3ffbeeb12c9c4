package tasks

import (
	"fmt"
	"strings"
)

// Key names a value one task hands on to the tasks after it, together
// with its type, so that the compiler sees what a reader gets:
//
//	var Built = tasks.NewKey[Built]("build", "built")
//	Built.Put(env, Built{Out: out, Changed: true}) // in build
//	b, ok := Built.Get(env)                        // in activate
//
// Ordering comes from the graph: a reader must need (or come after) the
// task that puts the value, and Get reports false when that task did not
// run or did not get that far.
type Key[T any] struct{ task, name string }

// NewKey returns the key of the value named name that task hands on.
func NewKey[T any](task, name string) Key[T] { return Key[T]{task: task, name: name} }

// String is "task.name", the name history records a string value under.
func (k Key[T]) String() string { return k.task + "." + k.name }

// Store holds handed-on values: a task's Env, or a run's Values (which
// tests and the history read directly).
type Store interface{ values() *Values }

func (e *Env) values() *Values {
	if e.vals == nil {
		e.vals = NewValues()
	}
	return e.vals
}

func (v *Values) values() *Values { return v }

// Put hands v on. Through an Env, only the task the key names may put it:
// another task doing so is a wiring mistake, and panics (which fails that
// task, not the run). A per-host task's value is its host's: build@web1
// puts under "build@web1", and activate@web1 gets it from there.
func (k Key[T]) Put(s Store, v T) {
	task := k.task
	if e, ok := s.(*Env); ok {
		base, host := SplitHost(e.Name)
		if base != k.task {
			panic(fmt.Sprintf("task %s cannot hand on %s: only %s can", e.Name, k, k.task))
		}
		task = OnHost(k.task, host)
	}
	s.values().set(task, k.name, v)
}

// On returns the key of host's instance of the value (for a reader that
// is not itself per host, e.g. the summary of every host's diff).
func (k Key[T]) On(host string) Key[T] { return Key[T]{task: OnHost(k.task, host), name: k.name} }

// Get returns the value handed on under k; false when there is none.
// Through a per-host task's Env it is the value of that task's host.
func (k Key[T]) Get(s Store) (T, bool) {
	task := k.task
	if e, ok := s.(*Env); ok {
		if _, host := SplitHost(e.Name); host != "" && !strings.Contains(task, HostSep) {
			task = OnHost(task, host)
		}
	}
	v, ok := s.values().get(task, k.name)
	t, isT := v.(T) // always a T: only Put stores under a Key
	return t, ok && isT
}

// Recorded is a handed-on value that the run's history keeps, as strings:
// Record returns them by name under the task that handed the value on
// ("out" becomes "build.out"). A handed-on string is kept as it is.
type Recorded interface {
	Record() map[string]string
}
