package nixos

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// A dry run of the system chain says what a real run would do, the way
// `nixos-rebuild dry-build` and `dry-activate` do, and changes nothing:
// no lock file is written, nothing is built or fetched, no GC root is
// made, the profile and the boot default stay as they are.
//
//	flake-update  nix flake metadata --no-write-lock-file --recreate-lock-file
//	              (or --update-input X): which inputs would change
//	build         nix build --dry-run --no-write-lock-file with the same lock
//	              flags: what would be built and fetched, and the system's path
//	activate      <system>/bin/switch-to-configuration dry-activate, when that
//	              system is already in the store: which units would change

// dryLockFlags are the flags with which flake-update's dry run evaluated
// the flake, for build's dry run to evaluate the same updated inputs
// without writing the lock file.
var dryLockFlags = tasks.NewKey[[]string]("flake-update", "dry-lock-flags")

// maxListed is how many names a dry run's statistic lists; the task's log
// has the whole list.
const maxListed = 8

// lockFlags are the flags that update the inputs the way Run does.
func (u FlakeUpdate) lockFlags() []string {
	if len(u.Options.Inputs) == 0 {
		return []string{"--recreate-lock-file"}
	}
	var flags []string
	for _, in := range u.Options.Inputs {
		flags = append(flags, "--update-input", in)
	}
	return flags
}

// dryRun reports which inputs an update would change; Nix lists them in
// its warning that it is not writing the modified lock file.
func (u FlakeUpdate) dryRun(ctx context.Context, env *tasks.Env, dir string) error {
	flags := u.lockFlags()
	args := append([]string{"nix", "flake", "metadata", "--no-write-lock-file"}, flags...)
	args = append(args, dir)
	var changes lockChanges
	env.Status("checking which inputs would change")
	// Stdout is the flake's description; Nix's report is on stderr, read
	// line by line, whose last line (a lock URL) would be no status.
	if err := run(ctx, env, proc.Cmd{Args: args, Dir: dir, Stdout: io.Discard, OnLine: changes.line, Status: quiet}); err != nil {
		return err
	}
	dryLockFlags.Put(env, flags)
	got := changes.list()
	if len(got) == 0 {
		env.Stat("dry run: no input would change")
		return nil
	}
	for _, c := range got {
		env.Stat("dry run: input %s", strings.Replace(c, " updated", " would be updated", 1))
	}
	return nil
}

// dryRun evaluates the system and asks Nix what building it would take.
// It hands on a Built with NotBuilt set when something is missing, so
// activate knows there is nothing to dry-activate yet.
func (b Build) dryRun(ctx context.Context, env *tasks.Env, attr, dir string, r *remote, where buildWhere) error {
	args := []string{"nix", "build", "--dry-run", "--no-link", "--json", "--no-write-lock-file"}
	if flags, ok := dryLockFlags.Get(env); ok {
		args = append(args, flags...)
	}
	args = append(args, attr)
	if b.Options.Impure {
		args = append(args, "--impure")
	}
	args = append(args, where.args...)
	env.Status("evaluating %s", env.Config.Host)
	var m missing
	var stdout strings.Builder
	err := run(ctx, env, proc.Cmd{Args: args, Dir: dir, Env: slices.Concat(b.Options.Env, where.env), Stdout: &stdout, OnLine: m.line, Status: quiet})
	if err != nil {
		return err
	}
	out, err := parseBuildJSON([]byte(stdout.String()))
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.build) > 0 {
		env.Stat("dry run: would build %s: %s", text.Plural(len(m.build), "derivation", "derivations"), listNames(m.build))
	}
	if len(m.fetch) > 0 {
		env.Stat("dry run: would download %s (%s): %s", text.Plural(len(m.fetch), "path", "paths"), m.fetchSize, listNames(m.fetch))
	}
	if len(m.unknown) > 0 {
		env.Warn("nix does not know how to build %s: %s", text.Plural(len(m.unknown), "path", "paths"), listNames(m.unknown))
	}
	notBuilt := len(m.build)+len(m.fetch)+len(m.unknown) > 0
	if !notBuilt {
		env.Stat("dry run: nothing to build or download: %s is in the store", out)
	}
	var changed bool
	if r == nil {
		changed = notBuilt || resolve(env.Config.CurrentSystem) != out || resolve(env.Config.Profile) != out
	} else {
		ts, err := r.systems(ctx, env, false)
		if err != nil {
			fmt.Fprintf(env.Log, "whether %s runs it already is not known: %v\n", r.host.Name, err)
		}
		changed = notBuilt || err != nil || ts.Current != out || ts.Profile != out
	}
	if !changed {
		env.Stat("no changes")
	}
	BuiltKey.Put(env, Built{Out: out, Changed: changed, NotBuilt: notBuilt})
	return nil
}

