package nixos

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// switch-to-configuration-ng (nixpkgs pkgs/by-name/sw/switch-to-configuration-ng)
// refuses to switch live in two ways that are not failures of the new
// system, only of switching to it without a reboot:
//
//   - a pre-switch check fails (system.preSwitchChecks; the built-in one
//     is switchInhibitors, which compares system.switch.inhibitors of the
//     running and the new system and skips the boot action): the script
//     NixOS builds around the checks prints "Pre-switch check '<name>'
//     failed" for a failing one, then the ng prints "Pre-switch checks
//     failed" and exits 1 (main.rs, do_pre_switch_check; it runs for every
//     action unless NIXOS_NO_CHECK=1). switchInhibitors prints the
//     changed inhibitors, one "<name> : <old> -> <new>" a line, after
//     "There are changes to critical components of the system:".
//   - the new init is incompatible with the running one: it prints
//     "…won't take effect until you reboot the system." and exits 100,
//     before activating anything.
//
// Both happen before anything is activated, so the safe way on is the
// one the message itself recommends: make it the boot default and reboot.
const (
	preSwitchFailed      = "Pre-switch checks failed"
	inhibitorsHeader     = "There are changes to critical components of the system:"
	initIncompatibleText = "won't take effect until you reboot the system"
	exitInitIncompatible = 100
)

var (
	preSwitchCheckRE = regexp.MustCompile(`^Pre-switch check '([^']+)' failed$`)
	inhibitorRE      = regexp.MustCompile(`^(\S+) : (.*) -> (.*)$`)
)

// refusal reads switch-to-configuration's output for the two refusals
// above. Its line method is a proc.Cmd's OnLine.
type refusal struct {
	mu         sync.Mutex
	preSwitch  bool     // "Pre-switch checks failed" was printed
	initChange bool     // the init-interface message was printed
	inHeader   bool     // after inhibitorsHeader
	changes    []string // "systemd : 255.1 -> 256.2"
	checks     []string // names of the failed pre-switch checks
}

func (r *refusal) line(l string) {
	l = strings.TrimSpace(l)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case l == preSwitchFailed:
		r.preSwitch = true
	case strings.Contains(l, initIncompatibleText):
		r.initChange = true
	case strings.HasSuffix(l, inhibitorsHeader):
		r.inHeader = true
	case r.inHeader && inhibitorRE.MatchString(l):
		m := inhibitorRE.FindStringSubmatch(l)
		r.changes = append(r.changes, m[1]+" "+m[2]+" → "+m[3])
	default:
		if m := preSwitchCheckRE.FindStringSubmatch(l); m != nil {
			r.checks = append(r.checks, m[1])
			r.inHeader = false
		}
	}
}

// reason says why a reboot is required when err is one of the refusals
// (by its exit code and what was printed): the changed inhibitors, else
// the failed checks by name, else the init change. ok is false for any
// other failure, which stays a failure.
func (r *refusal) reason(err error) (reason string, ok bool) {
	var pe *proc.Error
	if !errors.As(err, &pe) {
		return "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case pe.Code == 1 && r.preSwitch && len(r.changes) > 0:
		return strings.Join(r.changes, ", "), true
	case pe.Code == 1 && r.preSwitch && len(r.checks) > 0:
		return "pre-switch check " + strings.Join(r.checks, ", ") + " failed", true
	case pe.Code == 1 && r.preSwitch:
		return "pre-switch checks failed", true
	case pe.Code == exitInitIncompatible && r.initChange:
		return "the new init is incompatible with the running one", true
	}
	return "", false
}

// bootInstead makes out the boot default without switching to it, after
// its switch-to-configuration test refused for reason (see refusal): the
// profile is set and `switch-to-configuration boot` run, with the profile
// put back if boot fails, as in a normal activation. The running system
// is untouched; the summary, the json finish event and the metrics say a
// reboot is required.
func bootInstead(ctx context.Context, env *tasks.Env, out, reason, mode string) error {
	profile := env.Config.Profile
	fmt.Fprintf(env.Log, "switch-to-configuration test refused to switch live (%s): making %s the boot default instead\n", reason, out)
	prev := currentGeneration(profile)
	env.Status("setting the profile (reboot required: %s)", reason)
	if err := run(ctx, env, proc.Cmd{Args: []string{"nix-env", "-p", profile, "--set", out}, Root: true}); err != nil {
		return fmt.Errorf("switch-to-configuration test refused to switch live (%s), and setting the profile failed; the profile and the boot default are unchanged: %w", reason, err)
	}
	gen := currentGeneration(profile)
	env.Status("switch-to-configuration boot")
	var going *stillRunning
	if err := switchDetached(ctx, env, mode, out, "boot", nil); errors.As(err, &going) {
		return err // the boot entry may yet be written: the profile stays
	} else if err != nil {
		return putBack(context.WithoutCancel(ctx), env, prev, err)
	}
	tasks.Activated.Put(env, tasks.Activation{Path: out, Generation: gen, Previous: prev, Rollback: Rollback,
		NotSwitched: "reboot required: " + reason})
	env.Action("made %s the boot default as generation %d; not switched to (reboot required: %s)", out, gen, reason)
	env.Warn("reboot required: %s", reason)
	env.Field(tasks.FieldRebootNeeded, true)
	env.Field(tasks.FieldRebootReason, "reboot required: "+reason)
	return nil
}
