package housekeeping

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// DiskOptions are the keys `disk` accepts in [task.disk]. Sizes are
// strings such as "100MiB" or "100M" (binary: 1024²), "100MB" (decimal:
// 1000²), or a number of bytes; a file is reported when it is over
// (strictly larger than) its threshold. Depths count like find's
// -maxdepth: the entries directly in the root are at depth 1. Paths may
// start with ~.
//
//	logs_root = "~"                  *.log files over logs_min …
//	logs_min = "100MiB"
//	logs_depth = 4                   … at most this deep
//	sessions_root = "~/.claude/projects"   session *.jsonl over sessions_min, at any depth
//	sessions_min = "5MiB"
//	json_roots = ["~/.config", "~/.claude"]   *.json over json_min …
//	json_min = "1MiB"
//	json_depth = 3                   … at most this deep, not entering json_skip
//	json_skip = ["IndexedDB", "google-chrome", "chromium", "BraveSoftware",
//	             "microsoft-edge", "vivaldi", "opera", "mozilla", "firefox"]
//	backups_root = "~"               backups_patterns over backups_min …
//	backups_patterns = ["*.bak", "*.backup", "*.old"]
//	backups_min = "1MiB"
//	backups_depth = 3                … at most this deep
//	claude_data = ["~/.claude/projects", "~/.claude/learning", "~/.claude/archives"]
//	yellow_percent = 1               Claude data's share of the disk at which
//	orange_percent = 5               the health level becomes yellow, orange,
//	red_percent = 20                 red (green below yellow_percent)
//
// No walk follows a symlink or leaves the file system it started on.
// disk changes nothing, so --yes and --dry-run do not change what it does,
// and it needs no terminal.
var DiskOptions = []string{
	"logs_root", "logs_min", "logs_depth",
	"sessions_root", "sessions_min",
	"json_roots", "json_min", "json_depth", "json_skip",
	"backups_root", "backups_patterns", "backups_min", "backups_depth",
	"claude_data", "yellow_percent", "orange_percent", "red_percent",
}

// DefaultJSONSkip are the folders a search for big JSON files does not
// enter: browser profiles and IndexedDB stores are big by nature.
var DefaultJSONSkip = []string{"IndexedDB", "google-chrome", "chromium", "BraveSoftware", "microsoft-edge", "vivaldi", "opera", "mozilla", "firefox"}

// Disk is the disk task: it finds what grows in the home directory and
// reports the health of Claude's data. It is read-only.
type Disk struct {
	// DiskSize returns the size in bytes of the file system holding path;
	// statfs when nil. Tests make the disk small to reach every level.
	DiskSize func(path string) (int64, error)
}

// rule is one kind of oversized file to look for.
type rule struct {
	label    string // "log files"
	root     string // expanded
	depth    int    // 0: any depth
	patterns []string
	min      int64
	minText  string
	skip     []string // folder names not entered
	hint     string
}

// finding is one oversized file.
type finding struct {
	path string
	size int64
}

// Level is the health of Claude's data: its share of the disk.
type Level string

// The health levels, from good to bad.
const (
	Green  Level = "green"
	Yellow Level = "yellow"
	Orange Level = "orange"
	Red    Level = "red"
)

// HealthLevel classifies share (a percentage of the disk) with the
// thresholds at which yellow, orange and red begin.
func HealthLevel(share, yellow, orange, red float64) Level {
	switch {
	case share < yellow:
		return Green
	case share < orange:
		return Yellow
	case share < red:
		return Orange
	default:
		return Red
	}
}

// diskConfig is [task.disk], read and checked.
type diskConfig struct {
	rules                []*rule
	claudeData           []string
	yellow, orange, red  int
	sessionsRule, jsRule *rule
}

