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

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// DiskOptions are the options of [task.disk]. Sizes are strings such as
// "100MiB" or "100M" (binary: 1024²), "100MB" (decimal: 1000²), or a
// number of bytes; a file is reported when it is over (strictly larger
// than) its threshold. Depths count like find's -maxdepth: the entries
// directly in the root are at depth 1. Paths may start with ~.
//
// No walk follows a symlink or leaves the file system it started on.
// disk changes nothing, so --yes and --dry-run do not change what it does,
// and it needs no terminal.
type DiskOptions struct {
	LogsRoot        string   `option:"logs_root" doc:"where to look for *.log files over logs_min"`
	LogsMin         Size     `option:"logs_min" doc:"the size over which a *.log file is reported"`
	LogsDepth       int      `option:"logs_depth" doc:"how deep below logs_root to look (1: only its own entries)"`
	SessionsRoot    string   `option:"sessions_root" doc:"where to look, at any depth, for session *.jsonl files over sessions_min"`
	SessionsMin     Size     `option:"sessions_min" doc:"the size over which a session log is reported"`
	JSONRoots       []string `option:"json_roots" doc:"where to look for *.json files over json_min"`
	JSONMin         Size     `option:"json_min" doc:"the size over which a *.json file is reported"`
	JSONDepth       int      `option:"json_depth" doc:"how deep below each of json_roots to look"`
	JSONSkip        []string `option:"json_skip" doc:"folders a search for *.json files does not enter (browser profiles are big by nature)"`
	BackupsRoot     string   `option:"backups_root" doc:"where to look for backup files over backups_min"`
	BackupsPatterns []string `option:"backups_patterns" doc:"the file names of backups (shell patterns)"`
	BackupsMin      Size     `option:"backups_min" doc:"the size over which a backup file is reported"`
	BackupsDepth    int      `option:"backups_depth" doc:"how deep below backups_root to look"`
	ClaudeData      []string `option:"claude_data" doc:"the folders of Claude's data whose share of the disk is its health"`
	YellowPercent   int      `option:"yellow_percent" doc:"the share of the disk (%) of Claude's data at which its health is yellow (green below)"`
	OrangePercent   int      `option:"orange_percent" doc:"… at which it is orange"`
	RedPercent      int      `option:"red_percent" doc:"… at which it is red (a warning in the summary)"`
}

// DefaultDiskOptions are disk's defaults (PHASES.md, phase 10).
func DefaultDiskOptions() DiskOptions {
	return DiskOptions{
		LogsRoot: "~", LogsMin: mustSize("100MiB"), LogsDepth: 4,
		SessionsRoot: "~/.claude/projects", SessionsMin: mustSize("5MiB"),
		JSONRoots: []string{"~/.config", "~/.claude"}, JSONMin: mustSize("1MiB"), JSONDepth: 3,
		JSONSkip:    append([]string{}, DefaultJSONSkip...),
		BackupsRoot: "~", BackupsPatterns: []string{"*.bak", "*.backup", "*.old"}, BackupsMin: mustSize("1MiB"), BackupsDepth: 3,
		ClaudeData:    []string{"~/.claude/projects", "~/.claude/learning", "~/.claude/archives"},
		YellowPercent: 1, OrangePercent: 5, RedPercent: 20,
	}
}

// Check refuses a depth below 1, a percentage outside 0–100, levels that
// do not grow, and a pattern that is not one.
func (o DiskOptions) Check() error {
	for _, d := range []struct {
		key string
		n   int
	}{{"logs_depth", o.LogsDepth}, {"json_depth", o.JSONDepth}, {"backups_depth", o.BackupsDepth}} {
		if d.n < 1 {
			return tasks.BadOption(d.key, d.n, "must be at least 1", "a whole number ≥ 1 (1: only the folder's own entries)")
		}
	}
	for _, p := range []struct {
		key string
		n   int
	}{{"yellow_percent", o.YellowPercent}, {"orange_percent", o.OrangePercent}, {"red_percent", o.RedPercent}} {
		if p.n < 0 || p.n > 100 {
			return tasks.BadOption(p.key, p.n, "not a percentage", "a whole number from 0 to 100")
		}
	}
	for _, p := range o.BackupsPatterns {
		if _, err := filepath.Match(p, ""); err != nil {
			return tasks.BadOption("backups_patterns", p, "not a file name pattern", `shell patterns such as "*.bak"`)
		}
	}
	if !(o.YellowPercent <= o.OrangePercent && o.OrangePercent <= o.RedPercent) {
		return tasks.BadOption("orange_percent", o.OrangePercent, "the levels must grow: yellow_percent ≤ orange_percent ≤ red_percent",
			fmt.Sprintf("a value from %d to %d", o.YellowPercent, o.RedPercent))
	}
	return nil
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
	Options  DiskOptions
}

