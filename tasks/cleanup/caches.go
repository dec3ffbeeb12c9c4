package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sourcegraph/conc/pool"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// CachesOptions are the options of [task.caches].
//
// A path in paths that does not exist or is empty is left out. A path
// that is ~ itself, "/", a folder containing the home directory, or
// outside the home directory is refused: when it was configured the task
// fails naming the key and nothing is deleted (a default one is only
// warned about). Each folder is resolved with its symlinks first, and
// the rules apply to where it really is.
//
// The tools' own commands, with tools = true: uv cache clean --cache-dir
// DIR (for …/uv), npm cache clean --force --cache DIR (for ~/.npm), yarn
// cache clean --cache-folder DIR (for …/yarn), pnpm store prune
// --store-dir DIR (for a pnpm store, …/pnpm/store); each is given the
// listed folder, resolved and checked again just before the command
// runs (a folder replaced since the table, by a link or another folder,
// is not cleaned), so it cannot clean another one. Otherwise (and when the
// command fails) the folder's contents are removed: the entries listed,
// each only if it is still what was listed (a file replaced by a folder
// stays, with a warning), never following a symlink (a link is removed as a link, its target is
// left alone), never leaving the folder's file system, never entering a mount point.
//
// Without a terminal and without --yes, with policy "ask", nothing is
// deleted and the task is skipped at once. --yes cleans every listed
// cache. --dry-run lists each cache and exactly the entries (or the
// command) that would go, and deletes nothing. Bytes freed are measured
// by sizing each cache again afterwards.
type CachesOptions struct {
	Paths            []string `option:"paths" doc:"the cache folders"`
	AllowOutsideHome []string `option:"allow_outside_home" doc:"folders outside the home directory that may be cleaned; each must also be in paths"`
	Policy           string   `option:"policy" doc:"\"ask\": show the table and ask (without a terminal: clean nothing); \"clean\": clean every listed cache without asking; \"skip\": clean nothing"`
	Tools            bool     `option:"tools" doc:"clean with the tool's own command when it is installed (uv, npm, yarn, pnpm)"`
	Given            tasks.Given
}

// DefaultCachesOptions are caches' defaults.
func DefaultCachesOptions() CachesOptions {
	return CachesOptions{Paths: append([]string{}, DefaultCaches...), AllowOutsideHome: []string{}, Policy: "ask", Tools: true}
}

// Check refuses an unknown policy.
func (o CachesOptions) Check() error { return tasks.OneOf("policy", o.Policy, "ask", "clean", "skip") }

// DefaultCaches is the default list of cache folders.
var DefaultCaches = []string{"~/.cache/uv", "~/.cache/google-chrome", "~/.cache/chromium", "~/.cache/yarn", "~/.cache/ms-playwright", "~/.cache/pnpm", "~/.npm"}

// Caches is the caches task.
type Caches struct {
	// LookPath finds a tool's program; exec.LookPath when nil.
	LookPath func(file string) (string, error)
	Options  CachesOptions
}

// Configure implements tasks.Configurable.
func (c *Caches) Configure(t config.Task) (tasks.Task, error) {
	cp := *c
	cp.Options = DefaultCachesOptions()
	err := tasks.DecodeOptions(t, &cp.Options)
	return &cp, err
}

// TaskOptions implements tasks.Configurable.
func (c *Caches) TaskOptions() any { return c.Options }

// cache is one cache folder, checked and sized.
type cache struct {
	given   string // as configured
	root    *fsutil.Root
	entries []fsutil.Listed // what is in it, listed before asking: what may go
	before  fsutil.Usage
	// tool is the clean command, when a tool cleans it; its last
	// argument is the folder, replaced by the rechecked path at run time.
	tool    []string
	problem error // sizing trouble, shown with the table
}

func (c *cache) how() string {
	if c.tool != nil {
		return proc.CommandLine(c.tool)
	}
	return "remove contents"
}

