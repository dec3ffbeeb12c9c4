package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/hostname"
	"github.com/rebuild-nixos/rebuild/internal/suggest"
)

// The [host.NAME] tables. They are read layer by layer like every other
// key, but merged here rather than by koanf: the top-level key host is a
// string (the one host of a run without tables) while host.NAME are
// tables, and a host's name may hold '.', koanf's key delimiter.

// hostKeys are the keys a [host.NAME] table may hold, in the order
// WriteTOML writes them. A default is what an unset key means.
var hostKeys = []keySpec{
	{"target", kindTarget, TargetLocal},
	{"build_on", kindBuildOn, BuildLocal},
	{"tags", kindNames, nil},
	{"elevate", kindElevate, nil},
	{"ssh_options", kindStrings, nil},
	{"confirm_timeout", kindDuration0, nil},
	{"keep", kindCount1, nil},
	{"keep_since", kindAge, nil},
	{"gates", kindNames, nil},
}

// HostKeys returns the keys a [host.NAME] table may hold.
func HostKeys() []string { return specNames(hostKeys) }

// DefaultParallelHosts is parallel_hosts when hosts are configured and
// it is not set (colmena's default).
const DefaultParallelHosts = 10

// hostLayer is what one layer says of the [host.NAME] tables: each
// host's keys, in normal form. A table without keys still names a host.
type hostLayer map[string]map[string]any

// hostNameError checks a host's name (key is where it was written); nil
// when it is fine.
func hostNameError(file, key, name string) *Error {
	if p := hostname.Problem(name); p != "" {
		return &Error{File: file, Key: key,
			Msg: fmt.Sprintf("host name %q %s; a host's name is its nixosConfigurations.NAME in the flake, and its tasks are named build@NAME, activate@NAME, …", name, p)}
	}
	return nil
}

func convertTarget(v any) (any, *problem) {
	s, ok := v.(string)
	if !ok {
		return nil, &problem{"not a string", allowedTarget}
	}
	if s == TargetLocal {
		return s, nil
	}
	if _, err := ParseTarget(s); err != nil {
		return nil, &problem{err.Error(), allowedTarget}
	}
	return s, nil
}

// convertBuildOn accepts local, target or a host's name; whether that
// host exists is checked once every layer is merged (checkHosts).
func convertBuildOn(v any) (any, *problem) {
	s, ok := v.(string)
	if !ok {
		return nil, &problem{"not a string", allowedBuildOn}
	}
	if s == BuildLocal || s == BuildTarget {
		return s, nil
	}
	if p := hostname.Problem(s); p != "" {
		return nil, &problem{"not a host's name: it " + p, allowedBuildOn}
	}
	return s, nil
}

func convertAge(v any) (any, *problem) {
	s, ok := v.(string)
	if !ok {
		return nil, &problem{"not a string", allowedAge}
	}
	if _, err := ParseAge(s); err != nil {
		return nil, &problem{err.Error(), allowedAge}
	}
	return s, nil
}

var ageRE = regexp.MustCompile(`^(\d+)([wdhms])`)

// ParseAge reads an age such as "7d", "36h", "90m", "2w" or "1d12h":
// whole numbers with the units w, d, h, m and s (a day is 24 hours), at
// most a century each. task.generations' keep_since and a host's
// keep_since both read it so.
func ParseAge(s string) (time.Duration, error) {
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, fmt.Errorf("empty age")
	}
	units := map[string]time.Duration{"w": 7 * 24 * time.Hour, "d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second}
	var total time.Duration
	for rest != "" {
		m := ageRE.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("not an age")
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > int64(100*365*24*time.Hour/units[m[2]]) {
			return 0, fmt.Errorf("too large")
		}
		total += time.Duration(n) * units[m[2]]
		rest = rest[len(m[0]):]
	}
	return total, nil
}

// normalizeHosts checks the [host.NAME] tables of a file, name by name
// and key by key in sorted order, so the first error is always the same.
func normalizeHosts(file string, v any) (hostLayer, error) {
	tables, ok := v.(map[string]any)
	if !ok {
		return nil, valueError(file, "host", v, &problem{"neither a string nor tables",
			`host = "NAME" (the one host to build), or [host.NAME] tables (several hosts)`})
	}
	out := make(hostLayer, len(tables))
	for _, name := range slices.Sorted(maps.Keys(tables)) {
		if err := hostNameError(file, "host."+name, name); err != nil {
			return nil, err
		}
		table, ok := tables[name].(map[string]any)
		if !ok {
			return nil, valueError(file, "host."+name, tables[name], &problem{"not a table", "a [host." + name + "] table"})
		}
		h := make(map[string]any, len(table))
		for _, key := range slices.Sorted(maps.Keys(table)) {
			nv, err := hostValue(file, hostKey(name, key), key, table[key], false, nil)
			if err != nil {
				return nil, err
			}
			h[key] = nv
		}
		out[name] = h
	}
	return out, nil
}

