package dag

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
	"github.com/rebuild-nixos/rebuild/internal/suggest"
)

// DuplicateError reports two tasks with the same name.
type DuplicateError struct {
	Name string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("duplicate task %q", e.Name)
}

// ExitCode is exitcode.Usage, as for every error of the graph a user wrote.
func (e *DuplicateError) ExitCode() int { return exitcode.Usage }

// UnknownEdgeError reports an edge to a task that does not exist.
// Suggestion is the closest existing task name (edit distance at most 2,
// 1 for names of up to three characters), or "" when none is close.
type UnknownEdgeError struct {
	Task       string
	Kind       EdgeKind
	Target     string
	Suggestion string
}

func (e *UnknownEdgeError) Error() string {
	msg := fmt.Sprintf("task %q: %s unknown task %q", e.Task, e.Kind, e.Target)
	if e.Suggestion != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", e.Suggestion)
	}
	return msg
}

// ExitCode is exitcode.Usage.
func (e *UnknownEdgeError) ExitCode() int { return exitcode.Usage }

// CycleError reports a cycle. Cycle holds the whole cycle with its first
// element repeated at the end; it starts at the lexically smallest name in
// the cycle, so the message is the same on every run.
type CycleError struct {
	Cycle []string
}

func (e *CycleError) Error() string {
	return "cycle: " + strings.Join(e.Cycle, " → ")
}

// ExitCode is exitcode.Usage.
func (e *CycleError) ExitCode() int { return exitcode.Usage }

// NodeError reports a task that cannot be part of a graph: a name or a
// group that is not kebab-case (it could never be selected), or a phase
// number outside 0..14.
type NodeError struct {
	Task string
	Msg  string
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("task %q: %s", e.Task, e.Msg)
}

// ExitCode is exitcode.Usage: the graph a user wrote is wrong.
func (e *NodeError) ExitCode() int { return exitcode.Usage }

// SelectorError reports a malformed --only or --skip value: Input is the
// whole value, Item the offending item (after trimming spaces).
type SelectorError struct {
	Input string
	Item  string
	Msg   string
}

func (e *SelectorError) Error() string {
	if e.Item == "" {
		return fmt.Sprintf("selector %q: %s", e.Input, e.Msg)
	}
	return fmt.Sprintf("selector %q: item %q: %s", e.Input, e.Item, e.Msg)
}

// ExitCode is exitcode.Usage.
func (e *SelectorError) ExitCode() int { return exitcode.Usage }

// UnknownSelectorError reports a selector token that is neither a task, a
// group nor a phase present in the graph. Tasks are in the graph's
// Order (a per-host task once, by its name), Groups sorted, Phases
// ascending: everything that would have been valid.
type UnknownSelectorError struct {
	Token  string
	Tasks  []string
	Groups []string
	Phases []int
	// Hosts are the hosts of per-host tasks, whose instances (NAME@HOST)
	// are valid too; nil without per-host tasks.
	Hosts []string
}

func (e *UnknownSelectorError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "unknown task, group or phase %q", e.Token)
	candidates := append(append([]string(nil), e.Tasks...), e.Groups...)
	if s := suggest.Closest(e.Token, candidates); s != "" {
		fmt.Fprintf(&b, " (did you mean %q?)", s)
	}
	b.WriteString("; valid: ")
	if len(e.Tasks) == 0 {
		b.WriteString("no tasks")
	} else {
		b.WriteString("tasks " + strings.Join(e.Tasks, ", "))
	}
	if len(e.Hosts) > 0 {
		b.WriteString(" (a per-host task on one host: NAME@HOST, hosts " + strings.Join(e.Hosts, ", ") + ")")
	}
	if len(e.Groups) > 0 {
		b.WriteString("; groups " + strings.Join(e.Groups, ", "))
	}
	if len(e.Phases) > 0 {
		phases := make([]string, len(e.Phases))
		for i, s := range e.Phases {
			phases[i] = strconv.Itoa(s)
		}
		b.WriteString("; phases 1–14 present: " + strings.Join(phases, ", "))
	}
	return b.String()
}

// ExitCode is exitcode.Usage.
func (e *UnknownSelectorError) ExitCode() int { return exitcode.Usage }
