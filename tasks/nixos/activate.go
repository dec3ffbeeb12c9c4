package nixos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Activate is the activate task, in the safe order nh uses:
//
//  1. <new>/bin/switch-to-configuration test — if it fails, the profile
//     and the boot default are untouched;
//  2. nix-env -p <profile> --set <new>;
//  3. <new>/bin/switch-to-configuration boot — if it fails, the profile is
//     put back to the generation it pointed at before.
//
// Skipped with "no changes" when build found the running system. It hands
// on a tasks.Activation, through which accept rolls back.
type Activate struct{ Options ActivateOptions }

// ActivateOptions are the options of [task.activate].
type ActivateOptions struct {
	Ask    bool   `option:"ask" doc:"show the diff and ask before activating (the --ask flag)"`
	Detach string `option:"detach" doc:"how switch-to-configuration outlives a lost session or a killed rebuild: auto (systemd when it runs, else session), systemd (systemd-run transient units) or session (a session of its own, SIGHUP ignored)"`
	// ConfirmTimeout arms a rollback that fires unless the new system is
	// confirmed in time (confirm.go).
	ConfirmTimeout Duration `option:"confirm_timeout" doc:"roll back on its own unless the gates pass and the new configuration is kept within this long, e.g. \"60s\"; a watchdog outside rebuild does it, so a killed rebuild or a lost session rolls back (the --confirm-timeout flag); \"0s\": off"`
	// RemoteStateDir is where a host reached over ssh keeps the records
	// of its activation (remotedetach.go).
	RemoteStateDir string `option:"remote_state_dir" doc:"on a host reached over ssh, the directory (as root) where activation keeps the records of its detached steps and of the confirm watchdog, which a lost connection or a later run follows again"`
	RebootOptions
}

// Check implements tasks.Checker.
func (o ActivateOptions) Check() error {
	if err := tasks.OneOf("detach", o.Detach, detachAuto, detachSystemd, detachSession); err != nil {
		return err
	}
	if o.RemoteStateDir != "" && !strings.HasPrefix(o.RemoteStateDir, "/") {
		return tasks.BadOption("remote_state_dir", o.RemoteStateDir, "not an absolute path", "an absolute path on the hosts, e.g. \""+DefaultRemoteStateDir+"\"")
	}
	return o.checkReboot()
}

func defaultActivateOptions() ActivateOptions {
	return ActivateOptions{Detach: detachAuto, RemoteStateDir: DefaultRemoteStateDir, RebootOptions: DefaultRebootOptions()}
}

// Configure implements tasks.Configurable.
func (a Activate) Configure(t config.Task) (tasks.Task, error) {
	a.Options = defaultActivateOptions()
	err := tasks.DecodeOptions(t, &a.Options)
	return a, err
}

// AdjustEdges implements tasks.EdgeAdjuster: activate waits for diff only
// to show it (--ask); otherwise diff runs beside it, off the critical
// path (build hands diff the system that was running before).
func (a Activate) AdjustEdges(s *tasks.Spec) {
	if !a.Options.Ask {
		s.After = slices.DeleteFunc(s.After, func(n string) bool { return n == "diff" })
	}
}

// TaskOptions implements tasks.Configurable.
func (a Activate) TaskOptions() any { return a.Options }

