package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/exitcode"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/nixos"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// preflightError is everything that stops a run before its first task,
// in one message: exit 2, and nothing was started (no task, no log, no
// history record).
type preflightError struct{ problems []string }

func (e *preflightError) Error() string { return strings.Join(e.problems, "\n") }

// ExitCode is exitcode.Usage: the configuration or the machine is at fault.
func (e *preflightError) ExitCode() int { return exitcode.Usage }

// preflight checks, before anything starts, what the selected tasks need
// of the machine: a flake (for the tasks that use one) that has the host
// (for those that build it), a state directory that can be written, and
// the elevation program (when a task needs root). A dry run checks what
// the run would: it is a rehearsal of it. Only tasks that will run count:
// `--only=caches` needs no flake.
func preflight(o *runOptions, p *plan) error {
	var problems []string
	flakeUsers := selected(p, func(s tasks.Spec) bool { return s.UsesFlake || s.UsesHost })
	hostUsers := selected(p, func(s tasks.Spec) bool { return s.UsesHost })
	switch {
	case len(flakeUsers) == 0:
	case p.flake.Err != nil:
		problems = append(problems, fmt.Sprintf("%v\n%s need a flake; to run without one, leave them out: --skip %s",
			p.flake.Err, andList(flakeUsers), strings.Join(flakeUsers, ",")))
	case len(hostUsers) > 0 && hostBuiltBefore(o.Sys, p):
		// Nix evaluated this host from these very files before: no need
		// to ask it again (an evaluation, half a second or more).
	case len(hostUsers) > 0:
		if err := checkHosts(o.Sys, p.cfg.Flake, p.flake.From, hostsOf(p, hostUsers), len(p.hosts) > 0); err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				return err // interrupted: nothing to explain
			}
			problems = append(problems, err.Error())
		}
	}
	if err := checkStateDir(p.cfg.StateDir); err != nil {
		problems = append(problems, err.Error())
	}
	if root := selected(p, func(s tasks.Spec) bool { return s.Root && rootHere(p.cfg, s) }); len(root) > 0 && o.Sys.Euid != 0 {
		if err := checkElevation(o.Sys, p.cfg.Elevate, root); err != nil {
			problems = append(problems, err.Error())
		}
	}
	problems = append(problems, checkHostsElevation(o.Sys, p)...)
	if len(problems) > 0 {
		return &preflightError{problems}
	}
	return nil
}

// selected names the tasks of the run, in order, that will run (are not
// disabled) and match.
func selected(p *plan, match func(tasks.Spec) bool) []string {
	var out []string
	for _, n := range p.graph.Order() {
		if s := p.specs[n]; !s.Disabled && match(s) {
			out = append(out, n)
		}
	}
	return out
}

// hostBuiltBefore reports whether the run's build task has a fingerprint
// that matches the last successful build of the host (nixos.BuiltBefore).
func hostBuiltBefore(sys *System, p *plan) bool {
	b, ok := p.specs["build"].Task.(nixos.Build)
	if !ok {
		return false
	}
	env := tasks.NewEnv("preflight", nil, nil)
	env.Config = p.cfg
	env.Runner = &proc.Runner{Environ: sys.Environ, Subreaper: sys.Subreaper}
	return nixos.BuiltBefore(context.Background(), env, b.Options)
}

// hostsOf are the hosts the tasks named act on, in order: their hosts in
// a run over [host.NAME] tables, else the one machine's.
func hostsOf(p *plan, names []string) []string {
	var out []string
	for _, n := range names {
		if h := p.specs[n].Host; h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return []string{p.cfg.Host}
	}
	return out
}

