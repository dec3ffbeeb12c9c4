package nixos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Activation of a host reached over ssh, in the order activate uses here:
//
//  1. (with a confirm timeout) arm the watchdog on the target
//     (remoteconfirm.go);
//  2. <new>/bin/switch-to-configuration test, detached on the target —
//     if it fails, the profile and the boot default are untouched; if it
//     refuses to switch live (inhibit.go), the new system is made the boot
//     default instead;
//  3. nix-env -p <profile> --set <new> and <new>/bin/switch-to-configuration
//     boot, one detached step on the target, which puts the profile back
//     itself when boot fails (so a connection lost between the two cannot
//     leave the profile ahead of the boot default);
//  4. reach the host again over a fresh ssh connection, reading the
//     running system and the new generation: a configuration that locks
//     rebuild out fails here, naming the host, and the watchdog rolls the
//     host back on its own.
//
// Each step's output is followed into the task's log (remotedetach.go).
// The Activation handed on rolls back over ssh and, with the watchdog,
// confirms over a fresh connection.

// commitScript is step 3: $1 the profile, $2 the new system, $3 the
// generation before (0: none). Exit status 10: setting the profile
// failed (nothing changed); 11: boot failed and the profile was put back;
// 12: boot failed and putting the profile back failed too; 13: boot
// failed and there was no generation to put back.
const commitScript = `profile=$1 sys=$2 prev=$3
echo "rebuild: nix-env -p $profile --set $sys"
nix-env -p "$profile" --set "$sys" || exit 10
echo "rebuild: $sys/bin/switch-to-configuration boot"
"$sys/bin/switch-to-configuration" boot && exit 0
echo "rebuild: switch-to-configuration boot failed (exit status $?)"
[ "$prev" -gt 0 ] || exit 13
echo "rebuild: putting the profile back to generation $prev"
nix-env -p "$profile" --switch-generation "$prev" || exit 12
exit 11
`

// Exit statuses of commitScript.
const (
	commitSetFailed     = 10
	commitPutBack       = 11
	commitPutBackFailed = 12
	commitNoPrevious    = 13
)

// rollbackScript switches profile $1 to generation $2 and switches to its
// system $3; exit status 10 when the profile could not be switched.
const rollbackScript = `nix-env -p "$1" --switch-generation "$2" || exit 10
exec "$3/bin/switch-to-configuration" switch
`

// remoteStateDir is where the records live on a target.
func (o ActivateOptions) remoteStateDir() string {
	if o.RemoteStateDir == "" {
		return DefaultRemoteStateDir
	}
	return o.RemoteStateDir
}

// remoteDetach is the detach mode on a target: auto is decided there.
func (o ActivateOptions) remoteDetach() string {
	if o.Detach == "" {
		return detachAuto
	}
	return o.Detach
}

// reconnectFor is how long a lost host is tried again during a step:
// with a watchdog, no longer than its timeout (by then it rolls back).
func reconnectFor(w *remoteWatchdog) time.Duration {
	if w != nil && w.timeout < defaultReconnect {
		return w.timeout
	}
	return defaultReconnect
}

// dryRunRemote is runRemote's dry run, after the records were read.
func (a Activate) dryRunRemote(ctx context.Context, env *tasks.Env, r *remote) error {
	built, ok := BuiltKey.Get(env)
	if !ok || built.Out == "" {
		return errors.New("nothing to activate: build handed on no system (run build in the same invocation)")
	}
	if !built.Changed {
		r.reportReboot(ctx, env, built.Out, a.Options.links())
		return tasks.Skip("no changes")
	}
	return a.dryActivateRemote(ctx, env, r, built)
}

