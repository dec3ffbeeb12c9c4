package dag

import (
	"testing"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
)

func TestErrorMessages(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&DuplicateError{Name: "a"}, `duplicate task "a"`},
		{&UnknownEdgeError{Task: "a", Kind: After, Target: "b"}, `task "a": after unknown task "b"`},
		{&UnknownEdgeError{Task: "a", Kind: Needs, Target: "biuld", Suggestion: "build"},
			`task "a": needs unknown task "biuld" (did you mean "build"?)`},
		{&CycleError{Cycle: []string{"a", "a"}}, `cycle: a → a`},
		{&CycleError{Cycle: []string{"a", "b", "c", "a"}}, `cycle: a → b → c → a`},
		{&NodeError{Task: "A", Msg: "name has 'A'"}, `task "A": name has 'A'`},
		{&SelectorError{Input: "a,,b", Msg: "empty item"}, `selector "a,,b": empty item`},
		{&SelectorError{Input: "a,B", Item: "B", Msg: "uppercase"}, `selector "a,B": item "B": uppercase`},
		{&UnknownSelectorError{Token: "biuld", Tasks: []string{"flake-update", "build"},
			Groups: []string{"cleanup", "system"}, Phases: []int{1, 2}},
			`unknown task, group or phase "biuld" (did you mean "build"?); valid: tasks flake-update, build; groups cleanup, system; phases 1–14 present: 1, 2`},
		{&UnknownSelectorError{Token: "clenup", Tasks: []string{"a"}, Groups: []string{"cleanup"}},
			`unknown task, group or phase "clenup" (did you mean "cleanup"?); valid: tasks a; groups cleanup`},
		{&UnknownSelectorError{Token: "x"}, `unknown task, group or phase "x"; valid: no tasks`},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("%T.Error() =\n  %s\nwant\n  %s", c.err, got, c.want)
		}
	}
}

// Every error of a graph the user wrote is a usage error (exit 2), so the
// command line tells a bad configuration from a failed run.
func TestGraphErrorsAreUsageErrors(t *testing.T) {
	for _, err := range []error{
		&DuplicateError{}, &UnknownEdgeError{}, &CycleError{}, &SelectorError{}, &NodeError{Task: "A", Msg: "name has 'A'"},
	} {
		c, ok := err.(interface{ ExitCode() int })
		if !ok || c.ExitCode() != exitcode.Usage {
			t.Errorf("%T: exit code %v, want %d", err, ok, exitcode.Usage)
		}
	}
}