// Configure implements tasks.Configurable.
func (d *Disk) Configure(t config.Task) (tasks.Task, error) {
	c := *d
	c.Options = DefaultDiskOptions()
	err := tasks.DecodeOptions(t, &c.Options)
	return &c, err
}

// TaskOptions implements tasks.Configurable.
func (d *Disk) TaskOptions() any { return d.Options }

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

// diskConfig is what disk looks for, from its options.
type diskConfig struct {
	rules               []*rule
	claudeData          []string
	yellow, orange, red int
	sessionsRule        *rule
}

// diskConfigOf turns the options into rules, paths expanded.
func diskConfigOf(env *tasks.Env, o DiskOptions) *diskConfig {
	expand := func(list []string) []string {
		out := make([]string, len(list))
		for i, p := range list {
			out[i] = env.Expand(p)
		}
		return out
	}
	logs := &rule{label: "log files", patterns: []string{"*.log"}, root: env.Expand(o.LogsRoot),
		min: o.LogsMin.Bytes, minText: o.LogsMin.Text, depth: o.LogsDepth,
		hint: "truncate or rotate the logs you still need (truncate -s 0 FILE), delete the others"}
	sessions := &rule{label: "session logs", patterns: []string{"*.jsonl"}, root: env.Expand(o.SessionsRoot),
		min: o.SessionsMin.Bytes, minText: o.SessionsMin.Text,
		hint: "rebuild --only=sessions deletes or archives the sessions whose insights are implemented"}
	backups := &rule{label: "backup files", root: env.Expand(o.BackupsRoot), patterns: o.BackupsPatterns,
		min: o.BackupsMin.Bytes, minText: o.BackupsMin.Text, depth: o.BackupsDepth,
		hint: "review the old backups listed above and delete those you no longer need (rebuild never deletes them)"}
	c := &diskConfig{claudeData: expand(o.ClaudeData), yellow: o.YellowPercent, orange: o.OrangePercent, red: o.RedPercent}
	c.rules = []*rule{logs, sessions}
	for _, r := range expand(o.JSONRoots) {
		c.rules = append(c.rules, &rule{label: "JSON files", root: r, patterns: []string{"*.json"}, min: o.JSONMin.Bytes, minText: o.JSONMin.Text,
			depth: o.JSONDepth, skip: o.JSONSkip,
			hint: "big JSON files are usually a tool's history or state; most tools have a command to trim it"})
	}
	c.rules = append(c.rules, backups)
	c.sessionsRule = sessions
	return c
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
	cfg := diskConfigOf(env, d.Options)
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
	// unreadable notes a folder that could not be read at all: a finding
	// of the analysis, not a failure of the task.
	unreadable := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, err)
		nErrors++
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
				unreadable(err)
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
				unreadable(err)
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
		env.Warn("disk: could not read %s: %s", text.Plural(nErrors, "path", "paths"), fsutil.FirstErrors(fsutil.TildeErrors(env.Home, problems), nErrors, 3))
		for _, e := range problems {
			fmt.Fprintf(env.Log, "  unreadable: %v\n", e)
		}
	}
	slices.Sort(mounts)
	for _, m := range slices.Compact(mounts) {
		fmt.Fprintf(env.Log, "  not entered (another file system): %s\n", m)
	}
	env.Stat("disk: searched %s in %s", text.Plural(int(folders), "folder", "folders"), env.Now().Sub(start).Round(time.Millisecond))
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
		rows = append(rows, []string{fsutil.FormatBytes(h.size), fsutil.Tilde(env.Home, h.path)})
	}
	fmt.Fprint(env.Log, fsutil.Table(rows))
	var top []string
	for i, h := range hits {
		if i == 5 {
			top = append(top, fmt.Sprintf("and %d more", len(hits)-5))
			break
		}
		top = append(top, fmt.Sprintf("%s (%s)", fsutil.Tilde(env.Home, h.path), fsutil.FormatBytes(h.size)))
	}
	where := fsutil.Tilde(env.Home, r.root)
	env.Warn("%s over %s under %s, %s in all: %s", text.Plural(len(hits), strings.TrimSuffix(r.label, "s"), r.label),
		r.minText, where, fsutil.FormatBytes(sum), strings.Join(top, ", "))
}

// health reports the size of Claude's data as a share of the disk that
// holds the home directory.
func (d *Disk) health(env *tasks.Env, cfg *diskConfig, sizes []int64, missing int) (Level, error) {
	if missing == len(cfg.claudeData) {
		env.Stat("Claude data: none found (%s)", strings.Join(fsutil.TildeAll(env.Home, cfg.claudeData), ", "))
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
		out = append(out, fsutil.Tilde(env.Home, root))
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
