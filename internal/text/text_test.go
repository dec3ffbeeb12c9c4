package text

import "testing"

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0 entries"}, {1, "1 entry"}, {2, "2 entries"}} {
		if got := Plural(c.n, "entry", "entries"); got != c.want {
			t.Errorf("Plural(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	if got := Plural(1, "cache", "caches"); got != "1 cache" {
		t.Errorf("Plural(int 1) = %q", got)
	}
}

func TestUpperFirst(t *testing.T) {
	for in, want := range map[string]string{"": "", "delete": "Delete", "échec": "Échec", "Archive": "Archive"} {
		if got := UpperFirst(in); got != want {
			t.Errorf("UpperFirst(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuoted(t *testing.T) {
	if got := Quoted([]string{"ask", "skip"}); got != `"ask", "skip"` {
		t.Errorf("Quoted = %s", got)
	}
}