// runRemote is Run for a host reached over ssh.
func (a Activate) runRemote(ctx context.Context, env *tasks.Env, r *remote) error {
	mode := a.Options.remoteDetach()
	if mode == detachSession && len(r.root) > 0 && r.root[0] == proc.ElevateRun0 {
		// run0 runs each command in a service of its own, whose end
		// would take a step started in a session along.
		return fmt.Errorf("host %s: detach = %q cannot outlive run0's service there; use detach = %q or %q", r.host.Name, detachSession, detachAuto, detachSystemd)
	}
	recs := recordsIn(a.Options.remoteStateDir())
	if env.DryRun {
		// A dry run takes no lock and leaves an earlier run's records.
		if err := r.peek(ctx, env, recs); err != nil {
			return err
		}
		return a.dryRunRemote(ctx, env, r)
	}
	// The target lock is held until this activation's outcome is decided:
	// confirmed or rolled back through what it hands on, else until this
	// function returns (nothing handed on) or rebuild ends.
	unlock, err := r.lock(ctx, env, recs.dir)
	if err != nil {
		return err
	}
	held := &heldLock{}
	unlock = held.holdFor(unlock)
	handedOn := false
	defer func() {
		if !handedOn {
			unlock()
		}
	}()
	if err := r.settle(ctx, env, recs); err != nil {
		return err
	}
	built, ok := BuiltKey.Get(env)
	if !ok || built.Out == "" {
		return errors.New("nothing to activate: build handed on no system (run build in the same invocation)")
	}
	out := built.Out
	if !built.Changed {
		r.reportReboot(ctx, env, out, a.Options.links())
		return tasks.Skip("no changes")
	}
	if a.Options.Ask && !env.Yes {
		if err := confirmActivation(ctx, env, out); err != nil {
			return err
		}
	}
	before, err := r.systems(ctx, env, false)
	if err != nil {
		return err
	}
	prev := before.Generation
	r.recordFailedUnits(ctx, env) // for the health gate
	var w *remoteWatchdog
	if t := time.Duration(a.Options.ConfirmTimeout); t > 0 {
		if prev == 0 || before.Profile == "" {
			return fmt.Errorf("%s: there is no previous generation for the confirm timeout to roll back to; not activated", r)
		}
		if w, err = armRemote(ctx, env, r, recs, mode, t, prev, before.Profile); err != nil {
			return fmt.Errorf("arming the confirm timeout on %s failed; not activated: %w", r.host.Name, err)
		}
	}
	env.Status("switch-to-configuration test on %s", r.host.Name)
	var refused refusal
	err = r.runStep(ctx, env, remoteStep{rec: recs.activation, what: "switch-to-configuration test of " + out, mode: mode,
		live: w.live(), guard: w.guard(), cmd: []string{out + "/bin/switch-to-configuration", "test"}, onLine: refused.line, reconnectFor: reconnectFor(w)})
	if err != nil {
		return a.testFailed(ctx, env, r, recs, w, out, prev, &refused, err)
	}
	w.switched(time.Now())

	env.Status("setting the profile and the boot default on %s", r.host.Name)
	err = r.runStep(ctx, env, remoteStep{rec: recs.activation, what: "nix-env --set and switch-to-configuration boot of " + out, mode: mode,
		guard: w.guard(), cmd: []string{"/bin/sh", "-c", commitScript, "sh", env.Config.Profile, out, strconv.Itoa(prev)}, reconnectFor: reconnectFor(w)})
	if err != nil {
		return commitFailed(ctx, env, r, w, out, prev, "switch-to-configuration test made it active", err)
	}

	env.Status("reaching %s again over a fresh ssh connection", r.host.Name)
	after, err := r.reach(ctx, env)
	if err != nil {
		return fmt.Errorf("activated %s on %s, but the host cannot be reached over a fresh ssh connection since; %s: %w", out, r, w.fallback(), err)
	}
	switch err := w.check(ctx, env); {
	case errors.Is(err, ErrFired):
		return fmt.Errorf("activated %s on %s, but its confirm timeout (%s) ran out before rebuild could reach it again: %w", out, r.host.Name, w.timeout, err)
	case err != nil:
		return fmt.Errorf("activated %s on %s, but %w; %s", out, r.host.Name, err, w.fallback())
	}
	act := tasks.Activation{Path: out, Generation: after.Generation, Previous: prev}
	rollback := remoteRollbackFunc(r, recs, mode, w, act)
	act.Rollback = func(ctx context.Context, env *tasks.Env) error {
		defer unlock()
		return rollback(ctx, env)
	}
	if w != nil {
		act.Confirm = func(ctx context.Context, env *tasks.Env) error {
			err := w.confirm(ctx, env)
			if err == nil || errors.Is(err, ErrFired) {
				unlock() // decided: kept, or rolled back there
			}
			return err
		}
	}
	tasks.Activated.Put(env, act)
	targetLockKey.Put(env, held)
	handedOn = true
	env.Action("activated %s on %s as generation %d", out, r.host.Name, after.Generation)
	if after.Current != out {
		env.Warn("%s: %s runs %s, not the system just activated", r.host.Name, env.Config.CurrentSystem, after.Current)
	}
	r.reportReboot(ctx, env, out, a.Options.links())
	return nil
}

