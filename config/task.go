package config

import (
	"maps"
	"slices"
	"time"
)

// CheckOptions is for a built-in task, which knows its own option keys:
// an option key not in allowed is an *Error naming the file, the key and
// the keys the task accepts. Keys are checked in sorted order.
func (t Task) CheckOptions(allowed ...string) error {
	ok := make(map[string]bool, len(allowed))
	for _, a := range allowed {
		ok[a] = true
	}
	for _, key := range slices.Sorted(maps.Keys(t.Options)) {
		if ok[key] {
			continue
		}
		known := append(StandardTaskKeys(), allowed...)
		note := ""
		if len(allowed) == 0 {
			note = "task " + t.Name + " has no options"
		}
		var show func(string) string
		if t.source(key) == SourceEnvironment {
			show = func(k string) string { return EnvName(t.key(k)) }
		}
		return unknownKey(t.source(key), key, t.shown(key), known, note, show)
	}
	return nil
}

func (t Task) key(k string) string { return "task." + t.Name + "." + k }

// shown is key as the user wrote it: the variable's name when it came
// from the environment (REBUILD_TASK__NAME__KEY), else task.NAME.KEY.
func (t Task) shown(key string) string {
	if t.source(key) == SourceEnvironment {
		return EnvName(t.key(key))
	}
	return t.key(key)
}

// lenient reports whether key came as text (environment, flags), so a
// string is parsed as the getter's type.
func (t Task) lenient(key string) bool { return isTextSource(t.source(key)) }

func (t Task) optionError(key string, v any, msg, allowed string) error {
	return valueError(t.source(key), t.shown(key), v, &problem{msg, allowed})
}

// OptionError is a bad value of option key in the configuration's own
// form, naming the layer that set it: FILE: task.NAME.KEY = VALUE: MSG;
// allowed: ALLOWED, where FILE is the file's path, "environment" (and the
// key is then the variable, REBUILD_TASK__NAME__KEY), "flag --NAME" or
// "flags". Built-in tasks use it for checks the typed getters cannot make
// (one of a set of words, a size, a path that must be inside home). A key
// set by no layer is reported as from the defaults.
func (t Task) OptionError(key string, value any, msg, allowed string) error {
	e := valueError(t.source(key), t.shown(key), value, &problem{msg, allowed})
	if e.File == "" {
		e.File = SourceDefaults
	}
	return e
}

// String returns option key as a string, or def when it is not set.
func (t Task) String(key, def string) (string, error) {
	v, ok := t.Options[key]
	if !ok {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return def, t.optionError(key, v, "not a string", "a string")
	}
	return s, nil
}

// Strings returns option key as a list of strings, or def when it is not
// set. From the environment a comma list is accepted.
func (t Task) Strings(key string, def []string) ([]string, error) {
	v, ok := t.Options[key]
	if !ok {
		return def, nil
	}
	list, ok := toStrings(v, t.lenient(key))
	if !ok {
		return def, t.optionError(key, v, "not a list of strings", `a list of strings, e.g. ["a", "b"]`)
	}
	return list, nil
}

// Int returns option key as an int, or def when it is not set.
func (t Task) Int(key string, def int) (int, error) {
	v, ok := t.Options[key]
	if !ok {
		return def, nil
	}
	n, ok := toInt(v, t.lenient(key))
	if !ok {
		return def, t.optionError(key, v, "not an integer", "a whole number")
	}
	return n, nil
}

// Bool returns option key as a bool, or def when it is not set.
func (t Task) Bool(key string, def bool) (bool, error) {
	v, ok := t.Options[key]
	if !ok {
		return def, nil
	}
	b, ok := toBool(v, t.lenient(key))
	if !ok {
		return def, t.optionError(key, v, "not a boolean", allowedBool)
	}
	return b, nil
}

// Duration returns option key, a string such as "90s" or "2h", as a
// duration ≥ 0, or def when it is not set.
func (t Task) Duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := t.Options[key]
	if !ok {
		return def, nil
	}
	d, ok := toDuration(v)
	if !ok {
		return def, t.optionError(key, v, "not a duration", allowedDuration)
	}
	if d < 0 {
		return def, t.optionError(key, v, "negative", allowedDuration)
	}
	return d, nil
}

// WithOption returns a copy of t with option key set to v, as the layer
// source set it (a file's path, "environment", "flags"): a host's
// override of a task's option (host.web1.keep for task.generations.keep)
// binds that host's instance of the task this way. v is in the form TOML
// gives (string, int64, bool, []any).
func (t Task) WithOption(key string, v any, source string) Task {
	t.Options = maps.Clone(t.Options)
	if t.Options == nil {
		t.Options = map[string]any{}
	}
	t.Options[key] = v
	t.sources = maps.Clone(t.sources)
	if t.sources == nil {
		t.sources = map[string]string{}
	}
	t.sources[key] = source
	return t
}
