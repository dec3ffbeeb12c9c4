package nixos

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// DefaultRebootLinks are the links of a NixOS system whose change needs a
// reboot to take effect: activation cannot swap the running kernel, the
// initrd it booted with, or the modules it can load.
var DefaultRebootLinks = []string{"kernel", "initrd", "kernel-modules"}

// rebootCheck compares each of links (names inside a system, such as
// "kernel") in the booted system with the new one. A link the new system
// does not have (a container) is left out. needed is false when they all
// match; reason is "kernel 6.6.1 → 6.6.8" when the kernel's version
// changed, else the changed links by name ("initrd changed"). When the
// booted system's link cannot be read while the new one has it, whether a
// reboot is needed cannot be told: an error, not a guess.
func rebootCheck(booted, newSys string, links []string) (reason string, needed bool, err error) {
	return rebootCheckBy(booted, newSys, links, resolve)
}

// rebootCheckBy is rebootCheck with the links resolved by resolve (on a
// target, what the target's links point at).
func rebootCheckBy(booted, newSys string, links []string, resolve func(string) string) (reason string, needed bool, err error) {
	var changed []string
	kernel := ""
	for _, name := range links {
		n := resolve(filepath.Join(newSys, name))
		if n == "" {
			continue
		}
		b := resolve(filepath.Join(booted, name))
		if b == "" {
			return "", false, fmt.Errorf("cannot tell whether a reboot is needed: %s does not resolve", filepath.Join(booted, name))
		}
		if b == n {
			continue
		}
		changed = append(changed, name)
		if name == "kernel" {
			if bv, nv := storeVersion(b), storeVersion(n); bv != "" && nv != "" && bv != nv {
				kernel = "kernel " + bv + " → " + nv
			}
		}
	}
	switch {
	case len(changed) == 0:
		return "", false, nil
	case kernel != "":
		return kernel, true, nil
	}
	return strings.Join(changed, ", ") + " changed", true, nil
}

// reportReboot records the outcome of rebootCheck on env: a warning
// "reboot needed (…)" for the summary, and the fields for json and the
// metrics. An undecidable check is logged and recorded as nothing.
func reportReboot(env *tasks.Env, out string, links []string) {
	reason, needed, err := rebootCheck(env.Config.BootedSystem, out, links)
	recordReboot(env, reason, needed, err)
}

// recordReboot records rebootCheck's answer on env (see reportReboot).
func recordReboot(env *tasks.Env, reason string, needed bool, err error) {
	if err != nil {
		fmt.Fprintln(env.Log, err)
		return
	}
	env.Field(tasks.FieldRebootNeeded, needed)
	if needed {
		env.Field(tasks.FieldRebootReason, reason)
		env.Warn("reboot needed (%s)", reason)
	}
}

var storeNameRE = regexp.MustCompile(`^[0-9a-df-np-sv-z]{32}-(.+)$`)

// storeVersion is the version in the name of the store path p lies in:
// "…/<hash>-linux-6.6.8/bzImage" → "6.6.8", "…-initrd-linux-6.6.8" →
// "6.6.8", "…-linux-6.6.8-modules" → "6.6.8"; "" when there is none. As
// in Nix's own parsing, the version starts at the first dash-separated
// part beginning with a digit; it ends before a part that does not.
func storeVersion(p string) string {
	for _, el := range strings.Split(p, "/") {
		m := storeNameRE.FindStringSubmatch(el)
		if m == nil {
			continue
		}
		parts := strings.Split(m[1], "-")
		for i, part := range parts {
			if part != "" && part[0] >= '0' && part[0] <= '9' {
				end := i + 1
				for end < len(parts) && parts[end] != "" && parts[end][0] >= '0' && parts[end][0] <= '9' {
					end++
				}
				return strings.Join(parts[i:end], "-")
			}
		}
		return ""
	}
	return ""
}

// RebootOptions are activate's options about rebooting: which links
// decide that a reboot is needed, and what the run does about it at its
// end (the --reboot flag; cmd/rebuild runs the command, once, last).
type RebootOptions struct {
	RebootLinks   []string `option:"reboot_links" doc:"links of the booted and the new system compared to tell whether a reboot is needed"`
	Reboot        string   `option:"reboot" doc:"at the end of a successful run: never, when-needed (the activated system needs one) or always reboot (the --reboot flag)"`
	RebootCommand []string `option:"reboot_command" doc:"the command that reboots, run as root"`
}

// The values of the reboot option.
const (
	RebootNever      = "never"
	RebootWhenNeeded = "when-needed"
	RebootAlways     = "always"
)

// DefaultRebootOptions: the kernel, initrd and modules decide, and the
// run never reboots on its own.
func DefaultRebootOptions() RebootOptions {
	return RebootOptions{RebootLinks: DefaultRebootLinks, Reboot: RebootNever, RebootCommand: []string{"systemctl", "reboot"}}
}

// checkReboot refuses an unknown reboot policy and an empty command.
func (o ActivateOptions) checkReboot() error {
	if err := tasks.OneOf("reboot", o.Reboot, RebootNever, RebootWhenNeeded, RebootAlways); err != nil {
		return err
	}
	if len(o.RebootCommand) == 0 || o.RebootCommand[0] == "" {
		return tasks.BadOption("reboot_command", o.RebootCommand, "empty", "a command and its arguments, e.g. [\"systemctl\", \"reboot\"]")
	}
	return nil
}

// links are the reboot links, the defaults when none are configured
// (Activate{} as registered runs with zero options).
func (o ActivateOptions) links() []string {
	if len(o.RebootLinks) == 0 {
		return DefaultRebootLinks
	}
	return o.RebootLinks
}