// dryActivate runs switch-to-configuration dry-activate, which says which
// units switching would stop, start, restart and reload, and changes
// nothing. It needs the new system in the store: without it there is no
// switch-to-configuration to ask.
func (a Activate) dryActivate(ctx context.Context, env *tasks.Env, built Built) error {
	if built.NotBuilt {
		fmt.Fprintf(env.Log, "%s is not in the store: there is no switch-to-configuration to ask\n", built.Out)
		return tasks.Skip("dry run: the new system is not built yet, so it cannot be dry-activated (rebuild --only=build builds it)")
	}
	env.Status("switch-to-configuration dry-activate")
	var would wouldLines
	err := run(ctx, env, proc.Cmd{Args: []string{built.Out + "/bin/switch-to-configuration", "dry-activate"}, Root: true, OnLine: would.line})
	if err != nil {
		return fmt.Errorf("switch-to-configuration dry-activate: %w", err)
	}
	lines := would.list()
	if len(lines) == 0 {
		env.Stat("dry run: switching would change no units")
	}
	for _, l := range lines {
		env.Stat("dry run: %s", l)
	}
	return nil
}

// quiet keeps the status a dry run set: the commands' own last lines
// (lock URLs, store paths) tell the person nothing.
func quiet(string) {}

// missing collects Nix's report of what realising a path would take
// (Nix's printMissing, the same in 2.8 and later):
//
//	these 2 derivations will be built:     (or "this derivation will be built:")
//	  /nix/store/…-foo-1.2.drv
//	these 3 paths will be fetched (0.12 MiB download, 0.50 MiB unpacked):
//	  /nix/store/…-bar-2.0
//	don't know how to build these paths:
type missing struct {
	mu                    sync.Mutex
	build, fetch, unknown []string
	fetchSize             string
	into                  *[]string // the list the indented lines go to
}

var fetchHeadRE = regexp.MustCompile(`^(?:these \d+ paths|this path) will be fetched \(([^)]*)\):$`)

func (m *missing) line(l string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	trimmed := strings.TrimSpace(l)
	switch {
	case strings.HasPrefix(l, "  ") && strings.HasPrefix(trimmed, "/") && m.into != nil:
		*m.into = append(*m.into, trimmed)
	case trimmed == "this derivation will be built:" || (strings.HasPrefix(trimmed, "these ") && strings.HasSuffix(trimmed, " derivations will be built:")):
		m.into = &m.build
	case fetchHeadRE.MatchString(trimmed):
		m.fetchSize = fetchHeadRE.FindStringSubmatch(trimmed)[1]
		m.into = &m.fetch
	case strings.HasPrefix(trimmed, "don't know how to build these paths"):
		m.into = &m.unknown
	default:
		m.into = nil
	}
}

// listNames is the store paths' names without the store directory, hash
// and .drv, comma-separated, the first maxListed of them.
func listNames(paths []string) string {
	names := make([]string, 0, min(len(paths), maxListed))
	for i, p := range paths {
		if i == maxListed {
			names = append(names, fmt.Sprintf("… %d more (all in the log)", len(paths)-maxListed))
			break
		}
		names = append(names, storeName(p))
	}
	return strings.Join(names, ", ")
}

// wouldLines collects switch-to-configuration dry-activate's report, the
// lines that begin with "would" ("would stop the following units: …",
// "would restart systemd", "would activate the configuration...").
type wouldLines struct {
	mu    sync.Mutex
	lines []string
}

func (w *wouldLines) line(l string) {
	l = strings.TrimSpace(l)
	if !strings.HasPrefix(l, "would ") {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, l)
}

func (w *wouldLines) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}
