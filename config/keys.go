package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Where a value came from, for Task.File and Error.File when it was not a file.
const (
	SourceDefaults    = "defaults"
	SourceEnvironment = "environment"
	SourceFlags       = "flags"
)

// flagPrefix starts the source of a key set by a named flag.
const flagPrefix = "flag "

// FlagSource is the source, in errors and Task.File, of a key set by the
// command-line flag named flag (e.g. "--keep-since" gives "flag
// --keep-since"): Options.FlagNames says which flag sets which key.
func FlagSource(flag string) string { return flagPrefix + flag }

// isTextSource reports whether values from source came as text (the
// environment, flags), so a string is parsed as the key's type requires.
func isTextSource(source string) bool {
	return source == SourceEnvironment || source == SourceFlags || strings.HasPrefix(source, flagPrefix)
}

// DefaultSystemFile is the system-wide file read when Options.SystemFile is "".
const DefaultSystemFile = "/etc/rebuild/config.toml"

// Elevation programs accepted by the elevate key.
const (
	ElevateSudo = "sudo"
	ElevateDoas = "doas"
	ElevateRun0 = "run0"
	ElevateNone = "none"
)

// kind is the type and range of a key's value.
type kind int

const (
	kindString    kind = iota // any string
	kindPath                  // a non-empty string; ~ expanded
	kindOptPath               // a string, "" allowed; ~ expanded
	kindElevate               // sudo | doas | run0 | none
	kindCount0                // a whole number ≥ 0
	kindCount1                // a whole number ≥ 1
	kindRun                   // a non-empty string
	kindNames                 // a list of kebab-case names
	kindBool                  // true | false
	kindTimeout               // a duration > 0, written as a string
	kindSize                  // a size in bytes ≥ 0 (0: no limit), a number or a string with a unit
	kindRollout               // all | one-by-one | canary
	kindTarget                // local | user@addr[:port]
	kindBuildOn               // local | target | a host's name
	kindStrings               // a list of non-empty strings
	kindDuration0             // a duration ≥ 0, written as a string ("0s": off)
	kindAge                   // an age such as "7d", as task.generations' keep_since takes it
)

type keySpec struct {
	name string
	kind kind
	def  any
}

// topKeys are the top-level keys other than task, in the order WriteTOML
// and InitTemplate write them.
var topKeys = []keySpec{
	{"flake", kindPath, "~/nixos-config"},
	{"host", kindString, ""},
	{"profile", kindPath, "/nix/var/nix/profiles/system"},
	{"current_system", kindPath, "/run/current-system"},
	{"booted_system", kindPath, "/run/booted-system"},
	{"elevate", kindElevate, ElevateSudo},
	{"jobs", kindCount0, 0},
	{"state_dir", kindOptPath, ""},
	{"keep_logs", kindCount1, 20},
	{"metrics_file", kindOptPath, ""},
	{"log_max", kindSize, int64(50 << 20)},
	{"history_max", kindSize, int64(10 << 20)},
	// Without a default: they mean something only with [host.NAME]
	// tables, which give them theirs (RolloutAll, DefaultParallelHosts),
	// so a configuration without hosts is what it always was.
	{"rollout", kindRollout, nil},
	{"parallel_hosts", kindCount1, nil},
}

// taskKeys are the keys every [task.NAME] table may hold, in write order.
var taskKeys = []keySpec{
	{"run", kindRun, nil},
	{"needs", kindNames, nil},
	{"after", kindNames, nil},
	{"groups", kindNames, nil},
	{"critical", kindBool, nil},
	{"interactive", kindBool, nil},
	{"enabled", kindBool, nil},
	{"gate", kindBool, nil},
	{"timeout", kindTimeout, nil},
}

func findSpec(specs []keySpec, name string) (keySpec, bool) {
	for _, s := range specs {
		if s.name == name {
			return s, true
		}
	}
	return keySpec{}, false
}

func specNames(specs []keySpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.name
	}
	return out
}

// topKeyNames are the known top-level keys, task included (host is
// both a key and the [host.NAME] tables).
func topKeyNames() []string { return append(specNames(topKeys), "task") }

// StandardTaskKeys returns the keys every [task.NAME] table may hold; any
// other key is an option of a built-in task.
func StandardTaskKeys() []string { return specNames(taskKeys) }

func isStandardTaskKey(k string) bool {
	_, ok := findSpec(taskKeys, k)
	return ok
}

var kebab = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// IsName reports whether s is a valid task or group name (kebab-case).
func IsName(s string) bool { return kebab.MatchString(s) }

// MaxNameLen is the longest task name, in bytes. A task's name becomes a
// file name, its log NAME.log, and a file name holds at most 255 bytes;
// the cap leaves room for that and keeps names readable in a table.
const MaxNameLen = 64

