package config

import "time"

// Host is one [host.NAME] table: a machine rebuild builds and activates,
// nixosConfigurations.<Name> of the flake. Without any [host.*] table a
// run has one host, the local machine, named by Config.Host, and its task
// names carry no host (build, activate); with hosts, the tasks that act
// on one machine run once per selected host (build@web1, activate@web1).
type Host struct {
	Name string // nixosConfigurations.<Name>
	// Target is where the system runs: "local" (this machine) or
	// user@addr[:port] reached over SSH.
	Target string
	// BuildOn is where it is built: "local" (this machine), "target" (the
	// target itself, nix build --eval-store auto --store ssh-ng://…), or
	// another host's name (that host is a Nix remote builder, --builders).
	BuildOn string
	Tags    []string
	// Elevate is how root is gained on the target: sudo, doas, run0 or
	// none; "" = the top-level elevate.
	Elevate string
	// SSHOptions are extra arguments for ssh (and NIX_SSHOPTS), e.g.
	// ["-i", "~/.ssh/deploy", "-o", "ConnectTimeout=5"].
	SSHOptions []string
	// ConfirmTimeout overrides task.activate.confirm_timeout for this
	// host; nil = not set.
	ConfirmTimeout *time.Duration
	// Keep and KeepSince override task.generations' keep and keep_since
	// for this host; nil / "" = not set.
	Keep      *int
	KeepSince string
	// Gates are the gate tasks that check this host after activation; nil
	// = every gate, empty = none.
	Gates []string
	// File is the file, "environment" or "flags" that last set a key of
	// this host.
	File string

	sources map[string]string // key → the layer that set it, for errors (Source)
}

// Local targets.
const (
	TargetLocal   = "local"
	BuildLocal    = "local"
	BuildTarget   = "target"
	RolloutAll    = "all"
	RolloutOne    = "one-by-one"
	RolloutCanary = "canary"
)

// IsLocal reports whether the host is this machine.
func (h Host) IsLocal() bool { return h.Target == "" || h.Target == TargetLocal }
