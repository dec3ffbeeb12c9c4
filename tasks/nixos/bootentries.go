package nixos

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// DefaultBootEntries is where systemd-boot keeps its entries, one
// nixos-generation-N.conf per generation (and per specialisation).
const DefaultBootEntries = "/boot/loader/entries"

// regenerateBootEntries runs `switch-to-configuration boot` of the
// profile's current generation, as root, after generations were deleted:
// NixOS's bootloader installers write one entry per generation still in
// the profile and remove the others, with their kernels and initrds, so
// /boot frees up too (nixpkgs#26333). Without it the menu still offers
// the deleted generations until the next rebuild, and once their store
// paths are collected those entries no longer boot.
//
// It is the profile's current generation, not the running system, whose
// boot is run: that one is the boot default, and must stay it.
//
// The entries in dir (systemd-boot's) are counted before and after to say
// how many went; where there is no such directory (GRUB) the statistic it
// returns says the entries were regenerated, without a count. The caller
// records it after garbage collection's, as the last word of the task.
func regenerateBootEntries(ctx context.Context, env *tasks.Env, dir string) (stat string, err error) {
	sys := resolve(env.Config.Profile)
	if sys == "" {
		return "", fmt.Errorf("regenerating the boot entries: the profile %s does not resolve", env.Config.Profile)
	}
	// Detached, as activation's steps are: a bootloader install cut in
	// half by Ctrl-C or a lost session leaves a machine that may not
	// boot. An interrupted run's activation that still runs is waited
	// for first (its record is the one this switch uses).
	o, err := activateOptionsOf(env)
	if err != nil {
		return "", err
	}
	if err := reattach(ctx, env); err != nil {
		return "", err
	}
	before, counted := countBootEntries(dir)
	env.Status("regenerating the boot entries")
	if err := switchDetached(ctx, env, resolveDetach(o.Detach), sys, "boot", nil); err != nil {
		return "", err
	}
	after, countedAfter := countBootEntries(dir)
	if counted && countedAfter {
		return fmt.Sprintf("boot entries regenerated: %s removed", text.Plural(max(before-after, 0), "entry", "entries")), nil
	}
	return fmt.Sprintf("boot entries regenerated (%s cannot be read to count them)", dir), nil
}

// countBootEntries counts the NixOS entries in dir; false when dir cannot
// be read.
func countBootEntries(dir string) (int, bool) {
	if dir == "" {
		return 0, false
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "nixos-") && strings.HasSuffix(e.Name(), ".conf") && e.Type().IsRegular() {
			n++
		}
	}
	return n, true
}