// hostKey is a host's key as a file writes it: host.web1.target.
func hostKey(name, key string) string { return "host." + name + "." + key }

// hostValue checks the value of one key of a host table; shown is the
// key as the user wrote it, show turns another key into that form (nil:
// as it is).
func hostValue(file, shown, key string, v any, lenient bool, show func(string) string) (any, *Error) {
	spec, ok := findSpec(hostKeys, key)
	if !ok {
		return nil, unknownKey(file, key, shown, specNames(hostKeys), "", show)
	}
	nv, p := convert(spec.kind, v, lenient)
	if p != nil {
		return nil, valueError(file, shown, v, p)
	}
	return nv, nil
}

// Environment variables of hosts: REBUILD_HOST__<NAME>__<KEY>.

const envHostPrefix = "REBUILD_HOST__"

var envHostName = regexp.MustCompile(`^[A-Z0-9]+(_[A-Z0-9]+)*$`)

// hostEnvPart is a host's name as its variables spell it: in capitals,
// with '_' for '-', '.' and '_'.
func hostEnvPart(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' {
			return '_'
		}
		return r
	}, strings.ToUpper(name))
}

// envHostEntry maps one REBUILD_HOST__<NAME>__<KEY> variable to its host,
// key and normal-form value. NAME is the host among known (those the
// files name) that it spells (web-1 and web.1 are both WEB_1), else a new
// host: NAME in lower case with '-' for '_'. root refuses ssh_options:
// see Options.Root.
func envHostEntry(name, val string, root bool, known []string) (host, key string, v any, err *Error) {
	rest := strings.TrimPrefix(name, envHostPrefix)
	parts := strings.Split(rest, "__")
	if len(parts) != 2 || !envHostName.MatchString(parts[0]) || !envTaskKey.MatchString(parts[1]) {
		return "", "", nil, &Error{File: SourceEnvironment, Key: name,
			Msg: fmt.Sprintf("malformed host variable %s (want %s<NAME>__<KEY>, NAME in capitals with _ for '-', '.' and '_', e.g. REBUILD_HOST__WEB1__TARGET)", name, envHostPrefix)}
	}
	var spelled []string
	for _, k := range known {
		if hostEnvPart(k) == parts[0] {
			spelled = append(spelled, k)
		}
	}
	switch len(spelled) {
	case 0:
		host = strings.ToLower(strings.ReplaceAll(parts[0], "_", "-"))
	case 1:
		host = spelled[0]
	default:
		return "", "", nil, &Error{File: SourceEnvironment, Key: name,
			Msg: fmt.Sprintf("%s could be host %s: their names are all %s in a variable; set this key in the host's table in a file", name, strings.Join(spelled, " or "), parts[0])}
	}
	if err := hostNameError(SourceEnvironment, name, host); err != nil {
		return "", "", nil, err
	}
	key = strings.ToLower(parts[1])
	if key == "ssh_options" && root {
		return "", "", nil, &Error{File: SourceEnvironment, Key: name,
			Msg: fmt.Sprintf("%s sets ssh options of host %s, and rebuild runs as root: an ssh option can run a command (ProxyCommand, LocalCommand), so root takes them only from configuration files root owns, "+
				"never from the environment (sudo -E or doas keepenv pass on the user's); unset it, or put ssh_options in [host.%s] of %s", name, host, host, DefaultSystemFile)}
	}
	show := func(k string) string { return envHostPrefix + parts[0] + "__" + strings.ToUpper(k) }
	v, err = hostValue(SourceEnvironment, name, key, val, true, show)
	if err != nil {
		return "", "", nil, err
	}
	return host, key, v, nil
}

// hostTables are the host layers merged: later wins, key by key, and
// each key remembers the layer that set it.
type hostTables struct {
	keys    map[string]map[string]any
	sources map[string]map[string]string
	file    map[string]string // host → the layer that last set a key of it
}

func newHostTables() *hostTables {
	return &hostTables{keys: map[string]map[string]any{}, sources: map[string]map[string]string{}, file: map[string]string{}}
}