// Run activates what build built.
func (a Activate) Run(ctx context.Context, env *tasks.Env) error {
	if env.Config == nil {
		return errNoConfig
	}
	if r, err := remoteOf(env); err != nil {
		return err
	} else if r != nil {
		return a.runRemote(ctx, env, r)
	}
	if env.DryRun {
		peekRecords(ctx, env) // a dry run leaves them as they are
	} else {
		if err := reattach(ctx, env); err != nil {
			return err
		}
		if err := settleWatchdog(ctx, env); err != nil {
			return err
		}
	}
	built, ok := BuiltKey.Get(env)
	if !ok || built.Out == "" {
		return errors.New("nothing to activate: build handed on no system (run build in the same invocation)")
	}
	out := built.Out
	if !built.Changed {
		// Still running what was built, maybe not yet booted into.
		reportReboot(env, out, a.Options.links())
		return tasks.Skip("no changes")
	}
	if env.DryRun {
		return a.dryActivate(ctx, env, built)
	}
	if a.Options.Ask && !env.Yes {
		if err := confirmActivation(ctx, env, out); err != nil {
			return err
		}
	}
	profile := env.Config.Profile
	mode := resolveDetach(a.Options.Detach)

	recordFailedUnits(ctx, env) // for the health gate
	env.Status("switch-to-configuration test")
	var refused refusal
	var going *stillRunning
	if err := switchDetached(ctx, env, mode, out, "test", refused.line); errors.As(err, &going) {
		return err
	} else if err != nil {
		if reason, ok := refused.reason(err); ok {
			return bootInstead(ctx, env, out, reason, mode)
		}
		return fmt.Errorf("switch-to-configuration test failed; the profile and the boot default are unchanged: %w", err)
	}
	prev := currentGeneration(profile)
	env.Status("setting the profile")
	if err := run(ctx, env, proc.Cmd{Args: []string{"nix-env", "-p", profile, "--set", out}, Root: true}); err != nil {
		return fmt.Errorf("%s is active (test), but setting the profile failed; the profile and the boot default are unchanged: %w", out, err)
	}
	gen := currentGeneration(profile)
	env.Status("switch-to-configuration boot")
	if err := switchDetached(ctx, env, mode, out, "boot", nil); errors.As(err, &going) {
		return err // the boot entry may yet be written: the profile stays
	} else if err != nil {
		return putBack(context.WithoutCancel(ctx), env, prev, err)
	}
	// Previous is what Rollback goes back to if the person rejects it.
	act := tasks.Activation{Path: out, Generation: gen, Previous: prev, Rollback: Rollback}
	if t := time.Duration(a.Options.ConfirmTimeout); t > 0 {
		if err := armConfirm(ctx, env, &act, mode, t); err != nil {
			return err
		}
	}
	tasks.Activated.Put(env, act)
	env.Action("activated %s as generation %d", out, gen)
	reportReboot(env, out, a.Options.links())
	return nil
}

// putBack points the profile at the generation it had before, after boot
// failed. It runs even when ctx is canceled: leaving the profile ahead of
// the boot default is what it exists to prevent.
func putBack(ctx context.Context, env *tasks.Env, prev int, bootErr error) error {
	if prev == 0 {
		return fmt.Errorf("switch-to-configuration boot failed, and there is no previous generation to put the profile back to: %w", bootErr)
	}
	env.Status("putting the profile back to generation %d", prev)
	err := run(ctx, env, proc.Cmd{Args: []string{"nix-env", "-p", env.Config.Profile, "--switch-generation", fmt.Sprint(prev)}, Root: true})
	if err != nil {
		return fmt.Errorf("switch-to-configuration boot failed, and putting the profile back to generation %d failed too (%v): %w", prev, err, bootErr)
	}
	return fmt.Errorf("switch-to-configuration boot failed; the profile was put back to generation %d and the boot default is unchanged (the new system stays active until reboot): %w", prev, bootErr)
}

// confirmActivation shows the diff and asks. Without a terminal (and
// without --yes) nothing is activated: --ask asked for a person's word.
func confirmActivation(ctx context.Context, env *tasks.Env, out string) error {
	if !env.Interactive() {
		return tasks.Skip("--ask: no terminal to confirm; not activated")
	}
	summary := "(no diff: the diff task did not run)"
	if s, ok := tasks.DiffSummary.Get(env); ok {
		summary = s
	}
	yes, err := env.Prompt.Confirm(ctx, tasks.Question[bool]{Text: "Activate " + out + "?",
		Body: "Changes to the running system:\n" + indent(summary), Default: true})
	if err != nil {
		return err
	}
	if !yes {
		return tasks.Decline("activation not confirmed")
	}
	return nil
}

func indent(s string) string {
	out := "  "
	for _, r := range s {
		out += string(r)
		if r == '\n' {
			out += "  "
		}
	}
	return out
}
