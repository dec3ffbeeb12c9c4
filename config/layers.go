package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	gotoml "github.com/pelletier/go-toml/v2"
	"github.com/rebuild-nixos/rebuild/internal/suggest"
)

// Every layer is read into a tree of its own, checked and turned into
// normal form (string, int, bool, []string, time.Duration, and raw TOML
// values for task options), and only then merged into the result (see
// merge.go), so an error always names the layer that holds it. A tree is
// nested, as koanf holds it ({"task": {"build": {"timeout": …}}}), and
// fresh: built by its layer function for this load alone.

// defaultsLayer returns the built-in defaults. They are strings and
// numbers, so the merged tree, which is not a copy, holds nothing that
// belongs to the package (a list default would have to be cloned here).
func defaultsLayer() map[string]any {
	m := make(map[string]any, len(topKeys))
	for _, s := range topKeys {
		if s.def != nil {
			m[s.name] = s.def
		}
	}
	return m
}

// fileLayer reads and checks one TOML file: its keys and its [host.NAME]
// tables. found is false for a missing file that may be missing
// (required is false); root is for readFile.
func fileLayer(path string, required, root bool) (tree map[string]any, hosts hostLayer, found bool, err error) {
	b, found, err := readFile(path, required, root)
	if !found || err != nil {
		return nil, nil, false, err
	}
	parsed, err := toml.Parser().Unmarshal(b)
	if err != nil {
		return nil, nil, false, fileError(path, required, err)
	}
	tree, hosts, err = normalizeTree(path, parsed)
	if err != nil {
		return nil, nil, false, err
	}
	return tree, hosts, true, nil
}

// fileError turns a read or parse error into an *Error; nil for a missing
// file that may be missing.
func fileError(path string, required bool, err error) error {
	var de *gotoml.DecodeError
	switch {
	case errors.As(err, &de):
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if key := de.Key(); len(key) > 0 && key[0] == "host" {
			// host = "NAME" and [host.NAME] tables are two ways to say
			// which hosts to build; one file cannot hold both.
			msg += `; host = "NAME" (one host) and [host.NAME] tables (several hosts) cannot both be in one file`
		}
		return &Error{File: path, Line: row, Err: err,
			Msg: fmt.Sprintf("line %d, column %d: TOML syntax error: %s", row, col, msg)}
	case errors.Is(err, fs.ErrNotExist):
		if !required {
			return nil
		}
		return &Error{File: path, Msg: "no such file", Err: err}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &Error{File: path, Msg: "cannot read: " + pe.Err.Error(), Err: err}
	}
	return &Error{File: path, Msg: "cannot read: " + err.Error(), Err: err}
}

// normalizeTree checks a parsed file, key by key in sorted order so the
// first error is always the same one. The [host.NAME] tables come back
// apart (see hosts.go).
func normalizeTree(file string, raw map[string]any) (map[string]any, hostLayer, error) {
	out := make(map[string]any, len(raw))
	var hosts hostLayer
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		v := raw[key]
		if key == "task" {
			tasks, err := normalizeTasks(file, v)
			if err != nil {
				return nil, nil, err
			}
			out["task"] = tasks
			continue
		}
		if _, isTable := v.(map[string]any); key == "host" && isTable {
			h, err := normalizeHosts(file, v)
			if err != nil {
				return nil, nil, err
			}
			hosts = h
			continue
		}
		spec, ok := findSpec(topKeys, key)
		if !ok {
			return nil, nil, unknownKey(file, key, key, topKeyNames(), "", nil)
		}
		nv, p := convert(spec.kind, v, false)
		if p != nil {
			return nil, nil, valueError(file, key, v, p)
		}
		out[key] = nv
	}
	return out, hosts, nil
}

func normalizeTasks(file string, v any) (map[string]any, error) {
	tables, ok := v.(map[string]any)
	if !ok {
		return nil, valueError(file, "task", v, &problem{"not a table", "[task.NAME] tables, e.g. [task.build]"})
	}
	out := make(map[string]any, len(tables))
	// The keys an error names ("task.NAME.KEY") are put together only
	// when there is an error: a thousand tasks would make a thousand
	// strings for nothing.
	for _, name := range slices.Sorted(maps.Keys(tables)) {
		if err := taskNameError(file, "", name); err != nil {
			err.Key = "task." + name
			return nil, err
		}
		table, ok := tables[name].(map[string]any)
		if !ok {
			return nil, valueError(file, "task."+name, tables[name], &problem{"not a table", "a [task." + name + "] table"})
		}
		t := make(map[string]any, len(table))
		var buf [8]string
		for _, key := range sortedKeys(table, buf[:0]) {
			nv, err := taskValue(file, "", key, table[key], false)
			if err != nil {
				err.Key = "task." + name + "." + key
				return nil, err
			}
			t[key] = nv
		}
		out[name] = t
	}
	return out, nil
}

