package nixos

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Generations is the generations task: list the system profile's
// generations (number, date, current, booted, closure size), choose which
// to delete — in a multi-select, or by the policy options keep (the newest
// N are kept) and keep_since ("7d": those younger are kept) — delete them
// with `nix-env --delete-generations`, regenerate the boot entries (see
// regenerateBootEntries), collect garbage and report what was freed.
//
// The current generation, the booted one and the running one are never
// offered and never deleted, whatever the policy or the answer. When the
// booted or the running system link does not resolve, which generation it
// is cannot be told, and nothing is deleted (the task fails saying so).
//
// Without a policy: with --yes, the default policy (keep DefaultKeep); with
// no terminal, nothing is deleted (skipped). A policy applies without a
// terminal too: it was configured on purpose. A dry run lists what would be
// deleted (by the policy, else the default one) and deletes nothing.
type Generations struct{ Options GenerationsOptions }

// DefaultKeep is the --yes answer when no policy is configured.
const DefaultKeep = 5

// GenerationsOptions are the options of [task.generations] (the flags
// --keep and --keep-since set them too). Unset, both of them, the person
// is asked; a policy is applied without asking.
type GenerationsOptions struct {
	Keep      *int `option:"keep" doc:"delete without asking all but the newest N generations (with keep_since, only those older too); unset: ask"`
	KeepSince *Age `option:"keep_since" doc:"delete without asking the generations older than this, e.g. \"7d\" (with keep, only those beyond the newest keep); unset: ask"`
	// BootEntries is only counted in: the bootloader's installer does the work.
	BootEntries string `option:"loader_entries" doc:"where the bootloader's entries are, to count those removed after deleting (systemd-boot's)"`
}

// Check refuses a negative keep.
func (o GenerationsOptions) Check() error {
	if o.Keep != nil && *o.Keep < 0 {
		return tasks.BadOption("keep", *o.Keep, "negative", "a whole number ≥ 0")
	}
	return nil
}

// Configure implements tasks.Configurable.
func (g Generations) Configure(t config.Task) (tasks.Task, error) {
	g.Options = GenerationsOptions{BootEntries: DefaultBootEntries}
	err := tasks.DecodeOptions(t, &g.Options)
	return g, err
}

// TaskOptions implements tasks.Configurable.
func (g Generations) TaskOptions() any { return g.Options }

// Age is an option written as an age: "7d", "36h", "90m", "1d12h" or
// "2w" (see ParseAge).
type Age time.Duration

const allowedAge = `an age such as "7d", "36h", "90m" or "1d12h"`

// SetOption implements tasks.OptionValue.
func (a *Age) SetOption(raw any) error {
	s, ok := raw.(string)
	if !ok {
		return &tasks.Invalid{Msg: "not a string", Allowed: allowedAge}
	}
	d, err := ParseAge(s)
	if err != nil {
		return &tasks.Invalid{Msg: err.Error(), Allowed: allowedAge}
	}
	*a = Age(d)
	return nil
}

// OptionTOML implements tasks.OptionValue.
func (a *Age) OptionTOML() any { return formatAge(time.Duration(*a)) }

// policy: a generation goes when it is beyond the newest keep AND older
// than since (when set).
type policy struct {
	keep  int
	since time.Duration // 0: no age rule
}

func (p policy) String() string {
	s := fmt.Sprintf("keep %d", p.keep)
	if p.since > 0 {
		s += " and those younger than " + formatAge(p.since)
	}
	return s
}

