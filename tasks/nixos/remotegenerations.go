package nixos

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// The system profile's generations on a target, read and deleted over
// ssh as listGenerations and deleteGenerations do here: the profile's
// <profile>-N-link links (a generation's date is its link's mtime), the
// booted and running systems resolved there, `nix-env --delete-generations`,
// the boot entries regenerated with the current generation's
// switch-to-configuration boot, then `nix-store --gc`. The current, booted
// and running generations are never deleted: the deletion itself checks
// them again on the target, just before deleting.

// listGenerationsScript lists profile $1's generations with the running
// ($2) and booted ($3) systems, one fact a line, tab-separated:
//
//	current <the profile's link, e.g. system-42-link>
//	running <store path, "" when it does not resolve>
//	booted  <store path, "">
//	gen     <link name> <mtime, seconds> <store path, "">
const listGenerationsScript = `profile=$1
dir=$(dirname "$profile") base=$(basename "$profile")
printf 'current\t%s\n' "$(readlink "$profile" 2>/dev/null)"
printf 'running\t%s\n' "$(readlink -e "$2" 2>/dev/null)"
printf 'booted\t%s\n' "$(readlink -e "$3" 2>/dev/null)"
for l in "$dir/$base"-*-link; do
  [ -L "$l" ] || continue
  printf 'gen\t%s\t%s\t%s\n' "$(basename "$l")" "$(stat -c %Y "$l")" "$(readlink -e "$l" 2>/dev/null)"
done
`

// remoteGenerations is the target's generations, oldest first, and
// whether its running and booted systems resolve (when one does not,
// which generation it is cannot be told and nothing may be deleted).
func (r *remote) generations(ctx context.Context, env *tasks.Env) (gens []generation, known error, err error) {
	c := env.Config
	out, err := r.output(ctx, env, remoteCmd{script: listGenerationsScript, argv: []string{c.Profile, c.CurrentSystem, c.BootedSystem},
		what: "list the generations of " + c.Profile})
	if err != nil {
		return nil, nil, err
	}
	gens, running, booted, err := parseRemoteGenerations(out, path.Base(c.Profile))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r, err)
	}
	switch {
	case booted == "":
		known = fmt.Errorf("cannot tell which generation is the booted one on %s: %s does not resolve there; nothing deleted", r.host.Name, c.BootedSystem)
	case running == "":
		known = fmt.Errorf("cannot tell which generation is the running one on %s: %s does not resolve there; nothing deleted", r.host.Name, c.CurrentSystem)
	}
	return gens, known, nil
}

// parseRemoteGenerations reads listGenerationsScript's output for the
// profile named base.
func parseRemoteGenerations(out, base string) (gens []generation, running, booted string, err error) {
	cur := ""
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		switch {
		case f[0] == "current" && len(f) == 2:
			cur = f[1]
		case f[0] == "running" && len(f) == 2:
			running = f[1]
		case f[0] == "booted" && len(f) == 2:
			booted = f[1]
		case f[0] == "gen" && len(f) == 4:
			n, err := parseLinkName(base, f[1])
			if err != nil || n <= 0 {
				continue
			}
			secs, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				return nil, "", "", fmt.Errorf("listing the generations: unexpected line %q", line)
			}
			gens = append(gens, generation{Number: n, Date: time.Unix(secs, 0), Path: f[3], Current: f[1] == path.Base(cur)})
		case line == "":
		default:
			return nil, "", "", fmt.Errorf("listing the generations: unexpected line %q", line)
		}
	}
	for i := range gens {
		g := &gens[i]
		g.Running = g.Path != "" && g.Path == running
		g.Booted = g.Path != "" && g.Path == booted
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i].Number < gens[j].Number })
	return gens, running, booted, nil
}

// addSizes fills in closure sizes with one `nix path-info -S --json` on
// the target. Sizes are informative: a failure leaves them 0.
func (r *remote) addSizes(ctx context.Context, env *tasks.Env, gens []generation) {
	var paths []string
	for _, g := range gens {
		if g.Path != "" && !slices.Contains(paths, g.Path) {
			paths = append(paths, g.Path)
		}
	}
	if len(paths) == 0 {
		return
	}
	sizes, err := r.pathSizes(ctx, env, paths...)
	if err != nil {
		fmt.Fprintf(env.Log, "closure sizes: %v\n", err)
		return
	}
	for i := range gens {
		gens[i].Size = sizes[gens[i].Path]
	}
}

// pathSizes is pathSizes on the target.
func (r *remote) pathSizes(ctx context.Context, env *tasks.Env, paths ...string) (map[string]int64, error) {
	out, err := r.output(ctx, env, remoteCmd{argv: nixArgv(append([]string{"path-info", "-S", "--json"}, paths...)...)})
	if err != nil {
		return nil, err
	}
	return parsePathSizes(out)
}

// deleteGenerationsScript deletes generations $4… of profile $1, each
// only if it is not, now, the profile's current generation, nor the
// running ($2) or booted ($3) system, whose links must resolve. It prints
// the numbers it deleted.
const deleteGenerationsScript = `profile=$1 running=$2 booted=$3; shift 3
run=$(readlink -e "$running") && boot=$(readlink -e "$booted") || {
  echo "cannot tell which generation is the running or the booted one: nothing deleted" >&2; exit 3; }
cur=$(readlink "$profile") base=$(basename "$profile") del=
for n in "$@"; do
  p=$(readlink -e "$profile-$n-link") || continue
  if [ "$base-$n-link" = "$(basename "$cur")" ] || [ "$p" = "$run" ] || [ "$p" = "$boot" ]; then
    echo "kept generation $n: it is now the current, running or booted one" >&2; continue
  fi
  del="$del $n"
done
if [ -n "$del" ]; then nix-env -p "$profile" --delete-generations $del || exit 1; fi
echo "deleted:$del"
`

