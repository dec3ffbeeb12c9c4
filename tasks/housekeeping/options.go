package housekeeping

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// Size is a size option: a string such as "100MB" or "5M" (see
// fsutil.ParseSize), or a whole number of bytes. Text is as written, to
// show.
type Size struct {
	Bytes int64
	Text  string
}

const allowedSize = `a size such as "100MB", "5M" or a number of bytes`

// SetOption implements tasks.OptionValue.
func (s *Size) SetOption(raw any) error {
	var text string
	switch x := raw.(type) {
	case string:
		text = x
	case int64:
		text = fmt.Sprint(x)
	default:
		return &tasks.Invalid{Msg: "not a size", Allowed: allowedSize}
	}
	n, err := fsutil.ParseSize(text)
	if err != nil {
		return &tasks.Invalid{Msg: err.Error(), Allowed: allowedSize}
	}
	*s = Size{Bytes: n, Text: text}
	return nil
}

// OptionTOML implements tasks.OptionValue.
func (s *Size) OptionTOML() any { return s.Text }

// mustSize is a Size for a default.
func mustSize(text string) Size {
	var s Size
	if err := s.SetOption(text); err != nil {
		panic(err)
	}
	return s
}

// oneOf refuses v, the value of key, when it is not one of allowed.
func oneOf(key, v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return tasks.BadOption(key, v, "not a known value", strings.Join(quoteAll(allowed), ", "))
	}
	return nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// tilde shows p relative to the home directory.
func tilde(env *tasks.Env, p string) string { return fsutil.Tilde(env.Home, p) }

// plural returns "1 cache" or "3 caches".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// firstErrors lists up to n errors on one line, with how many more.
func firstErrors(errs []error, total, n int) string {
	var parts []string
	for i, e := range errs {
		if i == n {
			break
		}
		parts = append(parts, e.Error())
	}
	s := strings.Join(parts, "; ")
	if total > len(parts) {
		s += fmt.Sprintf("; and %d more (see the log)", total-len(parts))
	}
	return s
}