// testFailed is activation's answer when the test step did not succeed:
// a refusal to switch live makes the new system the boot default instead;
// a failure leaves the profile and the boot default as they were. The
// watchdog, with nothing switched to roll back, is disarmed.
func (a Activate) testFailed(ctx context.Context, env *tasks.Env, r *remote, recs remoteRecords, w *remoteWatchdog, out string, prev int, refused *refusal, err error) error {
	var going *stillRunning
	var lost *lostHost
	switch {
	case errors.As(err, &going):
		if w != nil {
			return fmt.Errorf("%w; %s unless a later run confirms it", err, w.fallback())
		}
		return err
	case errors.As(err, &lost):
		return fmt.Errorf("%s; %s: %w", lost.summary(), w.fallback(), lost.err)
	}
	disarmed := ""
	if w != nil {
		if derr := w.disarm(context.WithoutCancel(ctx), env); derr != nil && !errors.Is(derr, ErrFired) {
			disarmed = fmt.Sprintf(" (and disarming the confirm timeout failed, %v: %s)", derr, w.fallback())
		}
	}
	if reason, ok := refused.reason(err); ok && disarmed == "" {
		return a.bootInsteadRemote(ctx, env, r, recs, out, reason, prev)
	}
	return fmt.Errorf("switch-to-configuration test failed on %s; the profile and the boot default are unchanged%s: %w", r.host.Name, disarmed, err)
}

// commitFailed says how the commit step failed: the profile, the boot
// default and the running system as they are now. active says what made
// the new system active before. With a watchdog: a host that can be
// reached is left as a failed activation here is (disarmed); one that
// cannot is the watchdog's to roll back.
func commitFailed(ctx context.Context, env *tasks.Env, r *remote, w *remoteWatchdog, out string, prev int, active string, err error) error {
	var going *stillRunning
	var lost *lostHost
	switch {
	case errors.As(err, &going):
		if w != nil {
			return fmt.Errorf("%w; %s unless a later run confirms it", err, w.fallback())
		}
		return err
	case errors.As(err, &lost):
		return fmt.Errorf("%s is active on %s (%s), but %s; %s: %w", out, r.host.Name, active, lost.summary(), w.fallback(), lost.err)
	}
	if w != nil {
		switch derr := w.disarm(context.WithoutCancel(ctx), env); {
		case errors.Is(derr, ErrFired):
			// Its lock kept the step from starting after it decided.
			return fmt.Errorf("the confirm timeout (%s) on %s ran out before the profile and the boot default were set: %w; they are unchanged", w.timeout, r.host.Name, derr)
		case derr != nil:
			return fmt.Errorf("setting the profile and the boot default of %s on %s failed (%v), and disarming the confirm timeout failed too: %v; %s", out, r.host.Name, err, derr, w.fallback())
		}
	}
	var pe *proc.Error
	code := -1
	if errors.As(err, &pe) {
		code = pe.Code
	}
	switch code {
	case commitSetFailed:
		return fmt.Errorf("%s is active on %s (%s), but setting the profile failed; the profile and the boot default are unchanged: %w", out, r.host.Name, active, err)
	case commitPutBack:
		return fmt.Errorf("switch-to-configuration boot failed on %s; the profile was put back to generation %d and the boot default is unchanged (the new system stays active until reboot): %w", r.host.Name, prev, err)
	case commitPutBackFailed:
		return fmt.Errorf("switch-to-configuration boot failed on %s, and putting the profile back to generation %d failed too: %w", r.host.Name, prev, err)
	case commitNoPrevious:
		return fmt.Errorf("switch-to-configuration boot failed on %s, and there is no previous generation to put the profile back to: %w", r.host.Name, err)
	}
	return fmt.Errorf("setting the profile and the boot default of %s on %s failed: %w", out, r.host.Name, err)
}

