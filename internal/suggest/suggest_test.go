package suggest

import "testing"

// The cases of dag's and config's tests of their two "did you mean"s,
// which one rule now passes together.

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
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Distance(c.b, c.a); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.b, c.a, got, c.want)
		}
	}
}

func TestClosestTasks(t *testing.T) {
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
		if got := Closest(in, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClosestKeys(t *testing.T) {
	known := []string{"jobs", "flake", "keep_logs", "metrics_file", "state_dir"}
	for in, want := range map[string]string{
		"jbos":        "jobs",
		"job":         "jobs",
		"flak":        "flake",
		"keeplogs":    "keep_logs",
		"metricsfile": "metrics_file",
		"JOBS":        "jobs",
		"x":           "",
		"colour":      "",
		"jobs":        "",
	} {
		if got := Closest(in, known); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}

// A name is never its own typo, so a list may hold the name typed: it
// still gets the suggestion the other names give ([task.biuld] among the
// configured tables).
func TestClosestSkipsTheNameItself(t *testing.T) {
	if got := Closest("biuld", []string{"activate", "biuld", "build"}); got != "build" {
		t.Errorf("Closest(biuld) = %q, want build", got)
	}
}

// Ties go to the alphabetically first candidate, whatever the order.
func TestClosestTiesAreStable(t *testing.T) {
	for _, c := range [][]string{{"bat", "bar"}, {"bar", "bat"}} {
		if got := Closest("baz", c); got != "bar" {
			t.Errorf("Closest(baz, %q) = %q, want bar", c, got)
		}
	}
}

func TestClosestLongWords(t *testing.T) {
	long := string(make([]rune, 70))
	if got := Closest(long+"x", []string{long + "y"}); got != "" {
		t.Errorf("a word over 64 characters got a suggestion: %q", got)
	}
}