// taskNameError checks the name of a task table (key is where it was
// written): kebab-case and at most MaxNameLen bytes. nil when it is fine.
func taskNameError(file, key, name string) *Error {
	if !IsName(name) {
		return badTaskName(file, key, name)
	}
	if len(name) > MaxNameLen {
		return &Error{File: file, Key: key,
			Msg: fmt.Sprintf("task name %s… is %d characters long; the most is %d (the name becomes the file name of the task's log, NAME.log)",
				name[:32], len(name), MaxNameLen)}
	}
	return nil
}

const (
	allowedPath      = "a path (~ is your home)"
	allowedOptPath   = `a path (~ is your home), or "" for the default`
	allowedElevate   = "sudo, doas, run0, none"
	allowedBool      = "true or false"
	allowedDuration  = `e.g. "90s", "2h"`
	allowedNames     = `a list of kebab-case names, e.g. ["flake-update", "build"]`
	allowedRun       = "a shell command line (run directly when it is plain words, else with sh -c)"
	allowedSize      = `a size such as "50MiB", "2GiB", "800KiB", or a number of bytes; 0 for no limit`
	allowedRollout   = "all, one-by-one, canary"
	allowedTarget    = `"local", or user@addr[:port] reached over SSH, e.g. "root@web1.example.org" or "deploy@[2001:db8::1]:2222"`
	allowedBuildOn   = `"local", "target", or the name of another [host.NAME]`
	allowedStrings   = `a list of strings, e.g. ["-i", "~/.ssh/deploy"]`
	allowedDuration0 = `e.g. "60s", "5m"; "0s" for off`
	allowedAge       = `an age such as "7d", "36h", "90m" or "1d12h"`
)

// convert checks v against k and returns it in its normal form: string,
// int, bool, []string or time.Duration. lenient is for text sources (the
// environment, flags): a string is then parsed as the kind requires.
func convert(k kind, v any, lenient bool) (any, *problem) {
	switch k {
	case kindString:
		s, ok := v.(string)
		if !ok {
			return nil, &problem{"not a string", "a string"}
		}
		return s, nil
	case kindPath:
		return convertPath(v, false, allowedPath)
	case kindOptPath:
		return convertPath(v, true, allowedOptPath)
	case kindElevate:
		return convertElevate(v)
	case kindCount0:
		return convertCount(v, 0, lenient)
	case kindCount1:
		return convertCount(v, 1, lenient)
	case kindRun:
		return convertRun(v)
	case kindNames:
		return convertNames(v, lenient)
	case kindBool:
		b, ok := toBool(v, lenient)
		if !ok {
			return nil, &problem{"not a boolean", allowedBool}
		}
		return b, nil
	case kindSize:
		return convertSize(v)
	case kindTimeout:
		return convertTimeout(v)
	case kindRollout:
		return convertWord(v, allowedRollout, RolloutAll, RolloutOne, RolloutCanary)
	case kindTarget:
		return convertTarget(v)
	case kindBuildOn:
		return convertBuildOn(v)
	case kindStrings:
		return convertStrings(v, lenient)
	case kindDuration0:
		return convertDuration0(v)
	case kindAge:
		return convertAge(v)
	}
	return nil, &problem{"unsupported", ""}
}

// convertPath accepts a string a path can hold; "" only if mayBeEmpty.
func convertPath(v any, mayBeEmpty bool, allowed string) (any, *problem) {
	s, ok := v.(string)
	if !ok {
		return nil, &problem{"not a string", allowed}
	}
	if s == "" && !mayBeEmpty {
		return nil, &problem{"empty", allowed}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, &problem{"contains a NUL byte, which no path can hold", allowed}
	}
	return s, nil
}

func convertElevate(v any) (any, *problem) {
	s, ok := v.(string)
	if !ok {
		return nil, &problem{"not a string", allowedElevate}
	}
	switch s {
	case ElevateSudo, ElevateDoas, ElevateRun0, ElevateNone:
		return s, nil
	}
	return nil, &problem{"not allowed", allowedElevate}
}

// convertCount accepts a whole number of at least least.
func convertCount(v any, least int, lenient bool) (any, *problem) {
	allowed := fmt.Sprintf("a whole number ≥ %d", least)
	n, ok := toInt(v, lenient)
	if !ok {
		return nil, &problem{"not an integer", allowed}
	}
	if n < least {
		return nil, &problem{"too small", allowed}
	}
	return n, nil
}

func convertRun(v any) (any, *problem) {
	s, ok := v.(string)
	if !ok {
		return nil, &problem{"not a string", allowedRun}
	}
	if strings.TrimSpace(s) == "" {
		return nil, &problem{"empty", allowedRun}
	}
	if strings.IndexByte(s, 0) >= 0 {
		// Checked here, not at exec time: a command line is a C
		// string, and the run would fail only when the task starts.
		return nil, &problem{"contains a NUL byte, which no command line can hold", allowedRun}
	}
	return s, nil
}

