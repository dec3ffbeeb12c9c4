package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// BackupsOptions are the options of [task.backups].
//
// Only the files directly in the dirs named *.backup-* (e.g.
// CLAUDE.md.backup-20250124-101500) are considered, nothing else is ever
// touched. A folder under the flake directory, or listed explicitly, may
// be outside the home directory; "/" and the home directory itself are
// refused.
// "Under the flake" holds for where a folder really is: <flake>/.claude
// as a link to a folder outside the flake and the home is not cleaned by
// default (a warning says so; listing it in dirs cleans it).
//
// Without a terminal and without --yes, with policy "ask", nothing is
// deleted and the task is skipped. --yes applies "older" (older than
// older_than_days). --dry-run lists exactly the files that the policy
// (with "ask": what --yes would do) would delete, and deletes nothing.
type BackupsOptions struct {
	// Dirs nil: the flake's .backups and .claude/.backups, and
	// ~/.claude/.backups.
	Dirs          []string `option:"dirs" doc:"the folders claude-config backs files up into; unset: <flake>/.backups, <flake>/.claude/.backups and ~/.claude/.backups"`
	Policy        string   `option:"policy" doc:"\"ask\": show the backups and ask; \"all\": delete every backup; \"older\": those older than older_than_days; \"keep\": all but the newest keep of each file; \"skip\": none; other than \"ask\", applied without asking"`
	OlderThanDays int      `option:"older_than_days" doc:"the age in days (by modification time) of the backups \"older\" deletes"`
	Keep          int      `option:"keep" doc:"how many of each file's newest backups \"keep\" keeps"`
	Given         tasks.Given
}

// DefaultBackupsOptions are backups' defaults.
func DefaultBackupsOptions() BackupsOptions {
	return BackupsOptions{Policy: "ask", OlderThanDays: 7, Keep: 3}
}

// Check refuses an unknown policy and negative numbers.
func (o BackupsOptions) Check() error {
	if err := tasks.OneOf("policy", o.Policy, "ask", "all", "older", "keep", "skip"); err != nil {
		return err
	}
	if o.OlderThanDays < 0 {
		return tasks.BadOption("older_than_days", o.OlderThanDays, "negative", "a whole number of days ≥ 0")
	}
	if o.Keep < 0 {
		return tasks.BadOption("keep", o.Keep, "negative", "a whole number ≥ 0")
	}
	return nil
}

// Backups is the backups task.
type Backups struct{ Options BackupsOptions }

// Configure implements tasks.Configurable.
func (b *Backups) Configure(t config.Task) (tasks.Task, error) {
	c := *b
	c.Options = DefaultBackupsOptions()
	err := tasks.DecodeOptions(t, &c.Options)
	return &c, err
}

// TaskOptions implements tasks.Configurable.
func (b *Backups) TaskOptions() any { return b.Options }

// backup is one *.backup-* file.
type backup struct {
	path     string
	original string // the backed-up file: path up to ".backup-"
	size     int64
	mtime    time.Time
	node     fsutil.Listed // the file as listed: only that may go
}

// backupPlan is what each answer would delete.
type backupPlan struct {
	all, older, keep []*backup
}