// checkHosts asks Nix which hosts the flake has, once for all of them,
// and says so when some of hosts are not among them; configured says
// they come from [host.NAME] tables (else it is the one machine, host).
// The evaluation only lists the names (nothing is built, the lock file is
// not written); Ctrl-C stops it.
func checkHosts(sys *System, flake, from string, hosts []string, configured bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var out, log bytes.Buffer
	r := &proc.Runner{Environ: sys.Environ, Subreaper: sys.Subreaper}
	err := r.Run(ctx, proc.Cmd{Args: []string{"nix", "eval", "--json", "--no-write-lock-file",
		flake + "#nixosConfigurations", "--apply", "builtins.attrNames"}, Stdout: &out, Log: &log})
	if ctx.Err() != nil {
		return &exitError{exitcode.Interrupted}
	}
	if err != nil {
		return fmt.Errorf("cannot list the hosts of the flake %s (from %s): %v", flake, from, err)
	}
	var names []string
	if err := json.Unmarshal(out.Bytes(), &names); err != nil {
		return fmt.Errorf("cannot list the hosts of the flake %s (from %s): nix eval printed %q", flake, from, strings.TrimSpace(out.String()))
	}
	var missing []string
	for _, h := range hosts {
		if !slices.Contains(names, h) {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	has := "it has none"
	if len(names) > 0 {
		has = "it has " + strings.Join(names, ", ")
	}
	if configured {
		what := make([]string, len(missing))
		for i, m := range missing {
			what[i] = "nixosConfigurations." + m
		}
		return fmt.Errorf("the flake %s (from %s) has no %s; %s. Each [host.NAME] names one of them: rename the table, or leave the host out with --on",
			flake, from, andList(what), has)
	}
	return fmt.Errorf("the flake %s (from %s) has no nixosConfigurations.%s; %s. Set host in the configuration, or pass -H NAME",
		flake, from, missing[0], has)
}

// checkStateDir makes sure the run can keep its lock, logs and history
// in dir, without creating anything: a file is made and removed in dir,
// or in the folder that would hold it when dir does not exist yet.
func checkStateDir(dir string) error {
	at := dir
	for {
		st, err := os.Stat(at)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("state directory %s cannot be created: %s is not a directory (set state_dir, or XDG_STATE_HOME)", dir, at)
			}
			break
		}
		gone := errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
		if !gone || filepath.Dir(at) == at {
			return fmt.Errorf("state directory %s: %v (set state_dir, or XDG_STATE_HOME)", dir, err)
		}
		at = filepath.Dir(at)
	}
	f, err := os.CreateTemp(at, ".rebuild-check-*")
	if err != nil {
		what := "is not writable"
		if at != dir {
			what = "cannot be created: " + at + " is not writable"
		}
		return fmt.Errorf("state directory %s %s (set state_dir, or XDG_STATE_HOME)", dir, what)
	}
	f.Close()
	return os.Remove(f.Name())
}

// checkElevation makes sure the elevation program is installed when the
// tasks in root need it.
func checkElevation(sys *System, method string, root []string) error {
	switch method {
	case config.ElevateNone, "":
		return nil
	case config.ElevateSudo, config.ElevateDoas, config.ElevateRun0:
	default:
		return fmt.Errorf("elevate = %q: unknown method; allowed: sudo, doas, run0, none", method)
	}
	if _, err := proc.LookPath(method, sys.Getenv("PATH")); err == nil {
		return nil
	}
	return fmt.Errorf("elevate = %q, but %s is not installed; %s need root. Set elevate to another method (sudo, doas, run0, none), or run as root",
		method, method, andList(root))
}

// rootHere reports whether a task that needs root needs it on this
// machine: a task of the whole run, or one on a local host. One on a host
// reached over ssh gets root there (nixos.CheckHostElevation).
func rootHere(cfg *config.Config, s tasks.Spec) bool {
	h, ok := cfg.Hosts[s.Host]
	return s.Host == "" || !ok || h.IsLocal()
}

// hostCheckTimeout bounds the elevation check of one host.
const hostCheckTimeout = 30 * time.Second

// checkHostsElevation asks every host reached over ssh whose selected
// tasks need root whether root can be had there without a password, all
// at once: a password would be asked in the middle of the run, where
// nobody can type it. A host that cannot be reached is not a problem
// here: its tasks fail, naming it, and the other hosts go on.
func checkHostsElevation(sys *System, p *plan) []string {
	var hosts []config.Host
	seen := map[string]bool{}
	for _, n := range selected(p, func(s tasks.Spec) bool { return s.Root && !rootHere(p.cfg, s) }) {
		if h := p.specs[n].Host; !seen[h] {
			seen[h] = true
			hosts = append(hosts, p.cfg.Hosts[h])
		}
	}
	if len(hosts) == 0 {
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, hostCheckTimeout)
	defer cancel()
	r := &proc.Runner{Environ: sys.Environ, Subreaper: sys.Subreaper}
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { errs[i] = nixos.CheckHostElevation(ctx, r, h, p.cfg.Elevate) })
	}
	wg.Wait()
	var problems []string
	for _, err := range errs {
		if err != nil && !nixos.Unreachable(err) {
			problems = append(problems, err.Error())
		}
	}
	return problems
}

// andList is "a", "a and b", "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