func (h *hostTables) merge(source string, l hostLayer) {
	for name, table := range l {
		if h.keys[name] == nil {
			h.keys[name] = map[string]any{}
			h.sources[name] = map[string]string{}
		}
		if len(table) > 0 || h.file[name] == "" {
			h.file[name] = source
		}
		for k, v := range table {
			h.keys[name][k] = v
			h.sources[name][k] = source
		}
	}
}

// names are the hosts so far, sorted.
func (h *hostTables) names() []string { return slices.Sorted(maps.Keys(h.keys)) }

// hosts returns Config.Hosts: nil when no layer names a host.
func (h *hostTables) hosts() map[string]Host {
	if len(h.keys) == 0 {
		return nil
	}
	out := make(map[string]Host, len(h.keys))
	for name, table := range h.keys {
		host := Host{Name: name, Target: TargetLocal, BuildOn: BuildLocal, File: h.file[name], sources: maps.Clone(h.sources[name])}
		for k, v := range table {
			switch k {
			case "target":
				host.Target, _ = v.(string)
			case "build_on":
				host.BuildOn, _ = v.(string)
			case "tags":
				host.Tags = slices.Clone(v.([]string))
			case "elevate":
				host.Elevate, _ = v.(string)
			case "ssh_options":
				host.SSHOptions = slices.Clone(v.([]string))
			case "confirm_timeout":
				d := v.(time.Duration)
				host.ConfirmTimeout = &d
			case "keep":
				n := v.(int)
				host.Keep = &n
			case "keep_since":
				host.KeepSince, _ = v.(string)
			case "gates":
				host.Gates = slices.Clone(v.([]string))
			}
		}
		out[name] = host
	}
	return out
}

// checkHosts checks what only the merged hosts can tell: that build_on
// names a host there is (and not the host itself), and that at most one
// host is this machine. It also gives rollout
// and parallel_hosts their defaults when there are hosts.
func (c *Config) checkHosts() error {
	if len(c.Hosts) == 0 {
		return nil
	}
	if c.Rollout == "" {
		c.Rollout = RolloutAll
	}
	if c.ParallelHosts == 0 {
		c.ParallelHosts = DefaultParallelHosts
	}
	names := slices.Sorted(maps.Keys(c.Hosts))
	local := ""
	for _, name := range names {
		h := c.Hosts[name]
		if h.IsLocal() {
			// Two systems cannot both be the one running here.
			if local != "" {
				return h.valueError("target", h.Target, fmt.Sprintf("host %s is this machine already (a host without target is local)", local),
					`user@addr[:port] for a machine reached over SSH; only one host is "local"`)
			}
			local = name
		}
		switch b := h.BuildOn; {
		case b == BuildLocal, b == BuildTarget:
		case b == name:
			return h.valueError("build_on", b, "is this host itself", `"target" to build it on itself, "local", or another host's name`)
		default:
			if _, ok := c.Hosts[b]; ok {
				continue
			}
			msg := fmt.Sprintf("there is no [host.%s]", b)
			if s := suggest.Closest(b, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return h.valueError("build_on", b, msg, `"local", "target", or one of the hosts: `+strings.Join(names, ", "))
		}
	}
	return nil
}

// Source returns the layer that set key of the host: a file's path,
// "environment", "flags"; for a key no layer set, the layer that last
// set a key of the host.
func (h Host) Source(key string) string {
	if s, ok := h.sources[key]; ok {
		return s
	}
	if h.File != "" {
		return h.File
	}
	return SourceDefaults
}

// KeyName is key of the host as the user wrote it: its variable
// (REBUILD_HOST__WEB1__GATES) when it came from the environment, else
// host.NAME.KEY.
func (h Host) KeyName(key string) string {
	if h.Source(key) == SourceEnvironment {
		return envHostPrefix + hostEnvPart(h.Name) + "__" + strings.ToUpper(key)
	}
	return hostKey(h.Name, key)
}

// ValueError is a bad value of the host's key, in the configuration's own
// form, naming the layer that set it: FILE: host.NAME.KEY = VALUE: MSG;
// allowed: ALLOWED. The catalogue uses it for what only the tasks know
// (gates that are not gate tasks).
func (h Host) ValueError(key string, value any, msg, allowed string) error {
	return h.valueError(key, value, msg, allowed)
}

func (h Host) valueError(key string, value any, msg, allowed string) *Error {
	return valueError(h.Source(key), h.KeyName(key), value, &problem{msg, allowed})
}