// Run lists the backups, with what each choice would delete, and deletes
// what the policy or the person chose. See BackupsOptions.
func (b *Backups) Run(ctx context.Context, env *tasks.Env) error {
	dirs, configured, flake := backupDirs(env, b.Options.Dirs)
	policy, days, keep := b.Options.Policy, b.Options.OlderThanDays, b.Options.Keep
	if policy != "ask" || env.Yes || env.DryRun || !env.Interactive() {
		// No question: the cleanup plan does not wait for this task.
		env.Cleanup.Withdraw(env.Name)
	}
	if policy == "skip" {
		return tasks.Skip("policy = \"skip\": backups kept")
	}

	roots, order, err := b.openDirs(env, dirs, configured, flake)
	if err != nil {
		return err
	}
	found, err := findAllBackups(ctx, env, roots, order)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return tasks.Skip("no backups in %s", strings.Join(fsutil.TildeAll(env.Home, dirs), ", "))
	}
	plan := planBackups(found, env.Now(), days, keep)
	env.Stat("backups: %s, %s", text.Plural(len(found), "file", "files"), fsutil.FormatBytes(backupBytes(found)))

	labels := map[rune]string{
		'a': "all",
		'o': "older than " + text.Plural(days, "day", "days"),
		'k': fmt.Sprintf("keep the newest %d of each file", keep),
	}
	sets := map[rune][]*backup{'a': plan.all, 'o': plan.older, 'k': plan.keep}
	table := backupTable(env, found, plan, labels)

	choice := policyChoice(policy)
	if env.DryRun {
		if choice == 0 {
			choice = 'o' // what --yes would do
		}
		env.Show(table)
		return b.remove(ctx, env, roots, sets[choice], labels[choice], true)
	}
	if choice == 0 && !env.Interactive() && !env.Yes {
		return tasks.Skip("no terminal: kept %s (--yes deletes those older than %s; [task.backups] policy applies one without asking)",
			text.Plural(len(found), "backup", "backups"), text.Plural(days, "day", "days"))
	}
	switch {
	case choice != 0:
		env.Show(table)
		fmt.Fprintf(env.Log, "policy = %q: %s\n", policy, labels[choice])
	case env.Yes:
		env.Show(table)
		choice = 'o'
		fmt.Fprintf(env.Log, "--yes: %s\n", labels[choice])
	default:
		// The person sees the backups in the one cleanup plan: those
		// --yes would delete proposed to go, the rest staying.
		fmt.Fprintln(env.Log, table)
		return b.askAndRemove(ctx, env, roots, found, backupPlanLines(env, found, plan.older, labels['o']))
	}
	return b.remove(ctx, env, roots, sets[choice], labels[choice], false)
}

// PlanCleanup implements tasks.CleanupPlanner: the backups there before
// claude-config runs, those --yes would delete proposed to go, so the
// plan can be answered while the system builds. The backups this run
// writes are newer than any age rule and were not in the plan: they stay.
func (b *Backups) PlanCleanup(ctx context.Context, env *tasks.Env) (tasks.CleanupPlan, error) {
	if b.Options.Policy != "ask" {
		return tasks.CleanupPlan{}, tasks.Skip("policy = %q: nothing to ask", b.Options.Policy)
	}
	dirs, configured, flake := backupDirs(env, b.Options.Dirs)
	roots, order, err := b.openDirs(env, dirs, configured, flake)
	if err != nil {
		return tasks.CleanupPlan{}, err
	}
	found, err := findAllBackups(ctx, env, roots, order)
	if err != nil {
		return tasks.CleanupPlan{}, err
	}
	if len(found) == 0 {
		return tasks.CleanupPlan{}, tasks.Skip("no backups")
	}
	days := b.Options.OlderThanDays
	plan := planBackups(found, env.Now(), days, b.Options.Keep)
	return backupPlanLines(env, found, plan.older, "older than "+text.Plural(days, "day", "days")), nil
}

// openDirs checks every folder first: a refused one fails the task before
// anything is deleted. It returns the folders by their real path, in the
// order given, each once; a missing one is left out, and so is, with a
// warning, a default one that may not be cleaned.
func (b *Backups) openDirs(env *tasks.Env, dirs []string, configured bool, flake string) (map[string]*fsutil.Root, []string, error) {
	guard := fsutil.Guard{Home: env.Home}
	roots := map[string]*fsutil.Root{}
	var order []string
	for _, d := range dirs {
		root, err := openBackupDir(guard, d, configured, flake)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var re *fsutil.RootError
		if err != nil && !configured && errors.As(err, &re) {
			// A default folder that resolves somewhere it may not be
			// cleaned: say so, clean the others.
			hint := ""
			if re.Outside {
				hint = " (list it in task.backups.dirs to clean it)"
			}
			env.Warn("backups: %s not cleaned: %v%s", fsutil.Tilde(env.Home, d), err, hint)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: task.backups.dirs = %q: %v; nothing was deleted; allowed: folders that hold *.backup-* files",
				b.Options.Given.Source("dirs"), fsutil.Tilde(env.Home, d), err)
		}
		if _, dup := roots[root.Real]; dup {
			continue
		}
		roots[root.Real] = root
		order = append(order, root.Real)
	}
	return roots, order, nil
}

// findAllBackups lists the backups of every folder, in order. A folder
// that cannot be read is warned about and the others still listed; only
// the run's end stops it.
func findAllBackups(ctx context.Context, env *tasks.Env, roots map[string]*fsutil.Root, order []string) ([]*backup, error) {
	var found []*backup
	for _, real := range order {
		list, errs, err := findBackups(ctx, roots[real])
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// A folder that cannot be read is reported; the others are
			// still cleaned.
			env.Warn("backups: could not read %s: %v", fsutil.Tilde(env.Home, roots[real].Path), bareError(err))
			continue
		}
		for _, e := range errs {
			env.Warn("backups: %v", e)
		}
		found = append(found, list...)
	}
	return found, nil
}