// bootInsteadRemote is bootInstead on a target: out becomes the boot
// default without being switched to, after its test refused for reason.
func (a Activate) bootInsteadRemote(ctx context.Context, env *tasks.Env, r *remote, recs remoteRecords, out, reason string, prev int) error {
	fmt.Fprintf(env.Log, "switch-to-configuration test refused to switch live on %s (%s): making %s the boot default instead\n", r.host.Name, reason, out)
	env.Status("setting the profile on %s (reboot required: %s)", r.host.Name, reason)
	err := r.runStep(ctx, env, remoteStep{rec: recs.activation, what: "nix-env --set and switch-to-configuration boot of " + out, mode: a.Options.remoteDetach(),
		cmd: []string{"/bin/sh", "-c", commitScript, "sh", env.Config.Profile, out, strconv.Itoa(prev)}})
	if err != nil {
		return commitFailed(ctx, env, r, nil, out, prev, "its test refused to switch live: "+reason, err)
	}
	after, err := r.systems(ctx, env, false)
	if err != nil {
		return err
	}
	tasks.Activated.Put(env, tasks.Activation{Path: out, Generation: after.Generation, Previous: prev,
		Rollback:    remoteRollbackFunc(r, recs, a.Options.remoteDetach(), nil, tasks.Activation{Path: out, Generation: after.Generation, Previous: prev}),
		NotSwitched: "reboot required: " + reason})
	env.Action("made %s the boot default on %s as generation %d; not switched to (reboot required: %s)", out, r.host.Name, after.Generation, reason)
	env.Warn("%s: reboot required: %s", r.host.Name, reason)
	env.Field(tasks.FieldRebootNeeded, true)
	env.Field(tasks.FieldRebootReason, "reboot required: "+reason)
	return nil
}

// dryActivateRemote is dryActivate on a target: it needs the new system
// there, which only a real run copies.
func (a Activate) dryActivateRemote(ctx context.Context, env *tasks.Env, r *remote, built Built) error {
	if built.NotBuilt {
		return tasks.Skip("dry run: the new system is not built yet, so it cannot be dry-activated (rebuild --only=build builds it)")
	}
	there, err := r.resolveAll(ctx, env, built.Out)
	if err != nil {
		return err
	}
	if there[built.Out] == "" {
		fmt.Fprintf(env.Log, "%s is not in the store of %s: there is no switch-to-configuration to ask\n", built.Out, r.host.Name)
		return tasks.Skip("dry run: the new system is not on %s yet (a real run copies it), so it cannot be dry-activated", r.host.Name)
	}
	env.Status("switch-to-configuration dry-activate on %s", r.host.Name)
	var would wouldLines
	if err := r.run(ctx, env, remoteCmd{argv: []string{built.Out + "/bin/switch-to-configuration", "dry-activate"}, root: true, onLine: would.line}); err != nil {
		return fmt.Errorf("switch-to-configuration dry-activate: %w", err)
	}
	lines := would.list()
	if len(lines) == 0 {
		env.Stat("dry run: switching would change no units on %s", r.host.Name)
	}
	for _, l := range lines {
		env.Stat("dry run: %s", l)
	}
	return nil
}

