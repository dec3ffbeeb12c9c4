package housekeeping

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// sizeOption reads a size threshold: a string such as "100MB" or "5M"
// (see fsutil.ParseSize), or a whole number of bytes. It returns the
// bytes and the text to show.
func sizeOption(env *tasks.Env, key, def string) (int64, string, error) {
	raw, set := env.Options.Options[key]
	text := def
	if set {
		if s, err := env.Options.String(key, def); err == nil {
			text = s
		} else if n, err2 := env.Options.Int(key, 0); err2 == nil {
			text = fmt.Sprint(n)
		} else {
			return 0, "", env.Options.OptionError(key, raw, "not a size", `a size such as "100MB", "5M" or a number of bytes`)
		}
	}
	n, err := fsutil.ParseSize(text)
	if err != nil {
		return 0, "", env.Options.OptionError(key, raw, err.Error(), `a size such as "100MB", "5M" or a number of bytes`)
	}
	return n, text, nil
}

// depthOption reads a folder depth, ≥ 1.
func depthOption(env *tasks.Env, key string, def int) (int, error) {
	n, err := env.Options.Int(key, def)
	if err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, env.Options.OptionError(key, n, "must be at least 1", "a whole number ≥ 1 (1: only the folder's own entries)")
	}
	return n, nil
}

// choiceOption reads a string that must be one of allowed.
func choiceOption(env *tasks.Env, key, def string, allowed ...string) (string, error) {
	v, err := env.Options.String(key, def)
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, v) {
		return "", env.Options.OptionError(key, v, "not a known value", strings.Join(quoteAll(allowed), ", "))
	}
	return v, nil
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
