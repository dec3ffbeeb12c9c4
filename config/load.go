package config

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options is everything Load reads from outside: nothing is taken from the
// process itself.
type Options struct {
	// SystemFile is the system-wide file; DefaultSystemFile when "", none when "-".
	// It may be missing.
	SystemFile string
	// UserFile is the file given with --config; it must exist. When "",
	// REBUILD_CONFIG from Environ is used the same way, and without it
	// $XDG_CONFIG_HOME/rebuild/config.toml or ~/.config/rebuild/config.toml,
	// which may be missing.
	UserFile string
	// Environ is the environment (os.Environ()); only HOME, XDG_CONFIG_HOME,
	// XDG_STATE_HOME and REBUILD_* are read. When a name appears twice, the
	// last one counts. nil is an empty environment.
	Environ []string
	// Home is the user's home directory, for ~; HOME from Environ when "".
	Home string
	// Hostname is the machine's hostname; host defaults to its first label.
	Hostname string
	// Flags are overrides from the command line, keyed by config key:
	// "flake", "host", "jobs", "elevate", "state_dir", … and
	// "task.NAME.KEY". Pass only flags the user set. Values may be Go
	// values (int, bool, []string, time.Duration) or strings, which are
	// parsed like environment variables.
	Flags map[string]any
	// FlagNames names the flag that sets a key ("task.generations.keep_since"
	// → "--keep-since"), so that an error in its value, found here or when
	// a task's options are decoded, names the flag the person typed
	// ("flag --keep-since: …") rather than "flags".
	FlagNames map[string]string
	// Root is set when rebuild runs as root (effective uid 0). A root run
	// reads only configuration files that root owns and no one else may
	// write, in directories no one else may write, and takes no task
	// commands (REBUILD_TASK__<NAME>__RUN) from the environment: anything
	// another user can change must not become a command run as root.
	Root bool
}

// Load reads the layers described by o and returns the merged, checked and
// resolved configuration, or an error (an *Error) naming the file,
// "environment" or "flags", the key, the value and what is allowed.
func Load(o Options) (*Config, error) {
	return load(o, mergeLayers)
}

// load is Load with the merge of the layers' trees left to merge: tests
// compare mergeLayers with the merge it replaced.
func load(o Options, merge func([]layer) (map[string]any, error)) (*Config, error) {
	home := homeDir(o)

	st := newOrigins()
	var (
		sources []string
		layers  []layer
	)
	hosts := newHostTables()
	add := func(source string, tree map[string]any, hl hostLayer) {
		st.mark(source, tree)
		layers = append(layers, layer{source: source, tree: tree})
		hosts.merge(source, hl)
	}

	add(SourceDefaults, defaultsLayer(), nil)

	system := o.SystemFile
	if system == "" {
		system = DefaultSystemFile
	}
	if system != "-" {
		tree, hl, found, err := fileLayer(system, false, o.Root)
		if err != nil {
			return nil, err
		}
		if found {
			sources = append(sources, system)
			add(system, tree, hl)
		}
	}

	if user, required := userPath(o, home); user != "" {
		tree, hl, found, err := fileLayer(user, required, o.Root)
		if err != nil {
			return nil, err
		}
		if found {
			sources = append(sources, user)
			add(user, tree, hl)
		}
	}

	// A host variable sets a key of the host the files name that it
	// spells: the files come first.
	tree, hl, err := envLayer(o.Environ, o.Root, hosts.names())
	if err != nil {
		return nil, err
	}
	add(SourceEnvironment, tree, hl)

	tree, hl, err = flagsLayer(o.Flags, o.FlagNames)
	if err != nil {
		return nil, err
	}
	add(SourceFlags, tree, hl)
	st.nameFlags(o.FlagNames)

	merged, err := merge(layers)
	if err != nil {
		return nil, err
	}
	cfg, err := build(merged, st)
	if err != nil {
		return nil, err
	}
	cfg.Hosts = hosts.hosts()
	if err := cfg.checkHosts(); err != nil {
		return nil, err
	}
	cfg.Sources = sources
	if src := st.of("flake"); src != SourceDefaults {
		cfg.FlakeSource = src
	}
	if err := cfg.resolve(o, home, st); err != nil {
		return nil, err
	}
	return cfg, nil
}