// sortedKeys appends m's keys to buf, sorted. A task's table has a few
// keys: with a buffer on the caller's stack, a configuration of a
// thousand tasks sorts them without a thousand allocations.
func sortedKeys(m map[string]any, buf []string) []string {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

func badTaskName(file, key, name string) *Error {
	return &Error{File: file, Key: key,
		Msg: fmt.Sprintf(`task name %q is not kebab-case (lowercase letters and digits, words joined by "-", e.g. "flake-update")`, name)}
}

// taskValue checks the value of one key of a task table. A standard key is
// converted; any other key is an option and stays as it is.
func taskValue(file, shown, key string, v any, lenient bool) (any, *Error) {
	spec, ok := findSpec(taskKeys, key)
	if !ok {
		return v, nil
	}
	nv, p := convert(spec.kind, v, lenient)
	if p != nil {
		return nil, valueError(file, shown, v, p)
	}
	return nv, nil
}

// Environment variables.

const envPrefix = "REBUILD_"

// EnvConfig names the user file, like --config.
const EnvConfig = "REBUILD_CONFIG"

const envTaskPrefix = "REBUILD_TASK__"

var (
	envTaskName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)
	envTaskKey  = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)
)

// EnvName returns the variable that sets key ("jobs" → "REBUILD_JOBS",
// "task.flake-update.timeout" → "REBUILD_TASK__FLAKE_UPDATE__TIMEOUT",
// "host.web-1.target" → "REBUILD_HOST__WEB_1__TARGET").
func EnvName(key string) string {
	if rest, ok := strings.CutPrefix(key, "host."); ok {
		i := strings.LastIndexByte(rest, '.')
		if i > 0 {
			return envHostPrefix + hostEnvPart(rest[:i]) + "__" + strings.ToUpper(rest[i+1:])
		}
	}
	if rest, ok := strings.CutPrefix(key, "task."); ok {
		name, opt, _ := strings.Cut(rest, ".")
		return envTaskPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "__" + strings.ToUpper(opt)
	}
	return envPrefix + strings.ToUpper(key)
}

// envPatterns are the variables of tables: every task's and host's keys.
var envPatterns = []string{envTaskPrefix + "<NAME>__<KEY>", envHostPrefix + "<NAME>__<KEY>"}

func knownEnvNames() []string {
	out := append([]string{EnvConfig}, envPatterns...)
	for _, s := range topKeys {
		out = append(out, EnvName(s.name))
	}
	return out
}

// envEntry maps one REBUILD_* variable to its key and normal-form value.
// The key is "" for a variable that is not configuration (REBUILD_CONFIG).
// root refuses a task's run: see Options.Root.
func envEntry(name, val string, root bool) (string, any, *Error) {
	if name == EnvConfig {
		return "", nil, nil
	}
	if rest, ok := strings.CutPrefix(name, envTaskPrefix); ok {
		parts := strings.Split(rest, "__")
		if len(parts) != 2 || !envTaskName.MatchString(parts[0]) || !envTaskKey.MatchString(parts[1]) {
			return "", nil, &Error{File: SourceEnvironment, Key: name,
				Msg:     fmt.Sprintf("malformed task variable %s (want %s<NAME>__<KEY>, NAME with _ for -, e.g. REBUILD_TASK__FLAKE_UPDATE__TIMEOUT)", name, envTaskPrefix),
				Allowed: strings.Join(slices.Sorted(slices.Values(knownEnvNames())), ", ")}
		}
		task := strings.ToLower(strings.ReplaceAll(parts[0], "_", "-"))
		key := strings.ToLower(parts[1])
		if err := taskNameError(SourceEnvironment, name, task); err != nil {
			return "", nil, err
		}
		if key == "run" && root {
			return "", nil, &Error{File: SourceEnvironment, Key: name,
				Msg: fmt.Sprintf("%s defines the command of task %s, and rebuild runs as root: root takes task commands only from configuration files root owns, "+
					"never from the environment (sudo -E or doas keepenv pass on the user's); unset it, or put run in [task.%s] of %s", name, task, task, DefaultSystemFile)}
		}
		v, err := taskValue(SourceEnvironment, name, key, val, true)
		if err != nil {
			return "", nil, err
		}
		return "task." + task + "." + key, v, nil
	}
	for _, s := range topKeys {
		if name == EnvName(s.name) {
			v, p := convert(s.kind, val, true)
			if p != nil {
				return "", nil, valueError(SourceEnvironment, name, val, p)
			}
			return s.name, v, nil
		}
	}
	known := knownEnvNames()
	msg := fmt.Sprintf("unknown variable %s", name)
	if s := suggest.Closest(name, slices.DeleteFunc(slices.Clone(known), func(k string) bool { return slices.Contains(envPatterns, k) })); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	} else if strings.HasPrefix(strings.ToUpper(name), "REBUILD_TASK") {
		msg += " (task keys are " + envTaskPrefix + "<NAME>__<KEY>)"
	} else if strings.HasPrefix(strings.ToUpper(name), "REBUILD_HOST_") {
		msg += " (host keys are " + envHostPrefix + "<NAME>__<KEY>)"
	}
	return "", nil, &Error{File: SourceEnvironment, Key: name, Msg: msg, Allowed: strings.Join(slices.Sorted(slices.Values(known)), ", ")}
}

