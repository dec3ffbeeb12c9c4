package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
	"github.com/rebuild-nixos/rebuild/internal/suggest"
)

// Error is a configuration error: a bad key, a bad value, a file that
// cannot be read or parsed. Its ExitCode is 2.
//
// When Value is set the error is about a value and reads
//
//	FILE: KEY = VALUE: MSG; allowed: ALLOWED
//
// otherwise it is about a key or a file and reads
//
//	FILE: MSG; known keys: ALLOWED
//
// (Allowed is left out when empty; for the environment it is "known
// variables").
type Error struct {
	File    string // the file's path, "environment", "flags" or "defaults"
	Key     string // "jobs", "task.build.timeout", or a variable name such as "REBUILD_JOBS"
	Value   string // the offending value as written (strings quoted); "" when the key itself is wrong
	Allowed string // what would be accepted; for an unknown key, the known keys
	Msg     string // what is wrong
	Line    int    // TOML syntax errors: the 1-based line; else 0
	Err     error  // the underlying error (a read or TOML decode error), if any
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Value != "" {
		b.WriteString(e.Key)
		b.WriteString(" = ")
		b.WriteString(e.Value)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Allowed != "" {
		switch {
		case e.Value != "":
			b.WriteString("; allowed: ")
		case e.File == SourceEnvironment:
			b.WriteString("; known variables: ")
		default:
			b.WriteString("; known keys: ")
		}
		b.WriteString(e.Allowed)
	}
	return b.String()
}

// Unwrap returns the underlying read or decode error, if any.
func (e *Error) Unwrap() error { return e.Err }

// ExitCode is exitcode.Usage: a configuration error is the user's to fix.
func (e *Error) ExitCode() int { return exitcode.Usage }

// problem is what is wrong with a value, before we know where it came from.
type problem struct{ msg, allowed string }

func valueError(file, key string, v any, p *problem) *Error {
	return &Error{File: file, Key: key, Value: render(v), Msg: p.msg, Allowed: p.allowed}
}

// unknownKey reports key (shown as shown) that is not one of known. show,
// if not nil, turns a known key into the form the user writes (a variable
// name for the environment).
func unknownKey(file, key, shown string, known []string, note string, show func(string) string) *Error {
	if show == nil {
		show = func(s string) string { return s }
	}
	msg := fmt.Sprintf("unknown key %q", shown)
	var extra []string
	if note != "" {
		extra = append(extra, note)
	}
	if s := suggest.Closest(key, known); s != "" {
		extra = append(extra, fmt.Sprintf("did you mean %q?", show(s)))
	}
	if len(extra) > 0 {
		msg += " (" + strings.Join(extra, "; ") + ")"
	}
	shownKnown := make([]string, len(known))
	for i, k := range known {
		shownKnown[i] = show(k)
	}
	return &Error{File: file, Key: shown, Msg: msg, Allowed: strings.Join(slices.Sorted(slices.Values(shownKnown)), ", ")}
}

// render shows a value the way it would be written in TOML, shortened.
func render(v any) string {
	s := renderFull(v)
	if s == "" {
		s = `""`
	}
	const maxRunes = 80
	if utf8.RuneCountInString(s) > maxRunes {
		r := []rune(s)
		s = string(r[:maxRunes]) + "…"
	}
	return s
}

func renderFull(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case time.Duration:
		return strconv.Quote(formatDuration(x))
	case []string:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = strconv.Quote(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = renderFull(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " = " + renderFull(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case nil:
		return "nothing"
	default:
		return fmt.Sprint(x)
	}
}
