package hostname

import (
	"strings"
	"testing"
)

func TestProblem(t *testing.T) {
	for _, ok := range []string{"web1", "Web_1", "10.0.0.1", "h-1.example.org", "a", strings.Repeat("x", MaxLen)} {
		if p := Problem(ok); p != "" {
			t.Errorf("Problem(%q) = %q, want none", ok, p)
		}
	}
	for bad, want := range map[string]string{
		"":                            "is empty",
		"-x":                          `has '-': a host name is ` + Allowed,
		".":                           `has '.': a host name is ` + Allowed,
		"..":                          `has '.': a host name is ` + Allowed,
		"root@web1":                   `has '@': a host name is ` + Allowed,
		"web 1":                       `has ' ': a host name is ` + Allowed,
		"wéb":                         `has 'é': a host name is ` + Allowed,
		"a/b":                         `has '/': a host name is ` + Allowed,
		strings.Repeat("x", MaxLen+1): "is 65 characters long; the most is 64",
	} {
		if got := Problem(bad); got != want {
			t.Errorf("Problem(%q) = %q, want %q", bad, got, want)
		}
	}
}