// UserPath returns the user file Load would read: Options.UserFile,
// else REBUILD_CONFIG, else the XDG location. It is "" when there is no
// home directory to put it in.
func UserPath(o Options) string {
	p, _ := userPath(o, homeDir(o))
	return p
}

// userPath also says whether the file must exist (it was named explicitly).
func userPath(o Options, home string) (string, bool) {
	if o.UserFile != "" {
		return expandTilde(o.UserFile, home), true
	}
	if p := lookupEnv(o.Environ, EnvConfig); p != "" {
		return expandTilde(p, home), true
	}
	if x := lookupEnv(o.Environ, "XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "rebuild", "config.toml"), false
	}
	if home == "" {
		return "", false
	}
	return filepath.Join(home, ".config", "rebuild", "config.toml"), false
}

func homeDir(o Options) string {
	if o.Home != "" {
		return o.Home
	}
	return lookupEnv(o.Environ, "HOME")
}

// lookupEnv returns the last value of name in environ.
func lookupEnv(environ []string, name string) string {
	val := ""
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			val = v
		}
	}
	return val
}

// expandTilde replaces a leading "~" or "~/" with home. "~user" is left
// alone, and so is everything when home is unknown.
func expandTilde(p, home string) string {
	if home == "" {
		return p
	}
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return strings.TrimRight(home, "/") + "/" + rest
	}
	return p
}

// origins remembers which layer last set each key, so errors found after
// the merge still name the right file.
type origins struct {
	key  map[string]string            // a top-level key ("jobs") → source
	task map[string]string            // task name → the source that last set a key of it
	opts map[string]map[string]string // task name → its key ("timeout") → source; Task.sources
}

func newOrigins() *origins {
	return &origins{key: map[string]string{}, task: map[string]string{}, opts: map[string]map[string]string{}}
}

func (o *origins) mark(source string, m map[string]any) {
	for key, v := range m {
		if key != "task" {
			o.key[key] = source
			continue
		}
		tables, _ := v.(map[string]any)
		for name, tv := range tables {
			table, _ := tv.(map[string]any)
			if len(table) > 0 || o.task[name] == "" {
				o.task[name] = source
			}
			keys := o.opts[name]
			if keys == nil {
				keys = make(map[string]string, len(table))
				o.opts[name] = keys
			}
			for opt := range table {
				keys[opt] = source
			}
		}
	}
}

// nameFlags puts the flag that set a key in place of "flags".
func (o *origins) nameFlags(names map[string]string) {
	for key, flag := range names {
		if rest, ok := strings.CutPrefix(key, "task."); ok {
			name, opt, _ := strings.Cut(rest, ".")
			if keys := o.opts[name]; keys[opt] == SourceFlags {
				keys[opt] = FlagSource(flag)
			}
			continue
		}
		if o.key[key] == SourceFlags {
			o.key[key] = FlagSource(flag)
		}
	}
}

// of returns the layer that set a top-level key.
func (o *origins) of(key string) string {
	if s, ok := o.key[key]; ok {
		return s
	}
	return SourceDefaults
}

