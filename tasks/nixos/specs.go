package nixos

import (
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// Specs returns the NixOS tasks with their place in the default graph
// (DESIGN.md): flake-update(1) ─▶ build(2) ─▶ diff ┄┄▶ activate(3), and
// accept ─▶ generations(9). With [host.*] tables, copy (HostsOnly) comes
// between build and what needs the system on the host: build ─▶ copy ─▶
// diff, activate; without, copy and the edges to it are left out. The diff ┄┄▶ activate edge stays only with
// --ask (Activate.AdjustEdges): otherwise diff runs beside activation,
// off the critical path, and accept waits for it to show it.
func Specs() []tasks.Spec {
	return []tasks.Spec{
		{
			Name:        "flake-update",
			Phase:       1,
			Description: "update the flake's inputs (nix flake update; option inputs = [...] for some)",
			Groups:      []string{"system"},
			Critical:    true,
			UsesFlake:   true,
			Estimate:    10 * time.Second,
			DryRun:      true,
			Task:        FlakeUpdate{Options: defaultFlakeUpdateOptions()},
		},
		{
			Name:        "build",
			PerHost:     true,
			Phase:       2,
			Description: "build the host's system (nix build), live status from Nix's JSON log",
			Groups:      []string{"system"},
			Needs:       []string{"flake-update"},
			Critical:    true,
			UsesFlake:   true,
			UsesHost:    true,
			Estimate:    3 * time.Minute,
			DryRun:      true,
			Task:        Build{Options: defaultBuildOptions()},
		},
		{
			Name:        "copy",
			Description: "copy the built system to the host over ssh (nix copy --to ssh-ng://…): paths, bytes and rate",
			Groups:      []string{"system"},
			Needs:       []string{"build"},
			Critical:    true,
			PerHost:     true,
			HostsOnly:   true,
			Estimate:    20 * time.Second,
			Task:        Copy{},
		},
		{
			Name:        "diff",
			PerHost:     true,
			Description: "compare the new system with the running one (nix store diff-closures)",
			Groups:      []string{"system"},
			Needs:       []string{"build", "copy"},
			Estimate:    3 * time.Second,
			Task:        Diff{},
		},
		{
			Name:          "activate",
			PerHost:       true,
			Phase:         3,
			Description:   "switch-to-configuration test, set the profile, switch-to-configuration boot",
			Groups:        []string{"system"},
			Needs:         []string{"build", "copy"},
			After:         []string{"diff"},
			Critical:      true,
			Root:          true,
			HoldInterrupt: true,
			Estimate:      30 * time.Second,
			DryRun:        true,
			Task:          Activate{Options: defaultActivateOptions()},
		},
		{
			Name:        "health",
			PerHost:     true,
			Description: "gate: the new system is running, no unit newly failed, probes answer; else roll back",
			Groups:      []string{"system"},
			Needs:       []string{"activate"},
			Gate:        true,
			Estimate:    5 * time.Second,
			Task:        Health{Options: defaultHealthOptions()},
		},
		{
			Name:        "generations",
			PerHost:     true,
			Phase:       9,
			Description: "delete old system generations (never the current or booted one) and collect garbage",
			Groups:      []string{"cleanup"},
			Needs:       []string{"accept"},
			Cleanup:     true,
			Root:        true,
			DryRun:      true,
			Estimate:    20 * time.Second,
			Task:        Generations{Options: GenerationsOptions{BootEntries: DefaultBootEntries}},
		},
	}
}
