package nixos

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/ansi"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Diff is the diff task: `nix store diff-closures <running> <new>`,
// colour stripped, summarised as statistics (version changes, closure
// size) and handed on as tasks.DiffSummary for the questions of activate
// (--ask) and accept. Read-only.
type Diff struct{}

// maxDiffStats is how many version changes the summary lists one by one;
// maxDiffRows how many packages the table of the questions lists.
const (
	maxDiffStats = 8
	maxDiffRows  = 40
)

// Run compares the running system with the one build made.
func (Diff) Run(ctx context.Context, env *tasks.Env) error {
	if env.Config == nil {
		return errNoConfig
	}
	built, ok := BuiltKey.Get(env)
	if !ok || built.Out == "" {
		return tasks.Skip("nothing built in this run")
	}
	out := built.Out
	if !built.Changed {
		return tasks.Skip("no changes")
	}
	// A host reached over ssh is compared there: both closures are in
	// its store once copy has run (or it built the new one itself).
	r, err := remoteOf(env)
	if err != nil {
		return err
	}
	// The system that was running when build ended: activation may have
	// switched it since (diff runs beside it, unless --ask shows the diff).
	current := built.Running
	if current == "" && r == nil {
		current = resolve(env.Config.CurrentSystem)
	} else if current == "" {
		ts, err := r.systems(ctx, env, false)
		if err != nil {
			return err
		}
		current = ts.Current
	}
	if current == "" && r != nil {
		return tasks.Skip("no running system at %s on %s", env.Config.CurrentSystem, r.host.Name)
	}
	if current == "" {
		return tasks.Skip("no running system at %s", env.Config.CurrentSystem)
	}
	closureSizes := closureSizes
	var raw string
	if r == nil {
		raw, err = output(ctx, env, proc.Cmd{Args: []string{"nix", "store", "diff-closures", current, out}})
	} else {
		raw, err = r.output(ctx, env, remoteCmd{argv: nixArgv("store", "diff-closures", current, out)})
		closureSizes = func(ctx context.Context, env *tasks.Env, a, b string) (int64, int64, error) {
			return sizesOf(r.pathSizes(ctx, env, a, b))(a, b)
		}
	}
	if err != nil {
		return err
	}
	raw = ansi.Strip(raw)
	env.Log.Write([]byte(raw))
	d := parseDiffClosures(raw)
	cd := d.diff

	var closure string
	if before, after, err := closureSizes(ctx, env, current, out); err == nil {
		cd.ClosureBefore, cd.ClosureAfter = before, after
		closure = fmt.Sprintf("closure %s → %s (%s)", humanBytes(before), humanBytes(after), signedBytes(after-before))
	} else {
		fmt.Fprintf(env.Log, "closure size: %v\n", err)
		closure = fmt.Sprintf("closure size %s (sum of the changes above)", signedBytes(d.delta))
	}
	env.SetDiff(cd)
	// The table in full goes to the log; the questions get it cut to
	// maxDiffRows, the summary its version changes one a line.
	fmt.Fprintln(env.Log, diffTable(cd, closure, 0))
	var summary []string
	for i, c := range d.versions {
		if i == maxDiffStats {
			summary = append(summary, "… "+text.Plural(len(d.versions)-maxDiffStats, "more version change", "more version changes")+" (see the log)")
			break
		}
		summary = append(summary, c)
	}
	if len(d.versions) == 0 {
		summary = append(summary, "no version changes")
	}
	for _, s := range append(summary, closure) {
		env.Stat("%s", s)
	}
	tasks.DiffSummary.Put(env, diffTable(cd, closure, maxDiffRows))
	return nil
}

type closureDiff struct {
	versions []string // "foo 1.0 → 1.2", "bar 2.7790 → 2.1232 (downgrade)"
	delta    int64    // sum of the size changes, bytes
	diff     tasks.ClosureDiff
}