// reach reads the target's systems over a fresh ssh connection, trying
// three times a second apart: proof that the host can be reached now.
func (r *remote) reach(ctx context.Context, env *tasks.Env) (targetSystems, error) {
	var err error
	for i := 0; i < 3; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return targetSystems{}, err
			case <-time.After(time.Second):
			}
		}
		var ts targetSystems
		if ts, err = r.systems(ctx, env, true); err == nil || !unreachable(err) {
			return ts, err
		}
	}
	return targetSystems{}, err
}

// resolveScript prints what each argument resolves to, one a line, ""
// for one that does not resolve to something that exists.
const resolveScript = `for p in "$@"; do readlink -e "$p" 2>/dev/null || echo; done`

// resolveAll resolves paths on the target: by path, "" when it does not
// resolve there.
func (r *remote) resolveAll(ctx context.Context, env *tasks.Env, paths ...string) (map[string]string, error) {
	out, err := r.output(ctx, env, remoteCmd{script: resolveScript, argv: paths, what: "readlink -e " + proc.ShellJoin(paths)})
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(paths) {
		return nil, fmt.Errorf("%s: resolving %d paths printed %d lines", r, len(paths), len(lines))
	}
	m := make(map[string]string, len(paths))
	for i, p := range paths {
		m[p] = lines[i]
	}
	return m, nil
}

// reportReboot is reportReboot on a target: its booted system's links and
// the new system's, resolved there.
func (r *remote) reportReboot(ctx context.Context, env *tasks.Env, out string, links []string) {
	booted := env.Config.BootedSystem
	var paths []string
	for _, l := range links {
		paths = append(paths, filepath.Join(booted, l), filepath.Join(out, l))
	}
	m, err := r.resolveAll(ctx, env, paths...)
	if err != nil {
		fmt.Fprintf(env.Log, "whether %s needs a reboot is not known: %v\n", r.host.Name, err)
		return
	}
	reason, needed, err := rebootCheckBy(booted, out, links, func(p string) string { return m[p] })
	recordReboot(env, reason, needed, err)
}

// recordFailedUnits is recordFailedUnits on a target.
func (r *remote) recordFailedUnits(ctx context.Context, env *tasks.Env) {
	out, err := r.output(ctx, env, remoteCmd{argv: failedUnitsArgv, log: io.Discard})
	if err == nil {
		failedUnitsKey.Put(env, parseFailedUnits(out))
	}
}

// rollback is Rollback on a target: the profile to the generation before
// (the one act replaced, when this run activated it) and that system's
// switch-to-configuration switch, detached as the activation's steps.
func (r *remote) rollback(ctx context.Context, env *tasks.Env, recs remoteRecords, mode string, act tasks.Activation, activated bool) error {
	gens, _, err := r.generations(ctx, env)
	if err != nil {
		return err
	}
	cur, to, err := pickRollback(env.Config.Profile, gens, act, activated)
	if err != nil {
		return fmt.Errorf("%s: %w", r.host.Name, err)
	}
	if env.DryRun {
		env.Action("would roll back %s from generation %d to %d (%s)", r.host.Name, cur.Number, to.Number, to.Path)
		return nil
	}
	env.Status("rolling back %s to generation %d", r.host.Name, to.Number)
	err = r.runStep(ctx, env, remoteStep{rec: recs.activation, what: fmt.Sprintf("rollback to generation %d (%s)", to.Number, to.Path), mode: mode,
		cmd: []string{"/bin/sh", "-c", rollbackScript, "sh", env.Config.Profile, strconv.Itoa(to.Number), to.Path}})
	var pe *proc.Error
	switch {
	case err == nil:
	case errors.As(err, &pe) && pe.Code == 10:
		return fmt.Errorf("rollback on %s: nix-env --switch-generation %d failed: %w", r.host.Name, to.Number, err)
	case errors.As(err, &pe) && pe.Code > 0:
		return fmt.Errorf("rollback: the profile points at generation %d on %s, but its switch-to-configuration switch failed: %w", to.Number, r.host.Name, err)
	default:
		return fmt.Errorf("rollback on %s: %w", r.host.Name, err)
	}
	env.Action("rolled back %s from generation %d to %d (%s)", r.host.Name, cur.Number, to.Number, to.Path)
	return nil
}