// Run sizes every configured cache in parallel, shows a table with the
// total, asks once (or per cache, when the person picks "d") and cleans
// what was agreed to. See CachesOptions.
func (c *Caches) Run(ctx context.Context, env *tasks.Env) error {
	o := c.Options
	paths, policy := o.Paths, o.Policy
	if policy != "ask" || env.Yes || env.DryRun || !env.Interactive() {
		// No question: the cleanup plan does not wait for this task.
		env.Cleanup.Withdraw(env.Name)
	}
	if policy == "skip" {
		return tasks.Skip("policy = \"skip\": no cache cleaned")
	}

	caches, err := c.open(env, paths, o.Given.Has("paths"), o.AllowOutsideHome, o.Tools)
	if err != nil {
		return err
	}
	if !env.DryRun && policy == "ask" && !env.Interactive() && !env.Yes {
		return tasks.Skip("no terminal: no cache cleaned (--yes or [task.caches] policy = \"clean\" cleans without asking)")
	}
	if len(caches) == 0 {
		return tasks.Skip("no cache folder found (%s)", strings.Join(paths, ", "))
	}

	caches, err = sizeCaches(ctx, env, caches)
	if err != nil {
		return err
	}
	if len(caches) == 0 {
		return tasks.Skip("nothing to clean: every cache folder is empty")
	}
	var total int64
	for _, ca := range caches {
		total += ca.before.Bytes
	}
	showCaches(env, caches, policy == "ask" && !env.Yes && !env.DryRun)

	if env.DryRun {
		return c.dryRun(ctx, env, caches, total)
	}
	chosen, err := chooseCaches(ctx, env, caches, policy, total)
	if err != nil {
		return err
	}
	return c.clean(ctx, env, chosen)
}

// sizeCaches lists and sizes every cache in parallel and leaves out those
// that are empty (and could be read).
func sizeCaches(ctx context.Context, env *tasks.Env, caches []*cache) ([]*cache, error) {
	env.Status("sizing %s", text.Plural(len(caches), "cache", "caches"))
	g := pool.New() // a panic comes back here, to the scheduler's recovery
	for _, ca := range caches {
		g.Go(func() { ca.before, ca.entries, ca.problem = measure(ctx, ca.root) })
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(caches, func(ca *cache) bool {
		if len(ca.entries) == 0 && ca.problem == nil {
			fmt.Fprintf(env.Log, "%s is empty\n", fsutil.Tilde(env.Home, ca.root.Path))
			return true
		}
		return false
	}), nil
}

// showCaches shows the table of caches, only in the log when the person
// will see them in the cleanup plan (asks), and warns of sizing trouble.
func showCaches(env *tasks.Env, caches []*cache, asks bool) {
	if asks {
		// The person sees the caches in the one cleanup plan.
		fmt.Fprintln(env.Log, fsutil.Table(cacheRows(env, caches)))
	} else {
		env.ShowTable(cacheRows(env, caches), 1, "")
	}
	for _, ca := range caches {
		if ca.problem != nil {
			env.Warn("caches: %s: %v", fsutil.Tilde(env.Home, ca.root.Path), ca.problem)
		}
	}
}

// chooseCaches is the caches to clean: every one with policy "clean" or
// --yes, else those the person agrees to (none: declined).
func chooseCaches(ctx context.Context, env *tasks.Env, caches []*cache, policy string, total int64) ([]*cache, error) {
	switch {
	case policy == "clean":
		fmt.Fprintln(env.Log, "policy = \"clean\": cleaning every cache listed")
		return caches, nil
	case env.Yes:
		fmt.Fprintln(env.Log, "--yes: cleaning every cache listed")
		return caches, nil
	}
	chosen, err := ask(ctx, env, caches)
	if err != nil {
		return nil, err
	}
	if len(chosen) == 0 {
		return nil, tasks.Decline("kept every cache (%s)", fsutil.FormatBytes(total))
	}
	return chosen, nil
}

// open checks every path before anything else happens: a refused path
// that was configured fails the task, so a mistake in the configuration
// is never half-applied.
func (c *Caches) open(env *tasks.Env, paths []string, configured bool, outside []string, useTools bool) ([]*cache, error) {
	guard := fsutil.Guard{Home: env.Home}
	allowed := map[string]bool{}
	for _, o := range outside {
		allowed[filepath.Clean(env.Expand(o))] = true
	}
	var out []*cache
	var refused []string
	for _, given := range paths {
		p := filepath.Clean(env.Expand(given))
		root, err := guard.Open(p, allowed[p])
		var re *fsutil.RootError
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(env.Log, "%s does not exist\n", fsutil.Tilde(env.Home, p))
			continue
		case errors.As(err, &re) && configured:
			msg := err.Error()
			if re.Outside {
				msg += fmt.Sprintf("; to clean it anyway, list %q in task.caches.allow_outside_home too", given)
			}
			refused = append(refused, msg)
			continue
		default:
			// A default path that resolves somewhere it may not be
			// cleaned (a link out of the home): say so, clean the rest.
			env.Warn("caches: %v", err)
			continue
		}
		if dup := slices.IndexFunc(out, func(o *cache) bool {
			return o.root.Real == root.Real || strings.HasPrefix(root.Real, o.root.Real+"/") || strings.HasPrefix(o.root.Real, root.Real+"/")
		}); dup >= 0 {
			fmt.Fprintf(env.Log, "%s overlaps %s: left out, so nothing is counted or cleaned twice\n", fsutil.Tilde(env.Home, p), fsutil.Tilde(env.Home, out[dup].root.Path))
			continue
		}
		ca := &cache{given: given, root: root}
		if useTools {
			ca.tool = c.toolFor(root.Real)
		}
		out = append(out, ca)
	}
	if len(refused) > 0 {
		file := c.Options.Given.Source("paths")
		return nil, fmt.Errorf("%s: task.caches.paths: %s; nothing was deleted", file, strings.Join(refused, "; "))
	}
	return out, nil
}