func readDiskConfig(env *tasks.Env) (*diskConfig, error) {
	o := env.Options
	var c diskConfig
	var err error
	str := func(key, def string) string {
		if err != nil {
			return ""
		}
		var v string
		v, err = o.String(key, def)
		return env.Expand(v)
	}
	list := func(key string, def []string, expand bool) []string {
		if err != nil {
			return nil
		}
		var v []string
		v, err = o.Strings(key, def)
		if expand {
			for i := range v {
				v[i] = env.Expand(v[i])
			}
		}
		return v
	}
	size := func(key, def string) (int64, string) {
		if err != nil {
			return 0, ""
		}
		var n int64
		var text string
		n, text, err = sizeOption(env, key, def)
		return n, text
	}
	depth := func(key string, def int) int {
		if err != nil {
			return 0
		}
		var n int
		n, err = depthOption(env, key, def)
		return n
	}

	logs := &rule{label: "log files", patterns: []string{"*.log"},
		hint: "truncate or rotate the logs you still need (truncate -s 0 FILE), delete the others"}
	logs.root = str("logs_root", "~")
	logs.min, logs.minText = size("logs_min", "100MiB")
	logs.depth = depth("logs_depth", 4)

	sessions := &rule{label: "session logs", patterns: []string{"*.jsonl"},
		hint: "rebuild --only=sessions deletes or archives the sessions whose insights are implemented"}
	sessions.root = str("sessions_root", "~/.claude/projects")
	sessions.min, sessions.minText = size("sessions_min", "5MiB")

	jsonRoots := list("json_roots", []string{"~/.config", "~/.claude"}, true)
	jsonMin, jsonMinText := size("json_min", "1MiB")
	jsonDepth := depth("json_depth", 3)
	jsonSkip := list("json_skip", DefaultJSONSkip, false)

	backups := &rule{label: "backup files",
		hint: "review the old backups listed above and delete those you no longer need (rebuild never deletes them)"}
	backups.root = str("backups_root", "~")
	backups.patterns = list("backups_patterns", []string{"*.bak", "*.backup", "*.old"}, false)
	backups.min, backups.minText = size("backups_min", "1MiB")
	backups.depth = depth("backups_depth", 3)

	c.claudeData = list("claude_data", []string{"~/.claude/projects", "~/.claude/learning", "~/.claude/archives"}, true)
	percent := func(key string, def int) int {
		if err != nil {
			return 0
		}
		var n int
		n, err = o.Int(key, def)
		if err == nil && (n < 0 || n > 100) {
			err = env.Options.OptionError(key, n, "not a percentage", "a whole number from 0 to 100")
		}
		return n
	}
	c.yellow = percent("yellow_percent", 1)
	c.orange = percent("orange_percent", 5)
	c.red = percent("red_percent", 20)
	if err != nil {
		return nil, err
	}
	for _, p := range backups.patterns {
		if _, perr := filepath.Match(p, ""); perr != nil {
			return nil, env.Options.OptionError("backups_patterns", p, "not a file name pattern", `shell patterns such as "*.bak"`)
		}
	}
	if !(c.yellow <= c.orange && c.orange <= c.red) {
		return nil, env.Options.OptionError("orange_percent", c.orange, "the levels must grow: yellow_percent ≤ orange_percent ≤ red_percent",
			fmt.Sprintf("a value from %d to %d", c.yellow, c.red))
	}
	c.rules = []*rule{logs, sessions}
	for _, r := range jsonRoots {
		c.rules = append(c.rules, &rule{label: "JSON files", root: r, patterns: []string{"*.json"}, min: jsonMin, minText: jsonMinText,
			depth: jsonDepth, skip: jsonSkip,
			hint: "big JSON files are usually a tool's history or state; most tools have a command to trim it"})
	}
	c.rules = append(c.rules, backups)
	c.sessionsRule = sessions
	return &c, nil
}