// policyChoice is the plan's key a policy applies without asking: 0 for
// "ask".
func policyChoice(policy string) rune {
	switch policy {
	case "all":
		return 'a'
	case "older":
		return 'o'
	case "keep":
		return 'k'
	}
	return 0
}

// askAndRemove submits the backups to the run's cleanup plan (line i is
// found[i]) and removes those the person lets go; none: declined.
func (b *Backups) askAndRemove(ctx context.Context, env *tasks.Env, roots map[string]*fsutil.Root, found []*backup, lines tasks.CleanupPlan) error {
	picked, err := env.Cleanup.Submit(ctx, env, lines)
	if err != nil {
		return err
	}
	var chosen []*backup
	for _, i := range picked {
		if i >= 0 && i < len(found) {
			chosen = append(chosen, found[i])
		}
	}
	if len(chosen) == 0 {
		return tasks.Decline("kept %s", text.Plural(len(found), "backup", "backups"))
	}
	return b.remove(ctx, env, roots, chosen, "chosen in the cleanup plan", false)
}

// backupPlanLines is the cleanup plan's part for the backups: line i is
// found[i]; those in goes are proposed to go.
func backupPlanLines(env *tasks.Env, found, goes []*backup, goesLabel string) tasks.CleanupPlan {
	plan := tasks.CleanupPlan{Title: "backups of the Claude configuration"}
	for _, b := range found {
		l := tasks.CleanupLine{Label: fsutil.Tilde(env.Home, b.path), Bytes: b.size, Reason: "newer: kept (" + backupAge(env.Now().Sub(b.mtime)) + " old)", Key: b.path}
		if slices.Contains(goes, b) {
			l.Goes, l.Reason = true, goesLabel
		}
		plan.Lines = append(plan.Lines, l)
	}
	return plan
}

// backupDirs returns the folders to look in, whether they were configured
// (then each may be outside the home directory), and the flake directory
// ("" when there is none).
func backupDirs(env *tasks.Env, configuredDirs []string) (dirs []string, configured bool, flake string) {
	if env.Config != nil && env.Config.Flake != "" {
		flake = filepath.Clean(env.Expand(env.Config.Flake))
	}
	var def []string
	if flake != "" {
		def = append(def, filepath.Join(flake, ".backups"), filepath.Join(flake, ".claude", ".backups"))
	}
	def = append(def, "~/.claude/.backups")
	dirs, configured = append([]string{}, configuredDirs...), configuredDirs != nil
	if !configured {
		dirs = def
	}
	for i, d := range dirs {
		dirs[i] = filepath.Clean(env.Expand(d))
	}
	return dirs, configured, flake
}

// openBackupDir checks the backup folder d with guard. A configured folder
// may be outside the home directory. So may one under the flake (the flake
// may be /etc/nixos) — but only if it is under the flake once resolved:
// <flake>/.claude may be a link to anywhere, and the exemption must not
// follow it there. Such a folder is held to the home-directory rule.
func openBackupDir(guard fsutil.Guard, d string, configured bool, flake string) (*fsutil.Root, error) {
	underFlake := flake != "" && strings.HasPrefix(d, flake+"/")
	root, err := guard.Open(d, configured || underFlake)
	if err != nil || configured || !underFlake {
		return root, err
	}
	if realFlake, err := filepath.EvalSymlinks(flake); err == nil && realFlake != "/" && strings.HasPrefix(root.Real, realFlake+"/") {
		return root, nil
	}
	if inHome, err := guard.Open(d, false); err == nil && inHome.Real == root.Real {
		return inHome, nil
	}
	return nil, &fsutil.RootError{Path: d, Real: root.Real, Outside: true,
		Reason: "is outside the flake directory " + flake + " and outside the home directory"}
}

// findBackups lists the regular files directly in root named *.backup-*.
func findBackups(ctx context.Context, root *fsutil.Root) ([]*backup, []error, error) {
	var mu sync.Mutex
	var out []*backup
	opt := fsutil.Options{
		MaxDepth: 1,
		Filter: func(e *fsutil.Entry) bool {
			return e.IsRegular() && isBackupName(e.Name)
		},
	}
	res, err := fsutil.Walk(ctx, root.Path, opt, func(e *fsutil.Entry) {
		if e.Depth != 1 || !e.IsRegular() {
			return
		}
		i := strings.LastIndex(e.Path, ".backup-")
		mu.Lock()
		out = append(out, &backup{path: e.Path, original: e.Path[:i], size: e.Size, mtime: e.ModTime, node: e.Listed()})
		mu.Unlock()
	})
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(out, func(a, b *backup) int { return strings.Compare(a.path, b.path) })
	return out, res.Errors, nil
}