// Run lists, chooses, deletes and collects garbage.
func (g Generations) Run(ctx context.Context, env *tasks.Env) error {
	pol, havePolicy := g.Options.policy()
	if havePolicy || env.Yes || env.DryRun || !env.Interactive() {
		// No question: the cleanup plan does not wait for this task.
		env.Cleanup.Withdraw(env.Name)
	}
	if env.Config == nil {
		return errNoConfig
	}
	if r, err := remoteOf(env); err != nil {
		return err
	} else if r != nil {
		return g.runRemote(ctx, env, r, pol, havePolicy)
	}
	env.Status("listing generations")
	gens, err := listGenerations(ctx, env)
	if err != nil {
		return err
	}
	if len(gens) == 0 {
		return tasks.Skip("the profile %s has no generations", env.Config.Profile)
	}
	if err := knownSystems(env); err != nil {
		return err
	}
	addSizes(ctx, env, gens)
	table := generationTable(gens)
	fmt.Fprintln(env.Log, table)

	if !slices.ContainsFunc(gens, func(g generation) bool { return !g.protected() }) {
		return tasks.Skip("nothing to delete: only the current and booted generations exist")
	}
	chosen, err := chooseGenerations(ctx, env, gens, pol, havePolicy)
	if err != nil {
		return err
	}
	chosen = stillDeletable(env, chosen)
	if len(chosen) == 0 {
		return tasks.Skip("nothing to delete")
	}
	return deleteGenerations(ctx, env, chosen, g.Options.BootEntries)
}

// PlanCleanup implements tasks.CleanupPlanner: the generations as they
// are before activation, those beyond the newest DefaultKeep proposed to
// go, so the plan can be answered while the new system builds. The
// generation activation adds is never in it; the one it replaces is
// shown as current and so never goes in this run. With a keep or
// keep_since policy there is nothing to ask.
func (g Generations) PlanCleanup(ctx context.Context, env *tasks.Env) (tasks.CleanupPlan, error) {
	if _, havePolicy := g.Options.policy(); havePolicy {
		return tasks.CleanupPlan{}, tasks.Skip("keep/keep_since set: cleaned without asking")
	}
	if env.Config == nil {
		return tasks.CleanupPlan{}, errNoConfig
	}
	if r, err := remoteOf(env); err != nil {
		return tasks.CleanupPlan{}, err
	} else if r != nil {
		return g.planRemote(ctx, env, r)
	}
	gens, err := listGenerations(ctx, env)
	if err != nil {
		return tasks.CleanupPlan{}, err
	}
	if err := knownSystems(env); err != nil {
		return tasks.CleanupPlan{}, err
	}
	if !slices.ContainsFunc(gens, func(g generation) bool { return !g.protected() }) {
		return tasks.CleanupPlan{}, tasks.Skip("nothing to delete: only the current and booted generations exist")
	}
	addSizes(ctx, env, gens)
	fmt.Fprintln(env.Log, generationTable(gens))
	plan, _ := generationPlan(gens, byPolicy(gens, policy{keep: DefaultKeep}, env.Now()))
	if env.Host != nil {
		plan.Title += " on " + env.Host.Name
	}
	return plan, nil
}

// chooseGenerations is the generations to delete: by the configured
// policy (the default one with --yes or --dry-run), or as the person picks
// them in the run's cleanup plan. Without a terminal nor a policy it is
// a skip.
func chooseGenerations(ctx context.Context, env *tasks.Env, gens []generation, pol policy, havePolicy bool) ([]generation, error) {
	switch {
	case havePolicy || env.Yes || env.DryRun:
		if !havePolicy {
			pol = policy{keep: DefaultKeep}
		}
		chosen := byPolicy(gens, pol, env.Now())
		fmt.Fprintf(env.Log, "policy: %s\n", pol)
		return chosen, nil
	case !env.Interactive():
		return nil, tasks.Skip("no terminal: nothing deleted (set keep or keep_since to clean up without asking)")
	}
	// One line per generation in the run's one cleanup plan: the
	// default policy's proposal, the protected ones shown as staying.
	plan, lines := generationPlan(gens, byPolicy(gens, policy{keep: DefaultKeep}, env.Now()))
	if env.Host != nil {
		plan.Title += " on " + env.Host.Name
	}
	picked, err := env.Cleanup.Submit(ctx, env, plan)
	if err != nil {
		return nil, err
	}
	var chosen []generation
	for _, i := range picked {
		if i >= 0 && i < len(lines) && !lines[i].protected() {
			chosen = append(chosen, lines[i])
		}
	}
	return chosen, nil
}