// bootEntriesScript runs switch-to-configuration boot of profile $1's
// current generation and prints how many NixOS entries $2 had before and
// after ("-" when it cannot be read).
const bootEntriesScript = `sys=$(readlink -e "$1") || { echo "the profile $1 does not resolve" >&2; exit 1; }
count() { if [ -d "$1" ]; then ls "$1" | grep -c '^nixos-.*\.conf$'; else echo -; fi; }
before=$(count "$2")
"$sys/bin/switch-to-configuration" boot >&2 || exit $?
echo "entries $before $(count "$2")"
`

// deleteGenerations is deleteGenerations on the target; with --dry-run
// it only says so.
func (r *remote) deleteGenerations(ctx context.Context, env *tasks.Env, chosen []generation, bootEntries string) error {
	sort.Slice(chosen, func(i, j int) bool { return chosen[i].Number < chosen[j].Number })
	nums := make([]string, len(chosen))
	for i, g := range chosen {
		nums[i] = strconv.Itoa(g.Number)
	}
	if env.DryRun {
		env.Action("would delete generations %s on %s, then collect garbage there", strings.Join(nums, ", "), r.host.Name)
		env.Stat("would regenerate the boot entries with switch-to-configuration boot of the current generation")
		return nil
	}
	c := env.Config
	env.Status("deleting generations %s on %s", strings.Join(nums, ", "), r.host.Name)
	out, err := r.output(ctx, env, remoteCmd{script: deleteGenerationsScript, argv: append([]string{c.Profile, c.CurrentSystem, c.BootedSystem}, nums...),
		root: true, what: "nix-env -p " + c.Profile + " --delete-generations " + strings.Join(nums, " ")})
	if err != nil {
		return err
	}
	deleted := strings.Fields(strings.TrimPrefix(strings.TrimSpace(out), "deleted:"))
	if len(deleted) == 0 {
		return tasks.Skip("nothing to delete on %s: the chosen generations became current, running or booted", r.host.Name)
	}
	env.Action("deleted generations %s on %s", strings.Join(deleted, ", "), r.host.Name)

	env.Status("regenerating the boot entries on %s", r.host.Name)
	out, err = r.output(ctx, env, remoteCmd{script: bootEntriesScript, argv: []string{c.Profile, bootEntries}, root: true,
		what: "switch-to-configuration boot of the current generation of " + c.Profile})
	if err != nil {
		return fmt.Errorf("deleted generations %s on %s, but regenerating the boot entries failed, so garbage was not collected (the old entries still boot): %w",
			strings.Join(deleted, ", "), r.host.Name, err)
	}
	bootStat := fmt.Sprintf("boot entries regenerated (%s cannot be read to count them)", bootEntries)
	var before, after int
	if n, _ := fmt.Sscanf(strings.TrimSpace(out), "entries %d %d", &before, &after); n == 2 {
		bootStat = fmt.Sprintf("boot entries regenerated: %s removed", text.Plural(max(before-after, 0), "entry", "entries"))
	}

	env.Status("collecting garbage on %s", r.host.Name)
	var gc gcResult
	if err := r.run(ctx, env, remoteCmd{argv: []string{"nix-store", "--gc"}, root: true, onLine: gc.line}); err != nil {
		return err
	}
	if freed, paths, ok := gc.result(); ok {
		env.Stat("freed %s on %s (%s)", freed, r.host.Name, text.Plural(paths, "store path", "store paths"))
	} else {
		env.Stat("garbage collected on %s", r.host.Name)
	}
	env.Stat("%s", bootStat)
	return nil
}

// runRemote is Generations.Run for a target.
func (g Generations) runRemote(ctx context.Context, env *tasks.Env, r *remote, pol policy, havePolicy bool) error {
	env.Status("listing generations on %s", r.host.Name)
	gens, known, err := r.generations(ctx, env)
	if err != nil {
		return err
	}
	if len(gens) == 0 {
		return tasks.Skip("the profile %s has no generations on %s", env.Config.Profile, r.host.Name)
	}
	if known != nil {
		return known
	}
	r.addSizes(ctx, env, gens)
	fmt.Fprintln(env.Log, generationTable(gens))
	if !slices.ContainsFunc(gens, func(g generation) bool { return !g.protected() }) {
		return tasks.Skip("nothing to delete on %s: only the current and booted generations exist", r.host.Name)
	}
	chosen, err := chooseGenerations(ctx, env, gens, pol, havePolicy)
	if err != nil {
		return err
	}
	if len(chosen) == 0 {
		return tasks.Skip("nothing to delete")
	}
	unlock, err := r.lockForCleanup(ctx, env)
	if err != nil {
		return err
	}
	defer unlock()
	return r.deleteGenerations(ctx, env, chosen, g.Options.BootEntries)
}

// planRemote is PlanCleanup for a target.
func (g Generations) planRemote(ctx context.Context, env *tasks.Env, r *remote) (tasks.CleanupPlan, error) {
	gens, known, err := r.generations(ctx, env)
	if err != nil {
		return tasks.CleanupPlan{}, err
	}
	if known != nil {
		return tasks.CleanupPlan{}, known
	}
	if !slices.ContainsFunc(gens, func(g generation) bool { return !g.protected() }) {
		return tasks.CleanupPlan{}, tasks.Skip("nothing to delete on %s: only the current and booted generations exist", r.host.Name)
	}
	r.addSizes(ctx, env, gens)
	fmt.Fprintln(env.Log, generationTable(gens))
	plan, _ := generationPlan(gens, byPolicy(gens, policy{keep: DefaultKeep}, env.Now()))
	plan.Title += " on " + r.host.Name
	return plan, nil
}