// isBackupName: *.backup-* with something on both sides.
func isBackupName(name string) bool {
	i := strings.LastIndex(name, ".backup-")
	return i > 0 && i+len(".backup-") < len(name)
}

// planBackups works out what each choice deletes. "keep" keeps the newest
// keep backups of each original file, by modification time (the name's
// timestamp breaks ties).
func planBackups(found []*backup, now time.Time, days, keep int) backupPlan {
	p := backupPlan{all: found}
	cutoff := now.Add(-time.Duration(days) * 24 * time.Hour)
	groups := map[string][]*backup{}
	for _, b := range found {
		if b.mtime.Before(cutoff) {
			p.older = append(p.older, b)
		}
		groups[b.original] = append(groups[b.original], b)
	}
	for _, g := range groups {
		slices.SortFunc(g, func(a, b *backup) int {
			if c := b.mtime.Compare(a.mtime); c != 0 {
				return c
			}
			return strings.Compare(b.path, a.path)
		})
		if len(g) > keep {
			p.keep = append(p.keep, g[keep:]...)
		}
	}
	slices.SortFunc(p.keep, func(a, b *backup) int { return strings.Compare(a.path, b.path) })
	return p
}

func backupTable(env *tasks.Env, found []*backup, plan backupPlan, labels map[rune]string) string {
	in := func(list []*backup, b *backup) bool { return slices.Contains(list, b) }
	rows := [][]string{{"backup", "age", "size", "goes with"}}
	for _, b := range found {
		var marks []string
		for _, c := range []struct {
			key  string
			list []*backup
		}{{"a", plan.all}, {"o", plan.older}, {"k", plan.keep}} {
			if in(c.list, b) {
				marks = append(marks, c.key)
			}
		}
		rows = append(rows, []string{fsutil.Tilde(env.Home, b.path), backupAge(env.Now().Sub(b.mtime)), fsutil.FormatBytes(b.size), strings.Join(marks, " ")})
	}
	return fsutil.Table(rows) + fmt.Sprintf("goes with: a = %s, o = %s, k = %s\n", labels['a'], labels['o'], labels['k'])
}

func backupAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d d", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	case d >= 0:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return "future"
}

// remove deletes (or, dryRun, lists) exactly the chosen backups, each
// through the root it was found in.
func (b *Backups) remove(ctx context.Context, env *tasks.Env, roots map[string]*fsutil.Root, chosen []*backup, label string, dryRun bool) error {
	if len(chosen) == 0 {
		return tasks.Skip("no backups to delete (%s)", label)
	}
	var removed []fsutil.Removed
	var bytes int64
	var errs []error
	for _, real := range slices.Sorted(maps.Keys(roots)) {
		root := roots[real]
		var files []fsutil.Listed
		for _, c := range chosen {
			if filepath.Dir(c.path) == filepath.Clean(root.Path) {
				files = append(files, c.node)
			}
		}
		if len(files) == 0 {
			continue
		}
		out, err := root.RemoveListed(ctx, files, dryRun)
		if err != nil {
			return err
		}
		removed = append(removed, out.Removed...)
		bytes += out.Bytes
		errs = append(errs, out.Errors...)
	}
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	var listing strings.Builder
	for _, r := range removed {
		fmt.Fprintf(&listing, "%s %s (%s)\n", verb, fsutil.Tilde(env.Home, r.Path), fsutil.FormatBytes(r.Bytes))
	}
	if dryRun {
		env.Show(listing.String())
		env.Stat("dry run: would delete %s, %s (%s)", text.Plural(len(removed), "backup", "backups"), fsutil.FormatBytes(bytes), label)
	} else {
		fmt.Fprint(env.Log, listing.String())
		env.Action("deleted %s, freed %s (%s)", text.Plural(len(removed), "backup", "backups"), fsutil.FormatBytes(bytes), label)
	}
	notDeleted(env, "backups", errs)
	return nil
}

func backupBytes(list []*backup) int64 {
	var n int64
	for _, b := range list {
		n += b.size
	}
	return n
}
