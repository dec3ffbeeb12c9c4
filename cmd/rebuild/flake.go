package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/exitcode"
)

// The flake of a run is looked for in this order, as nh and nixos-rebuild
// users expect: --flake, the configuration's flake (a file or
// REBUILD_FLAKE), NH_OS_FLAKE, NH_FLAKE, /etc/nixos when it holds a
// flake.nix, and last the built-in default, ~/nixos-config, when it holds
// one. A place that is set must hold a flake: a typo in --flake or
// NH_FLAKE is an error, never a reason to build another flake found
// further down. The first three are the configuration's own layers, so
// only the one that won is looked at.

// flakeLookup is where a run's flake was looked for, and what was found.
type flakeLookup struct {
	// Ref is the flake found: a directory, or a reference Nix resolves
	// (github:…, git+file://…); "" when there is none.
	Ref string
	// From names where Ref was found ("NH_FLAKE", "/etc/nixos", …).
	From string
	// Looked lists every place looked at, in order, with what was there.
	Looked []lookedAt
	// Err says why there is no flake: a place that is set points at
	// nothing, or nothing is set and nothing was found.
	Err error
}

// lookedAt is one place the flake was looked for.
type lookedAt struct{ place, found string }

// flakeError is a flake that cannot be used: exit 2, nothing started.
type flakeError struct{ msg string }

func (e *flakeError) Error() string { return e.msg }

// ExitCode is exitcode.Usage: the configuration (or the machine) is at fault.
func (e *flakeError) ExitCode() int { return exitcode.Usage }

// lookupFlake finds the flake of a run with configuration cfg on sys.
// userFile is the configuration file the user would write flake in.
func lookupFlake(sys *System, cfg *config.Config, userFile string) flakeLookup {
	var l flakeLookup
	// set is a place the user set: what it names must be a flake.
	set := func(place, ref string) {
		ref = absFlake(expandHome(ref, sys.Home))
		if problem := checkFlake(ref); problem != "" {
			l.Looked = append(l.Looked, lookedAt{place, ref + " " + problem})
			l.Err = &flakeError{fmt.Sprintf("the flake set by %s, %s, %s", place, ref, problem)}
			return
		}
		l.Ref, l.From = ref, place
		l.Looked = append(l.Looked, lookedAt{place, ref})
	}
	// found is a place looked at on the off chance: used when it holds a flake.nix.
	found := func(place, dir string) bool {
		problem := checkFlake(dir)
		if problem != "" {
			l.Looked = append(l.Looked, lookedAt{place, problem})
			return false
		}
		l.Ref, l.From = dir, place
		l.Looked = append(l.Looked, lookedAt{place, dir})
		return true
	}

	// The flag layer names the flag ("flag --flake") when it knows it.
	flagPrefix := config.FlagSource("")
	switch src := cfg.FlakeSource; {
	case src == config.SourceFlags || strings.HasPrefix(src, flagPrefix):
		set("--flake", cfg.Flake)
		return l
	case src == config.SourceEnvironment:
		l.Looked = append(l.Looked, lookedAt{"--flake", "not given"})
		set(config.EnvName("flake"), cfg.Flake)
		return l
	case src == "":
		l.Looked = append(l.Looked, lookedAt{"--flake", "not given"},
			lookedAt{"flake in the configuration", "not set in " + configPlaces(cfg, userFile) + " nor " + config.EnvName("flake")})
	default:
		l.Looked = append(l.Looked, lookedAt{"--flake", "not given"})
		set("flake in "+src, cfg.Flake)
		return l
	}
	for _, name := range []string{"NH_OS_FLAKE", "NH_FLAKE"} {
		if v := sys.Getenv(name); v != "" {
			set(name, v)
			return l
		}
		l.Looked = append(l.Looked, lookedAt{name, "not set"})
	}
	if sys.NixosDir != "" && found(sys.NixosDir, sys.NixosDir) {
		return l
	}
	if found("the built-in default "+tildeHome(cfg.Flake, sys.Home), cfg.Flake) {
		return l
	}
	l.Err = &flakeError{noFlakeMessage(l.Looked, userFile, sys.Home)}
	return l
}

// checkFlake says what is wrong with ref as a flake ("" when nothing is).
// Only a local directory can be checked here; a reference such as
// github:owner/repo or git+file:///… is Nix's to resolve (see checkHost).
func checkFlake(ref string) string {
	dir, local := localFlakeDir(ref)
	if !local {
		return ""
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case err != nil:
		return fmt.Sprintf("cannot be read (%v)", err)
	case !st.IsDir():
		return "is not a directory"
	}
	if _, err := os.Stat(filepath.Join(dir, "flake.nix")); err != nil {
		return "has no flake.nix"
	}
	return ""
}

// absFlake makes a flake that is a plain path absolute: Nix reads a bare
// word as a name in its registry, and the tasks run in other folders.
func absFlake(ref string) string {
	if strings.HasPrefix(ref, "path:") {
		return ref
	}
	if dir, local := localFlakeDir(ref); local {
		if abs, err := filepath.Abs(dir); err == nil {
			return abs
		}
	}
	return ref
}

// localFlakeDir is the directory of a flake reference that names one:
// a path, or path:/dir.
func localFlakeDir(ref string) (string, bool) {
	if rest, ok := strings.CutPrefix(ref, "path:"); ok {
		rest, _, _ = strings.Cut(rest, "?")
		return rest, strings.HasPrefix(rest, "/")
	}
	if !strings.Contains(ref, ":") || strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, ".") {
		return ref, true
	}
	return "", false
}

// configPlaces names the configuration files that could have set flake.
func configPlaces(cfg *config.Config, userFile string) string {
	files := append([]string(nil), cfg.Sources...)
	if len(files) == 0 && userFile != "" {
		files = append(files, userFile+" (there is none)")
	}
	if len(files) == 0 {
		return "any configuration file"
	}
	return strings.Join(files, ", ")
}

// noFlakeMessage is the one message of a run with no flake anywhere:
// every place looked at, and how to set one.
func noFlakeMessage(looked []lookedAt, userFile, home string) string {
	var b strings.Builder
	b.WriteString("no flake found. Looked at, in order:\n")
	w := 0
	for _, l := range looked {
		w = max(w, len(l.place))
	}
	for _, l := range looked {
		fmt.Fprintf(&b, "  %-*s  %s\n", w, l.place, l.found)
	}
	where := "the configuration file"
	if userFile != "" {
		where = tildeHome(userFile, home)
	}
	fmt.Fprintf(&b, "Set one with --flake DIR, flake = \"DIR\" in %s (rebuild config init writes one), or NH_FLAKE=DIR", where)
	return b.String()
}

// expandHome resolves a leading ~ against home.
func expandHome(p, home string) string {
	if home == "" {
		return p
	}
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}

// tildeHome shortens a path under home to ~/….
func tildeHome(p, home string) string {
	if home != "" {
		if rel, err := filepath.Rel(home, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			if rel == "." {
				return "~"
			}
			return "~/" + rel
		}
	}
	return p
}