// Run scans, in parallel, every root for the files over their thresholds
// and sizes Claude's data, then reports: a warning per kind of oversized
// file with sizes and paths (all of them in the log), the Claude data
// health as a statistic (red is also a warning), the folders it could not
// read as a warning, and "next:" hints as statistics.
func (d *Disk) Run(ctx context.Context, env *tasks.Env) error {
	if env.Home == "" {
		return errors.New("the home directory is unknown")
	}
	cfg, err := readDiskConfig(env)
	if err != nil {
		return err
	}
	start := env.Now()
	env.Status("scanning %s", strings.Join(rootsOf(env, cfg.rules), ", "))

	var (
		mu       sync.Mutex
		found    = map[*rule][]finding{}
		problems []error
		nErrors  int
		folders  int64
		mounts   []string
		health   = make([]int64, len(cfg.claudeData))
		missing  = 0
	)
	note := func(res fsutil.Result) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, res.Errors...)
		nErrors += res.ErrorCount
		folders += res.Dirs
		mounts = append(mounts, res.Mounts...)
	}
	// conc's pool hands a panic back to this goroutine, where the
	// scheduler's recovery catches it.
	g := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	for root, rules := range groupByRoot(cfg.rules) {
		g.Go(func(gctx context.Context) error {
			res, hits, err := scan(gctx, root, rules)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil && gctx.Err() == nil {
				// The root itself could not be read: a finding, not a failure.
				mu.Lock()
				problems = append(problems, err)
				nErrors++
				mu.Unlock()
				return nil
			}
			note(res)
			mu.Lock()
			for r, h := range hits {
				found[r] = append(found[r], h...)
			}
			mu.Unlock()
			return gctx.Err()
		})
	}
	for i, p := range cfg.claudeData {
		g.Go(func(gctx context.Context) error {
			u, res, err := fsutil.Size(gctx, p, fsutil.Options{})
			if errors.Is(err, fs.ErrNotExist) {
				mu.Lock()
				missing++
				mu.Unlock()
				return nil
			}
			if err != nil && gctx.Err() == nil {
				mu.Lock()
				problems = append(problems, err)
				nErrors++
				mu.Unlock()
				return nil
			}
			note(res)
			health[i] = u.Bytes
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	var hints []string
	total := 0
	for _, r := range cfg.rules {
		hits := found[r]
		if len(hits) == 0 {
			continue
		}
		total += len(hits)
		d.report(env, r, hits)
		if !slices.Contains(hints, r.hint) {
			hints = append(hints, r.hint)
		}
	}
	if total == 0 {
		env.Stat("disk: no oversized files (logs over %s, sessions over %s, JSON over %s, backups over %s)",
			cfg.rules[0].minText, cfg.sessionsRule.minText, jsonMinText(cfg), lastRule(cfg).minText)
	}

	level, err := d.health(env, cfg, health, missing)
	if err != nil {
		env.Warn("Claude data health unknown: %v", err)
	}
	if level != "" && level != Green && !slices.Contains(hints, cfg.sessionsRule.hint) {
		hints = append([]string{cfg.sessionsRule.hint}, hints...)
	}
	if level == Orange || level == Red {
		hints = append(hints, "rebuild --only=caches cleans tool caches; rebuild --only=generations removes old system generations")
	}

	if nErrors > 0 {
		env.Warn("disk: could not read %s: %s", plural(nErrors, "path", "paths"), firstErrors(tildeErrors(env, problems), nErrors, 3))
		for _, e := range problems {
			fmt.Fprintf(env.Log, "  unreadable: %v\n", e)
		}
	}
	slices.Sort(mounts)
	for _, m := range slices.Compact(mounts) {
		fmt.Fprintf(env.Log, "  not entered (another file system): %s\n", m)
	}
	env.Stat("disk: searched %s in %s", plural(int(folders), "folder", "folders"), env.Now().Sub(start).Round(time.Millisecond))
	for _, h := range hints {
		env.Stat("next: %s", h)
	}
	return nil
}

func jsonMinText(c *diskConfig) string {
	for _, r := range c.rules {
		if r.label == "JSON files" {
			return r.minText
		}
	}
	return "-"
}

func lastRule(c *diskConfig) *rule { return c.rules[len(c.rules)-1] }

// report writes one kind of finding: every file in the log, the biggest
// five in the summary's warning.
func (d *Disk) report(env *tasks.Env, r *rule, hits []finding) {
	slices.SortFunc(hits, func(a, b finding) int {
		if a.size != b.size {
			if a.size > b.size {
				return -1
			}
			return 1
		}
		return strings.Compare(a.path, b.path)
	})
	var sum int64
	rows := [][]string{{"size", r.label + " over " + r.minText}}
	for _, h := range hits {
		sum += h.size
		rows = append(rows, []string{fsutil.FormatBytes(h.size), tilde(env, h.path)})
	}
	fmt.Fprint(env.Log, fsutil.Table(rows))
	var top []string
	for i, h := range hits {
		if i == 5 {
			top = append(top, fmt.Sprintf("and %d more", len(hits)-5))
			break
		}
		top = append(top, fmt.Sprintf("%s (%s)", tilde(env, h.path), fsutil.FormatBytes(h.size)))
	}
	where := tilde(env, r.root)
	env.Warn("%s over %s under %s, %s in all: %s", plural(len(hits), strings.TrimSuffix(r.label, "s"), r.label),
		r.minText, where, fsutil.FormatBytes(sum), strings.Join(top, ", "))
}

// health reports the size of Claude's data as a share of the disk that
// holds the home directory.
func (d *Disk) health(env *tasks.Env, cfg *diskConfig, sizes []int64, missing int) (Level, error) {
	if missing == len(cfg.claudeData) {
		env.Stat("Claude data: none found (%s)", strings.Join(tildeAll(env, cfg.claudeData), ", "))
		return "", nil
	}
	diskSize := d.DiskSize
	if diskSize == nil {
		diskSize = statfsSize
	}
	total, err := diskSize(env.Home)
	if err != nil {
		return "", err
	}
	if total <= 0 {
		return "", fmt.Errorf("the file system of %s reports no size", env.Home)
	}
	var sum int64
	var parts []string
	for i, p := range cfg.claudeData {
		sum += sizes[i]
		parts = append(parts, fmt.Sprintf("%s %s", filepath.Base(p), fsutil.FormatBytes(sizes[i])))
	}
	share := 100 * float64(sum) / float64(total)
	level := HealthLevel(share, float64(cfg.yellow), float64(cfg.orange), float64(cfg.red))
	line := fmt.Sprintf("Claude data: %s, %.2f%% of the %s disk: %s (%s)", fsutil.FormatBytes(sum), share,
		fsutil.FormatBytes(total), level, strings.Join(parts, ", "))
	env.Stat("%s", line)
	if level == Red {
		env.Warn("%s — at least %d%% is red", line, cfg.red)
	}
	return level, nil
}

func statfsSize(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, &fs.PathError{Op: "statfs", Path: path, Err: err}
	}
	return int64(st.Blocks) * int64(st.Bsize), nil
}

// groupByRoot puts the rules with the same root together, so each root
// is walked once.
func groupByRoot(rules []*rule) map[string][]*rule {
	m := map[string][]*rule{}
	for _, r := range rules {
		root := filepath.Clean(r.root)
		m[root] = append(m[root], r)
	}
	return m
}

func rootsOf(env *tasks.Env, rules []*rule) []string {
	var out []string
	for root := range groupByRoot(rules) {
		out = append(out, tilde(env, root))
	}
	slices.Sort(out)
	return out
}

// scan walks root once for all its rules: it enters a folder when some
// rule reaches below it (and does not skip it by name), stats only the
// files whose names some rule matches, and keeps those over a threshold.
func scan(ctx context.Context, root string, rules []*rule) (fsutil.Result, map[*rule][]finding, error) {
	maxDepth := 0
	for _, r := range rules {
		if r.depth == 0 {
			maxDepth = 0
			break
		}
		maxDepth = max(maxDepth, r.depth)
	}
	applies := func(r *rule, e *fsutil.Entry) bool {
		return (r.depth == 0 || e.Depth <= r.depth) && matchAny(r.patterns, e.Name)
	}
	opt := fsutil.Options{
		MaxDepth: maxDepth,
		Filter: func(e *fsutil.Entry) bool {
			if e.IsDir() {
				for _, r := range rules {
					if (r.depth == 0 || e.Depth < r.depth) && !slices.Contains(r.skip, e.Name) {
						return true
					}
				}
				return false
			}
			if !e.IsRegular() {
				return false
			}
			for _, r := range rules {
				if applies(r, e) {
					return true
				}
			}
			return false
		},
	}
	var mu sync.Mutex
	hits := map[*rule][]finding{}
	res, err := fsutil.Walk(ctx, root, opt, func(e *fsutil.Entry) {
		if e.IsDir() || !e.IsRegular() {
			return
		}
		for _, r := range rules {
			if !applies(r, e) || e.Size <= r.min || skippedBelow(r, root, e.Path) {
				continue
			}
			mu.Lock()
			hits[r] = append(hits[r], finding{path: e.Path, size: e.Size})
			mu.Unlock()
		}
	})
	return res, hits, err
}

// skippedBelow reports whether a folder between root and path is one r
// does not enter (another rule on the same walk may have entered it).
func skippedBelow(r *rule, root, path string) bool {
	if len(r.skip) == 0 {
		return false
	}
	rel, err := filepath.Rel(root, filepath.Dir(path))
	if err != nil || rel == "." {
		return false
	}
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if slices.Contains(r.skip, part) {
			return true
		}
	}
	return false
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

func tildeAll(env *tasks.Env, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = tilde(env, p)
	}
	return out
}

// tildeErrors rewrites path errors with ~ paths, for the summary.
func tildeErrors(env *tasks.Env, errs []error) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		var pe *fs.PathError
		if errors.As(e, &pe) {
			out[i] = fmt.Errorf("%s: %v", tilde(env, pe.Path), pe.Err)
		} else {
			out[i] = e
		}
	}
	return out
}