// toolFor returns the command that cleans the cache at dir, when its tool
// is installed and knows how to clean exactly that folder. dir is the
// last argument: clean puts the path it checked again there.
func (c *Caches) toolFor(dir string) []string {
	look := c.LookPath
	if look == nil {
		look = exec.LookPath
	}
	base, parent := filepath.Base(dir), filepath.Base(filepath.Dir(dir))
	var args []string
	switch {
	case base == "uv":
		args = []string{"uv", "cache", "clean", "--cache-dir", dir}
	case base == ".npm":
		args = []string{"npm", "cache", "clean", "--force", "--cache", dir}
	case base == "yarn":
		args = []string{"yarn", "cache", "clean", "--cache-folder", dir}
	case base == "store" && parent == "pnpm":
		args = []string{"pnpm", "store", "prune", "--store-dir", dir}
	default:
		return nil
	}
	prog, err := look(args[0])
	if err != nil {
		return nil
	}
	args[0] = prog
	return args
}

// measure lists a cache's entries and sizes them: the apparent size of
// everything inside, the folder itself not counted (it stays).
func measure(ctx context.Context, root *fsutil.Root) (fsutil.Usage, []fsutil.Listed, error) {
	entries, err := root.List()
	if err != nil {
		return fsutil.Usage{}, nil, err
	}
	u, err := contentsSize(ctx, root)
	return u, entries, err
}

// contentsSize is the size of everything inside root.
func contentsSize(ctx context.Context, root *fsutil.Root) (fsutil.Usage, error) {
	u, res, err := fsutil.Size(ctx, root.Real, fsutil.Options{})
	if err != nil {
		return u, err
	}
	if fi, err := os.Lstat(root.Real); err == nil {
		u.Bytes -= fi.Size()
		u.Dirs--
	}
	if res.ErrorCount > 0 {
		return u, fmt.Errorf("could not read %s: %s", text.Plural(res.ErrorCount, "path", "paths"), fsutil.FirstErrors(res.Errors, res.ErrorCount, 2))
	}
	return u, nil
}

// cacheRows are the caches as a table's rows: a header, a row each, a total.
func cacheRows(env *tasks.Env, caches []*cache) [][]string {
	rows := [][]string{{"cache", "size", "files", "how"}}
	var total, files int64
	for _, ca := range caches {
		rows = append(rows, []string{fsutil.Tilde(env.Home, ca.root.Path), fsutil.FormatBytes(ca.before.Bytes), fmt.Sprint(ca.before.Files), ca.how()})
		total += ca.before.Bytes
		files += ca.before.Files
	}
	return append(rows, []string{"total", fsutil.FormatBytes(total), fmt.Sprint(files)})
}