// deleteGenerations deletes the chosen generations, oldest first, and
// collects garbage; with --dry-run it only says so.
func deleteGenerations(ctx context.Context, env *tasks.Env, chosen []generation, bootEntries string) error {
	sort.Slice(chosen, func(i, j int) bool { return chosen[i].Number < chosen[j].Number })
	nums := make([]string, len(chosen))
	for i, g := range chosen {
		nums[i] = strconv.Itoa(g.Number)
	}
	if env.DryRun {
		env.Action("would delete generations %s, then collect garbage", strings.Join(nums, ", "))
		env.Stat("would regenerate the boot entries with switch-to-configuration boot of the current generation")
		return nil
	}

	env.Status("deleting generations %s", strings.Join(nums, ", "))
	args := append([]string{"nix-env", "-p", env.Config.Profile, "--delete-generations"}, nums...)
	if err := run(ctx, env, proc.Cmd{Args: args, Root: true}); err != nil {
		return err
	}
	env.Action("deleted generations %s", strings.Join(nums, ", "))
	// Before collecting: entries left for deleted generations would point
	// at store paths the collection removes.
	bootStat, err := regenerateBootEntries(ctx, env, bootEntries)
	if err != nil {
		return fmt.Errorf("deleted generations %s, but regenerating the boot entries failed, so garbage was not collected (the old entries still boot): %w", strings.Join(nums, ", "), err)
	}

	env.Status("collecting garbage")
	var gc gcResult
	if err := run(ctx, env, proc.Cmd{Args: []string{"nix-store", "--gc"}, Root: true, OnLine: gc.line}); err != nil {
		return err
	}
	if freed, paths, ok := gc.result(); ok {
		env.Stat("freed %s (%s)", freed, text.Plural(paths, "store path", "store paths"))
	} else {
		env.Stat("garbage collected")
	}
	env.Stat("%s", bootStat)
	return nil
}

// policy is the configured policy; havePolicy is false when neither
// keep nor keep_since is set.
func (o GenerationsOptions) policy() (p policy, havePolicy bool) {
	if o.Keep != nil {
		p.keep = *o.Keep
	}
	if o.KeepSince != nil {
		p.since = time.Duration(*o.KeepSince)
	}
	return p, o.Keep != nil || o.KeepSince != nil
}

// byPolicy returns the unprotected generations the policy deletes.
func byPolicy(gens []generation, p policy, now time.Time) []generation {
	sorted := append([]generation(nil), gens...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Number > sorted[j].Number })
	var out []generation
	for i, g := range sorted {
		switch {
		case g.protected(), i < p.keep:
		case p.since > 0 && now.Sub(g.Date) < p.since:
		default:
			out = append(out, g)
		}
	}
	return out
}

// knownSystems checks that the booted and the running system resolve to
// store paths: when one does not (a missing or dangling link, a mistyped
// path), the generation it is cannot be protected, so nothing may go.
func knownSystems(env *tasks.Env) error {
	for _, s := range []struct{ what, link string }{{"booted", env.Config.BootedSystem}, {"running", env.Config.CurrentSystem}} {
		if s.link == "" {
			return fmt.Errorf("cannot tell which generation is the %s one: no link configured; nothing deleted", s.what)
		}
		if _, err := filepath.EvalSymlinks(s.link); err != nil {
			return fmt.Errorf("cannot tell which generation is the %s one: %v; nothing deleted", s.what, err)
		}
	}
	return nil
}

// stillDeletable drops anything that became current, booted or running
// since the list was read: the last check before deleting. If the booted
// or running system no longer resolves, nothing is deletable.
func stillDeletable(env *tasks.Env, gens []generation) []generation {
	cur := currentGeneration(env.Config.Profile)
	booted, running := resolve(env.Config.BootedSystem), resolve(env.Config.CurrentSystem)
	if booted == "" || running == "" {
		return nil
	}
	var out []generation
	for _, g := range gens {
		if g.protected() || g.Number == cur || g.Path == "" || g.Path == booted || g.Path == running {
			continue
		}
		out = append(out, g)
	}
	return out
}