// envLayer reads the REBUILD_* variables of environ; root as for envEntry
// and envHostEntry, known as for envHostEntry. Host variables come back
// as their own layer.
func envLayer(environ []string, root bool, known []string) (map[string]any, hostLayer, error) {
	var errs []*Error
	hosts := hostLayer{}
	p := env.Provider(".", env.Opt{
		Prefix:      envPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, val string) (string, any) {
			if strings.HasPrefix(name, envHostPrefix) {
				if val == "" {
					if _, _, _, err := envHostEntry(name, "x", false, known); err != nil && err.Value == "" {
						errs = append(errs, err)
					}
					return "", nil
				}
				host, key, v, err := envHostEntry(name, val, root, known)
				if err != nil {
					errs = append(errs, err)
					return "", nil
				}
				if hosts[host] == nil {
					hosts[host] = map[string]any{}
				}
				hosts[host][key] = v
				return "", nil
			}
			// An empty variable is unset, as `REBUILD_JOBS= rebuild`
			// means in a shell; a name that is not ours is still checked.
			if val == "" {
				if _, _, err := envEntry(name, "x", false); err != nil && err.Value == "" {
					errs = append(errs, err)
				}
				return "", nil
			}
			key, v, err := envEntry(name, val, root)
			if err != nil {
				errs = append(errs, err)
				return "", nil
			}
			return key, v
		},
	})
	// Read once: every call runs TransformFunc over the environment again.
	tree, err := p.Read()
	if err != nil {
		return nil, nil, &Error{File: SourceEnvironment, Msg: err.Error(), Err: err}
	}
	if len(errs) > 0 {
		// The environment has no order of its own; report the first by name.
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
		return nil, nil, errs[0]
	}
	return tree, hosts, nil
}

// flagsLayer checks the flag overrides, keyed by config key ("jobs",
// "task.build.timeout", "host.web1.target"); an error names the flag
// when names has it. Host keys come back as their own layer.
func flagsLayer(flags map[string]any, names map[string]string) (map[string]any, hostLayer, error) {
	flat := make(map[string]any, len(flags))
	hosts := hostLayer{}
	for _, key := range slices.Sorted(maps.Keys(flags)) {
		v := flags[key]
		if v == nil {
			continue
		}
		src := SourceFlags
		if n := names[key]; n != "" {
			src = FlagSource(n)
		}
		if rest, ok := strings.CutPrefix(key, "task."); ok {
			parts := strings.Split(rest, ".")
			if len(parts) != 2 || parts[1] == "" {
				return nil, nil, &Error{File: src, Key: key, Msg: fmt.Sprintf("malformed task key %q (want task.NAME.KEY)", key)}
			}
			if err := taskNameError(src, key, parts[0]); err != nil {
				return nil, nil, err
			}
			nv, err := taskValue(src, key, parts[1], v, true)
			if err != nil {
				return nil, nil, err
			}
			if !isStandardTaskKey(parts[1]) {
				opt, err := flagOption(src, key, v)
				if err != nil {
					return nil, nil, err
				}
				nv = opt
			}
			flat[key] = nv
			continue
		}
		if rest, ok := strings.CutPrefix(key, "host."); ok {
			// A host's name may hold '.'; its keys never do.
			i := strings.LastIndexByte(rest, '.')
			if i <= 0 || i == len(rest)-1 {
				return nil, nil, &Error{File: src, Key: key, Msg: fmt.Sprintf("malformed host key %q (want host.NAME.KEY)", key)}
			}
			name, hk := rest[:i], rest[i+1:]
			if err := hostNameError(src, key, name); err != nil {
				return nil, nil, err
			}
			nv, err := hostValue(src, key, hk, v, true, nil)
			if err != nil {
				return nil, nil, err
			}
			if hosts[name] == nil {
				hosts[name] = map[string]any{}
			}
			hosts[name][hk] = nv
			continue
		}
		spec, ok := findSpec(topKeys, key)
		if !ok {
			return nil, nil, unknownKey(src, key, key, append(specNames(topKeys), "task.NAME.KEY", "host.NAME.KEY"), "", nil)
		}
		nv, p := convert(spec.kind, v, true)
		if p != nil {
			return nil, nil, valueError(src, key, v, p)
		}
		flat[key] = nv
	}
	// confmap makes the dotted keys tables; the copy it takes first is
	// of the few flags given, and keeps the tree apart from the caller's
	// values.
	tree, err := confmap.Provider(flat, ".").Read()
	if err != nil {
		return nil, nil, &Error{File: SourceFlags, Msg: err.Error(), Err: err}
	}
	return tree, hosts, nil
}

// flagOption brings an option value given as a Go value to the form the
// TOML parser would give it, so that getters and WriteTOML treat it alike.
func flagOption(src, key string, v any) (any, error) {
	switch x := v.(type) {
	case string, bool, float64:
		return x, nil
	case float32:
		return float64(x), nil
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, nil
	case time.Duration:
		return formatDuration(x), nil
	}
	if n, ok := toInt(v, false); ok {
		return int64(n), nil
	}
	return nil, &Error{File: src, Key: key, Value: render(v),
		Msg: fmt.Sprintf("unsupported type %T", v), Allowed: "a string, number, boolean or list of strings"}
}