func convertNames(v any, lenient bool) (any, *problem) {
	list, ok := toStrings(v, lenient)
	if !ok {
		return nil, &problem{"not a list of strings", allowedNames}
	}
	for _, s := range list {
		if !IsName(s) {
			return nil, &problem{fmt.Sprintf("%q is not a kebab-case name", s), allowedNames}
		}
	}
	return list, nil
}

func convertSize(v any) (any, *problem) {
	n, ok := toSize(v)
	if !ok {
		return nil, &problem{"not a size", allowedSize}
	}
	if n < 0 {
		return nil, &problem{"negative", allowedSize}
	}
	return n, nil
}

func convertTimeout(v any) (any, *problem) {
	d, ok := toDuration(v)
	if !ok {
		return nil, &problem{"not a duration", allowedDuration}
	}
	if d <= 0 {
		return nil, &problem{"not greater than 0", allowedDuration}
	}
	return d, nil
}

func toInt(v any, lenient bool) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int8:
		return int(x), true
	case int16:
		return int(x), true
	case int32:
		return int(x), true
	case int64:
		if x > math.MaxInt || x < math.MinInt {
			return 0, false
		}
		return int(x), true
	case uint:
		if x > math.MaxInt {
			return 0, false
		}
		return int(x), true
	case uint8:
		return int(x), true
	case uint16:
		return int(x), true
	case uint32:
		return int(x), true
	case uint64:
		if x > math.MaxInt {
			return 0, false
		}
		return int(x), true
	case string:
		if !lenient {
			return 0, false
		}
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}

func toBool(v any, lenient bool) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		if !lenient {
			return false, false
		}
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		return b, err == nil
	}
	return false, false
}

// toStrings accepts a TOML array of strings; lenient, also a comma list.
// The result is never nil, so "set to nothing" stays apart from "not set".
func toStrings(v any, lenient bool) ([]string, bool) {
	switch x := v.(type) {
	case []string:
		return append([]string{}, x...), true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	case string:
		if !lenient {
			return nil, false
		}
		return splitList(x), true
	}
	return nil, false
}

// splitList splits a comma list from the environment; blanks are dropped.
func splitList(s string) []string {
	out := []string{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// toDuration accepts a Go duration string ("90s", "2h30m") or a
// time.Duration (from flags).
func toDuration(v any) (time.Duration, bool) {
	switch x := v.(type) {
	case time.Duration:
		return x, true
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		return d, err == nil
	}
	return 0, false
}

// formatDuration writes d as time.ParseDuration reads it, without the
// trailing zero units: "2h", "1h30m", "90s" → "1m30s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// sizeUnits are the units a size may carry: binary (KiB, K) and decimal
// (KB), as du and systemd accept them.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// toSize reads a size: a whole number of bytes, or a string such as
// "50MiB", "1.5 GiB" or "4096". Strings are accepted from every source: a
// TOML file writes a size with a unit as one.
func toSize(v any) (int64, bool) {
	if s, ok := v.(string); ok {
		t := strings.TrimSpace(s)
		i := 0
		for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
			i++
		}
		mult, ok := sizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
		f, err := strconv.ParseFloat(t[:i], 64)
		if !ok || err != nil || f*float64(mult) >= math.MaxInt64 {
			return 0, false
		}
		return int64(math.Round(f * float64(mult))), true
	}
	n, ok := toInt(v, false)
	return int64(n), ok
}

// formatSize writes n as toSize reads it back exactly: with the largest
// binary unit that divides it, else as a number of bytes.
func formatSize(n int64) any {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return n
}

// convertWord accepts one of words.
func convertWord(v any, allowed string, words ...string) (any, *problem) {
	s, ok := v.(string)
	if !ok {
		return nil, &problem{"not a string", allowed}
	}
	for _, w := range words {
		if s == w {
			return s, nil
		}
	}
	return nil, &problem{"not allowed", allowed}
}

// convertStrings accepts a list of non-empty strings; lenient, also a
// comma list.
func convertStrings(v any, lenient bool) (any, *problem) {
	list, ok := toStrings(v, lenient)
	if !ok {
		return nil, &problem{"not a list of strings", allowedStrings}
	}
	for _, s := range list {
		if s == "" {
			return nil, &problem{"has an empty string", allowedStrings}
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, &problem{"contains a NUL byte, which no command line can hold", allowedStrings}
		}
	}
	return list, nil
}

// convertDuration0 accepts a duration ≥ 0.
func convertDuration0(v any) (any, *problem) {
	d, ok := toDuration(v)
	if !ok {
		return nil, &problem{"not a duration", allowedDuration0}
	}
	if d < 0 {
		return nil, &problem{"negative", allowedDuration0}
	}
	return d, nil
}
