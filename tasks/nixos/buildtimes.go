package nixos

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// buildTimesFile holds, in the state directory, how long past builds of
// each package name took and how long each host's evaluation took: the
// estimates of the build view (nom's method, the median of past builds
// of the same pname).
const buildTimesFile = "build-times.json"

// keptTimes is how many durations are kept per name: the task history's
// ten, so an estimate follows a package that got slower.
const keptTimes = 10

// buildTimes maps a package name ("firefox") or an evaluation
// ("eval:<host>") to its last durations in milliseconds, oldest first.
type buildTimes map[string][]int64

func evalKey(host string) string { return "eval:" + host }

// loadBuildTimes reads the file in dir; a missing or unreadable file is
// no history (estimates are a nicety, never a reason to fail a build).
func loadBuildTimes(dir string) buildTimes {
	t := buildTimes{}
	if dir == "" {
		return t
	}
	b, err := os.ReadFile(filepath.Join(dir, buildTimesFile))
	if err != nil || json.Unmarshal(b, &t) != nil {
		return buildTimes{}
	}
	return t
}

// estimate is the median of name's past durations, 0 when there are none.
func (t buildTimes) estimate(name string) time.Duration {
	ms := slices.Clone(t[name])
	if len(ms) == 0 {
		return 0
	}
	slices.Sort(ms)
	n := len(ms)
	if n%2 == 1 {
		return time.Duration(ms[n/2]) * time.Millisecond
	}
	return time.Duration((ms[n/2-1]+ms[n/2])/2) * time.Millisecond
}

// add appends durations under name, keeping the last keptTimes.
func (t buildTimes) add(name string, ds ...time.Duration) {
	for _, d := range ds {
		t[name] = append(t[name], d.Milliseconds())
	}
	if n := len(t[name]); n > keptTimes {
		t[name] = t[name][n-keptTimes:]
	}
}

// save writes the file in dir atomically.
func (t buildTimes) save(dir string) error {
	if dir == "" {
		return errors.New("no state directory")
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return fsutil.WriteAtomic(filepath.Join(dir, buildTimesFile), b)
}