// parseDiffClosures reads diff-closures' lines, e.g.
//
//	foo: 1.0 → 1.2, +64.0 KiB
//	bar: ∅ → 2.0, +48.0 KiB
//	baz: +12.5 KiB
//	qux: 1.0, 1.1 → 1.2
//
// (the versions only in the old closure → those only in the new one, ∅
// for none, ε for an empty version; the size change when it is at least
// 8 KiB) and sorts each package into upgraded, downgraded (by Nix's own
// version order, see compareVersions), added, removed or changed.
func parseDiffClosures(text string) closureDiff {
	var d closureDiff
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ": ")
		if !ok || name == "" {
			continue
		}
		var size int64
		if i := strings.LastIndex(rest, ", "); i >= 0 || strings.HasSuffix(rest, " KiB") {
			delta := rest
			if i >= 0 {
				delta = rest[i+2:]
			}
			if n, ok := parseKiB(delta); ok {
				size = n
				d.delta += n
				if i >= 0 {
					rest = rest[:i]
				} else {
					rest = ""
				}
			}
		}
		pc := tasks.PackageChange{Name: name, SizeDelta: size}
		before, after, changed := strings.Cut(rest, " → ")
		if !changed {
			if rest == "" && size != 0 {
				d.diff.Changed = append(d.diff.Changed, pc)
			}
			continue
		}
		pc.Before, pc.After = versionList(before), versionList(after)
		shown := name + " " + rest
		switch {
		case len(pc.Before) == 0:
			d.diff.Added = append(d.diff.Added, pc)
		case len(pc.After) == 0:
			d.diff.Removed = append(d.diff.Removed, pc)
		default:
			switch compareVersions(newest(pc.Before), newest(pc.After)) {
			case -1:
				d.diff.Upgraded = append(d.diff.Upgraded, pc)
			case 1:
				d.diff.Downgraded = append(d.diff.Downgraded, pc)
				shown += " (downgrade)"
			default:
				d.diff.Changed = append(d.diff.Changed, pc)
			}
		}
		d.versions = append(d.versions, shown)
	}
	return d
}

// versionList reads one side of "1.0, 1.1 → 1.2": ∅ is none, ε the empty
// version.
func versionList(s string) []string {
	if s == "∅" || s == "" {
		return nil
	}
	vs := strings.Split(s, ", ")
	for i, v := range vs {
		if v == "ε" {
			vs[i] = ""
		}
	}
	return vs
}

// newest is the highest of versions in Nix's order.
func newest(vs []string) string {
	n := vs[0]
	for _, v := range vs[1:] {
		if compareVersions(v, n) > 0 {
			n = v
		}
	}
	return n
}

func parseKiB(s string) (int64, bool) {
	num, ok := strings.CutSuffix(s, " KiB")
	if !ok || (!strings.HasPrefix(num, "+") && !strings.HasPrefix(num, "-")) {
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, false
	}
	return int64(f * 1024), true
}

// closureSizes returns the closure sizes of two store paths.
func closureSizes(ctx context.Context, env *tasks.Env, a, b string) (int64, int64, error) {
	return sizesOf(pathSizes(ctx, env, a, b))(a, b)
}

// sizesOf picks the sizes of two paths out of pathSizes' answer.
func sizesOf(sizes map[string]int64, err error) func(a, b string) (int64, int64, error) {
	return func(a, b string) (int64, int64, error) {
		if err != nil {
			return 0, 0, err
		}
		sa, oka := sizes[a]
		sb, okb := sizes[b]
		if !oka || !okb {
			return 0, 0, fmt.Errorf("nix path-info gave no size for %s or %s", a, b)
		}
		return sa, sb, nil
	}
}

// pathSizes runs `nix path-info -S --json` on paths: closure sizes by path.
func pathSizes(ctx context.Context, env *tasks.Env, paths ...string) (map[string]int64, error) {
	args := append([]string{"nix", "path-info", "-S", "--json"}, paths...)
	out, err := output(ctx, env, proc.Cmd{Args: args})
	if err != nil {
		return nil, err
	}
	return parsePathSizes(out)
}

// parsePathSizes reads `nix path-info -S --json`: closure size by path.
func parsePathSizes(out string) (map[string]int64, error) {
	return parsePathInfo(out, func(in pathInfo) int64 { return in.ClosureSize })
}

// pathInfo is one path of `nix path-info --json` (with -S, ClosureSize).
type pathInfo struct {
	Path        string `json:"path"`
	NarSize     int64  `json:"narSize"`
	ClosureSize int64  `json:"closureSize"`
}

// parsePathInfo reads `nix path-info --json`: a list of objects with their
// path (Nix 2.8, as here), or, from Nix 2.19 on (a target may run it), an
// object keyed by path; size picks the number kept for each path.
func parsePathInfo(out string, size func(pathInfo) int64) (map[string]int64, error) {
	var infos []pathInfo
	if err := json.Unmarshal([]byte(out), &infos); err != nil {
		var byPath map[string]*pathInfo
		if err2 := json.Unmarshal([]byte(out), &byPath); err2 != nil {
			return nil, fmt.Errorf("nix path-info: %w", err)
		}
		for p, in := range byPath {
			if in != nil {
				in.Path = p
				infos = append(infos, *in)
			}
		}
	}
	sizes := make(map[string]int64, len(infos))
	for _, in := range infos {
		sizes[in.Path] = size(in)
	}
	return sizes, nil
}

func signedBytes(n int64) string {
	if n >= 0 {
		return "+" + humanBytes(n)
	}
	return humanBytes(n)
}