// ask puts every cache in the run's one cleanup plan, each proposed to
// go, and returns those the person agreed to. Without a terminal the
// answer is "no".
func ask(ctx context.Context, env *tasks.Env, caches []*cache) ([]*cache, error) {
	plan := tasks.CleanupPlan{Title: "tool caches"}
	for _, ca := range caches {
		plan.Lines = append(plan.Lines, tasks.CleanupLine{
			Label: fsutil.Tilde(env.Home, ca.root.Path), Bytes: ca.before.Bytes, Goes: true,
			Reason: fmt.Sprintf("a cache, refilled on demand (%s files; %s)", fmt.Sprint(ca.before.Files), ca.how()),
		})
	}
	picked, err := env.Cleanup.Submit(ctx, env, plan)
	if err != nil {
		return nil, err
	}
	var out []*cache
	for _, i := range picked {
		if i >= 0 && i < len(caches) {
			out = append(out, caches[i])
		}
	}
	return out, nil
}

// dryRun lists exactly what would go, and deletes nothing.
func (c *Caches) dryRun(ctx context.Context, env *tasks.Env, caches []*cache, total int64) error {
	var b strings.Builder
	for _, ca := range caches {
		if ca.tool != nil {
			fmt.Fprintf(&b, "would run: %s\n", proc.CommandLine(ca.tool))
			continue
		}
		out, err := ca.root.RemoveListed(ctx, ca.entries, true)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "would delete from %s:\n", fsutil.Tilde(env.Home, ca.root.Path))
		for _, r := range out.Removed {
			fmt.Fprintf(&b, "  %s  (%s)\n", fsutil.Tilde(env.Home, r.Path), fsutil.FormatBytes(r.Bytes))
		}
		for _, e := range out.Errors {
			fmt.Fprintf(&b, "  would fail: %v\n", e)
		}
	}
	env.Show(b.String())
	env.Stat("dry run: would clean %s and free up to %s", text.Plural(len(caches), "cache", "caches"), fsutil.FormatBytes(total))
	return nil
}

// clean cleans each chosen cache (the tool's command, else removing the
// entries listed), then sizes it again: freed is what is gone.
func (c *Caches) clean(ctx context.Context, env *tasks.Env, chosen []*cache) error {
	runner := env.Runner
	if runner == nil {
		runner = &proc.Runner{}
	}
	var freed int64
	var cleaned []string
	// One cache at a time keeps the tools' output apart in the log.
	for _, ca := range chosen {
		if err := ctx.Err(); err != nil {
			return err
		}
		where := fsutil.Tilde(env.Home, ca.root.Path)
		env.Status("cleaning %s", where)
		removed := false
		if ca.tool != nil {
			// The tool resolves the path itself, later: what it is handed
			// must still be the folder the table showed, as it is now.
			dir, err := ca.root.Recheck()
			if err != nil {
				env.Warn("caches: %s not cleaned: %v", where, fsutil.TildeErrors(env.Home, []error{err})[0])
				continue
			}
			args := append(slices.Clone(ca.tool[:len(ca.tool)-1]), dir)
			err = runner.Run(ctx, proc.Cmd{Args: args, Dir: dir, Log: env.Log, Status: env.StatusFunc()})
			if err == nil {
				removed = true
			} else if ctx.Err() != nil {
				return ctx.Err()
			} else {
				env.Warn("caches: %s failed, removing the contents of %s instead: %v", proc.CommandLine(ca.tool[:1]), where, err)
			}
		}
		if !removed {
			out, err := ca.root.RemoveListed(ctx, ca.entries, false)
			if err != nil {
				return err
			}
			for _, r := range out.Removed {
				fmt.Fprintf(env.Log, "deleted %s (%s)\n", fsutil.Tilde(env.Home, r.Path), fsutil.FormatBytes(r.Bytes))
			}
			if len(out.Errors) > 0 {
				env.Warn("caches: %s: could not delete %s: %s", where, text.Plural(len(out.Errors), "entry", "entries"), fsutil.FirstErrors(fsutil.TildeErrors(env.Home, out.Errors), len(out.Errors), 3))
			}
		}
		after, err := contentsSize(ctx, ca.root)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		f := max(ca.before.Bytes-after.Bytes, 0)
		fmt.Fprintf(env.Log, "%s: %s before, %s after, freed %s\n", where, fsutil.FormatBytes(ca.before.Bytes), fsutil.FormatBytes(after.Bytes), fsutil.FormatBytes(f))
		freed += f
		cleaned = append(cleaned, where)
	}
	env.Action("freed %s from %s (%s)", fsutil.FormatBytes(freed), text.Plural(len(cleaned), "cache", "caches"), strings.Join(cleaned, ", "))
	return nil
}
