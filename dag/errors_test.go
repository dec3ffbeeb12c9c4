package dag

import "testing"

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"build", "build", 0},
		{"biuld", "build", 1}, // transposition
		{"buil", "build", 1},
		{"bulid", "build", 1},
		{"bild", "build", 1},
		{"uild", "build", 1},
		{"buidl", "build", 1},
		{"flake", "flake-update", 7},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // optimal string alignment, not full Damerau
		{"·x", "x", 1},   // runes, not bytes
	}
	for _, c := range cases {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := editDistance(c.b, c.a); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.b, c.a, got, c.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"flake-update", "build", "diff", "activate", "git", "push", "a"}
	cases := map[string]string{
		"biuld":    "build",
		"buld":     "build",
		"bui":      "", // two edits is too many for three letters
		"dif":      "diff",
		"gti":      "git",
		"activat":  "activate",
		"actvate":  "activate",
		"flake":    "",
		"zz":       "",
		"b":        "a", // one edit: the first of the closest
		"nothing":  "",
		"push":     "", // an exact name is not a suggestion
		"puhs":     "push",
		"acitvate": "activate",
	}
	for in, want := range cases {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

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
			Groups: []string{"cleanup", "system"}, Seeds: []int{1, 2}},
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
