package dag

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseSelector(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "", want: nil},
		{in: "   ", want: nil},
		{in: "build", want: []string{"build"}},
		{in: " build , 7,cleanup ", want: []string{"build", "7", "cleanup"}},
		{in: "a,b,a", want: []string{"a", "b"}},
		{in: "flake-update,14", want: []string{"flake-update", "14"}},
		{in: "a,,b", err: `selector "a,,b": empty item`},
		{in: "a,", err: `selector "a,": empty item`},
		{in: ",a", err: `selector ",a": empty item`},
		{in: "a, ,b", err: `selector "a, ,b": empty item`},
		{in: "Build", err: `selector "Build": item "Build": uppercase letter 'B' (names are lowercase)`},
		{in: "a,learn review", err: `selector "a,learn review": item "learn review": invalid character ' ' (use a-z, 0-9 and '-')`},
		{in: "a_b", err: `selector "a_b": item "a_b": invalid character '_' (use a-z, 0-9 and '-')`},
		{in: "é", err: `selector "é": item "é": invalid character 'é' (use a-z, 0-9 and '-')`},
	}
	for _, c := range cases {
		got, err := ParseSelector(c.in)
		if c.err != "" {
			var se *SelectorError
			if !errors.As(err, &se) || err.Error() != c.err {
				t.Errorf("ParseSelector(%q) = %v, %v; want *SelectorError %q", c.in, got, err, c.err)
			}
			if se != nil && se.Input != c.in {
				t.Errorf("ParseSelector(%q): Input = %q", c.in, se.Input)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseSelector(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestResolve(t *testing.T) {
	g := defaultGraph(t)
	cases := []struct {
		tokens []string
		want   []string
	}{
		{nil, nil},
		{[]string{"build"}, []string{"build"}},
		{[]string{"diff", "3"}, []string{"diff", "activate"}},
		{[]string{"7"}, []string{"learn-permissions", "learn-mcp", "learn-context", "learn-workflows",
			"learn-instructions", "learn-cross-project", "learn-meta", "learn-review"}},
		{[]string{"cleanup"}, []string{"generations", "caches", "sessions", "backups"}},
		{[]string{"git", "push", "14"}, []string{"accept", "commit", "push"}},
	}
	for _, c := range cases {
		got, err := g.Resolve(c.tokens)
		if err != nil {
			t.Errorf("Resolve(%q): %v", c.tokens, err)
			continue
		}
		want := map[string]bool{}
		for _, name := range c.want {
			want[name] = true
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Resolve(%q) = %v, want %v", c.tokens, got, want)
		}
	}
}

// A task name wins over a group of the same name; phases are numbers
// written plainly, and a phase no task has is unknown:
//
//	x (phase 1, group y)   y (phase 2, group x)   z (phase 2)
func TestResolvePrecedence(t *testing.T) {
	g := mustBuild(t, []Node{
		{Name: "x", Phase: 1, Groups: []string{"y"}},
		{Name: "y", Phase: 2, Groups: []string{"x"}},
		{Name: "z", Phase: 2},
	})
	for tok, want := range map[string][]string{"x": {"x"}, "y": {"y"}, "2": {"y", "z"}} {
		got, err := g.Resolve([]string{tok})
		if err != nil || !reflect.DeepEqual(keys(got), want) {
			t.Errorf("Resolve(%q) = %v, %v; want %v", tok, got, err, want)
		}
	}
	for _, tok := range []string{"3", "02", "0", "15", "-1", "g"} {
		_, err := g.Resolve([]string{tok})
		var ue *UnknownSelectorError
		if !errors.As(err, &ue) || ue.Token != tok {
			t.Errorf("Resolve(%q) = %v, want *UnknownSelectorError", tok, err)
		}
	}
}

func TestResolveUnknown(t *testing.T) {
	g := defaultGraph(t)
	_, err := g.Resolve([]string{"build", "biuld", "nope"})
	var ue *UnknownSelectorError
	if !errors.As(err, &ue) {
		t.Fatalf("Resolve = %v, want *UnknownSelectorError", err)
	}
	if got := err.Error(); got != unknownBiuld {
		t.Errorf("Error() =\n%s\nwant\n%s", got, unknownBiuld)
	}
	if !slices.Equal(ue.Tasks, g.Order()) || !slices.Equal(ue.Groups, g.Groups()) {
		t.Errorf("Tasks, Groups = %v, %v", ue.Tasks, ue.Groups)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{
		"", " ", "build", "a,b", " a , b ", "a,,b", "a,", ",", "7,cleanup,flake-update",
		"Build", "a b", "learn-review,14", "é", "\xff", "a,\t,b", "--,-", "0,00,015",
		"build@web1", "build@", "@web1", "a@b@c", "build@Web_1.x", "build@-x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tokens, err := ParseSelector(s)
		if err != nil {
			var se *SelectorError
			if !errors.As(err, &se) || se.Input != s || tokens != nil {
				t.Fatalf("ParseSelector(%q) = %q, %v (%T)", s, tokens, err, err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if strings.TrimSpace(s) == "" {
			if tokens != nil {
				t.Fatalf("ParseSelector(%q) = %q, want nil", s, tokens)
			}
			return
		}
		if len(tokens) == 0 {
			t.Fatalf("ParseSelector(%q) = no tokens and no error", s)
		}
		seen := map[string]bool{}
		for _, tok := range tokens {
			if tok == "" || nameProblem(tok) != "" || seen[tok] {
				t.Fatalf("ParseSelector(%q) gave bad or repeated token %q", s, tok)
			}
			seen[tok] = true
			if !strings.Contains(s, tok) {
				t.Fatalf("ParseSelector(%q) gave %q, not in the input", s, tok)
			}
		}
		// Joining the tokens parses back to the same tokens.
		again, err := ParseSelector(strings.Join(tokens, ","))
		if err != nil || !reflect.DeepEqual(again, tokens) {
			t.Fatalf("round trip of %q: %q, %v", tokens, again, err)
		}
	})
}

const unknownBiuld = `unknown task, group or phase "biuld" (did you mean "build"?); valid: ` +
	`tasks flake-update, build, diff, activate, claude-config, mcp-analytics, tool-analytics, ` +
	`learn-permissions, learn-mcp, learn-context, learn-workflows, learn-instructions, ` +
	`learn-cross-project, learn-meta, learn-review, accept, commit, generations, disk, caches, sessions, ` +
	`backups, push; groups analytics, claude, cleanup, git, learn, system; ` +
	`phases 1–14 present: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14`