// build turns the merged normal-form map into a Config and checks what can
// only be checked after the merge.
func build(raw map[string]any, st *origins) (*Config, error) {
	tables, _ := raw["task"].(map[string]any)
	c := &Config{Tasks: make(map[string]Task, len(tables))}
	str := func(key string) string { s, _ := raw[key].(string); return s }
	num := func(key string) int { n, _ := raw[key].(int); return n }
	c.Flake = str("flake")
	c.Host = str("host")
	c.Profile = str("profile")
	c.CurrentSystem = str("current_system")
	c.BootedSystem = str("booted_system")
	c.Elevate = str("elevate")
	c.Jobs = num("jobs")
	c.StateDir = str("state_dir")
	c.KeepLogs = num("keep_logs")
	c.MetricsFile = str("metrics_file")
	c.LogMax, _ = raw["log_max"].(int64)
	c.HistoryMax, _ = raw["history_max"].(int64)
	c.Rollout = str("rollout")
	c.ParallelHosts = num("parallel_hosts")

	for _, name := range slices.Sorted(maps.Keys(tables)) {
		table, _ := tables[name].(map[string]any)
		// Every key of the merged table was marked, by the layer that set
		// it last; the map is this load's own.
		t := Task{Name: name, File: st.task[name], sources: st.opts[name]}
		if t.sources == nil {
			t.sources = map[string]string{}
		}
		for key, v := range table {
			switch key {
			case "run":
				t.Run, _ = v.(string)
			case "needs":
				t.Needs, _ = v.([]string)
			case "after":
				t.After, _ = v.([]string)
			case "groups":
				t.Groups, _ = v.([]string)
			case "critical":
				t.Critical = boolPtr(v)
			case "interactive":
				t.Interactive = boolPtr(v)
			case "enabled":
				t.Enabled = boolPtr(v)
			case "gate":
				t.Gate = boolPtr(v)
			case "timeout":
				t.Timeout, _ = v.(time.Duration)
			default:
				if t.Options == nil {
					t.Options = map[string]any{}
				}
				t.Options[key] = v
			}
		}
		if t.IsUser() && len(t.Options) > 0 {
			return nil, userTaskOption(t)
		}
		c.Tasks[name] = t
	}
	return c, nil
}

// userTaskOption reports the first option key of a task that has run.
func userTaskOption(t Task) *Error {
	opts := slices.Sorted(maps.Keys(t.Options))
	key := opts[0]
	src := t.source(key)
	note := "a task with run has no options"
	if runSrc := t.source("run"); runSrc != src {
		note = fmt.Sprintf("task %s has run, set in %s, and a task with run has no options", t.Name, runSrc)
	}
	shown := "task." + t.Name + "." + key
	var show func(string) string
	if src == SourceEnvironment {
		shown = EnvName(shown)
		show = func(k string) string { return EnvName("task." + t.Name + "." + k) }
	}
	return unknownKey(src, key, shown, StandardTaskKeys(), note, show)
}

func boolPtr(v any) *bool {
	b, ok := v.(bool)
	if !ok {
		return nil
	}
	return &b
}

// resolve fills in what depends on the machine: ~, the host and the
// state directory.
func (c *Config) resolve(o Options, home string, st *origins) error {
	for _, p := range []struct {
		key string
		val *string
	}{
		{"flake", &c.Flake},
		{"profile", &c.Profile},
		{"current_system", &c.CurrentSystem},
		{"booted_system", &c.BootedSystem},
		{"state_dir", &c.StateDir},
		{"metrics_file", &c.MetricsFile},
	} {
		v := *p.val
		if home == "" && (v == "~" || strings.HasPrefix(v, "~/")) {
			return &Error{File: st.of(p.key), Key: p.key, Value: render(v),
				Msg: "cannot expand ~: no home directory (HOME is not set)", Allowed: "an absolute path"}
		}
		*p.val = expandTilde(v, home)
	}
	if c.Host == "" {
		c.Host, _, _ = strings.Cut(o.Hostname, ".")
	}
	if c.StateDir == "" {
		switch x := lookupEnv(o.Environ, "XDG_STATE_HOME"); {
		case filepath.IsAbs(x):
			c.StateDir = filepath.Join(x, "rebuild")
		case home != "":
			c.StateDir = filepath.Join(home, ".local", "state", "rebuild")
		default:
			return &Error{File: SourceEnvironment, Key: "state_dir",
				Msg: "cannot choose a state directory: neither XDG_STATE_HOME nor HOME is set; set state_dir"}
		}
	}
	return nil
}