// addSizes fills in closure sizes with one `nix path-info -S --json`.
// Sizes are informative: a failure leaves them 0.
func addSizes(ctx context.Context, env *tasks.Env, gens []generation) {
	seen := map[string]bool{}
	var paths []string
	for _, g := range gens {
		if g.Path != "" && !seen[g.Path] {
			seen[g.Path] = true
			paths = append(paths, g.Path)
		}
	}
	if len(paths) == 0 {
		return
	}
	sizes, err := pathSizes(ctx, env, paths...)
	if err != nil {
		fmt.Fprintf(env.Log, "closure sizes: %v\n", err)
		return
	}
	for i := range gens {
		gens[i].Size = sizes[gens[i].Path]
	}
}

// generationPlan is the cleanup plan's part for the generations, newest
// first: goes are those the policy would delete; the protected ones stay
// whatever the answer. lines[i] is the plan's line i.
func generationPlan(gens []generation, goes []generation) (tasks.CleanupPlan, []generation) {
	plan := tasks.CleanupPlan{Title: "system generations"}
	var lines []generation
	for i := len(gens) - 1; i >= 0; i-- {
		g := gens[i]
		l := tasks.CleanupLine{Label: fmt.Sprintf("%d  %s", g.Number, g.Date.Format("2006-01-02 15:04")), Bytes: g.Size, Key: strconv.Itoa(g.Number)}
		if g.Size <= 0 {
			l.Bytes = -1
		}
		switch {
		case g.protected():
			l.Fixed, l.Reason = true, g.marks()+": never deleted"
		case slices.ContainsFunc(goes, func(x generation) bool { return x.Number == g.Number }):
			l.Goes, l.Reason = true, fmt.Sprintf("older than the newest %d", DefaultKeep)
		default:
			l.Reason = fmt.Sprintf("among the newest %d", DefaultKeep)
		}
		plan.Lines = append(plan.Lines, l)
		lines = append(lines, g)
	}
	return plan, lines
}

func generationLine(g generation) string {
	size := "?"
	if g.Size > 0 {
		size = humanBytes(g.Size)
	}
	line := fmt.Sprintf("%4d  %s  %10s", g.Number, g.Date.Format("2006-01-02 15:04"), size)
	if m := g.marks(); m != "" {
		line += "  " + m
	}
	return line
}

// generationTable lists every generation, newest first.
func generationTable(gens []generation) string {
	lines := make([]string, 0, len(gens))
	for i := len(gens) - 1; i >= 0; i-- {
		lines = append(lines, generationLine(gens[i]))
	}
	return strings.Join(lines, "\n")
}

// gcResult reads nix-store --gc's last line: "11 store paths deleted, 0.19 MiB freed".
type gcResult struct {
	mu    sync.Mutex
	freed string
	paths int
	ok    bool
}

var gcFreedRE = regexp.MustCompile(`(\d+) store paths deleted, ([0-9.]+ [KMGT]?i?B) freed`)

func (r *gcResult) line(l string) {
	if m := gcFreedRE.FindStringSubmatch(l); m != nil {
		r.mu.Lock()
		r.paths, _ = strconv.Atoi(m[1])
		r.freed, r.ok = m[2], true
		r.mu.Unlock()
	}
}

func (r *gcResult) result() (string, int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.freed, r.paths, r.ok
}

// ParseAge reads an age such as "7d", "36h", "90m", "2w" or "1d12h"
// (config.ParseAge: keep_since of a host and of the task read the same).
func ParseAge(s string) (time.Duration, error) { return config.ParseAge(s) }

// formatAge writes d in the largest whole units, e.g. "7d", "1d12h".
func formatAge(d time.Duration) string {
	var b strings.Builder
	for _, u := range []struct {
		s string
		d time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.s)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}
