package nixos

import (
	"context"
	"fmt"
	"runtime"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// Where a host's system is built (its build_on), always with Nix's own
// distribution, and evaluated here in every case:
//
//	local            nix build … (this machine builds)
//	another host B   nix build … --max-jobs 0 --builders "ssh-ng://B x86_64-linux - 1 1"
//	                 (B builds, as a Nix remote builder; the result comes back here)
//	target           nix build … --eval-store auto --store ssh-ng://<target>
//	                 (the target builds; the result stays there: copy has nothing to do)
//
// A port and ssh_options reach Nix's ssh through NIX_SSHOPTS (Nix's
// ssh-ng:// URIs take no port). Where a nix-daemon runs the build (a
// multi-user install), the daemon makes the builder's ssh connection as
// root, with root's ssh configuration, and honours --builders only for a
// trusted user: that is Nix's, not rebuild's, to change.

// buildWhere is how the build of a host is sent where it happens.
type buildWhere struct {
	args     []string // nix build arguments
	env      []string // NIX_SSHOPTS
	onTarget bool     // the result is in the target's store, not here
	desc     string   // "on web1 (root@…)", for the summary; "" here
}

// buildPlace is where env's host is built; r is its target (nil: local).
func buildPlace(env *tasks.Env, r *remote) (buildWhere, error) {
	h := env.Target()
	switch h.BuildOn {
	case "", config.BuildLocal:
		return buildWhere{}, nil
	case config.BuildTarget:
		if r == nil {
			return buildWhere{}, nil // the target is this machine
		}
		opts, err := r.ssh.NixSSHOpts()
		if err != nil {
			return buildWhere{}, fmt.Errorf("host %s: %w", h.Name, err)
		}
		return buildWhere{args: []string{"--eval-store", "auto", "--store", r.ssh.StoreURI()},
			env: []string{"NIX_SSHOPTS=" + opts}, onTarget: true, desc: "on the target " + r.String()}, nil
	}
	var b config.Host
	ok := false
	if env.Config != nil {
		b, ok = env.Config.Hosts[h.BuildOn]
	}
	if !ok {
		return buildWhere{}, fmt.Errorf("host %s: build_on = %q is neither local, target nor a host ([host.%s])", h.Name, h.BuildOn, h.BuildOn)
	}
	if b.IsLocal() {
		return buildWhere{}, nil // the builder is this machine
	}
	rb, err := newRemote(b, env.Config.Elevate)
	if err != nil {
		return buildWhere{}, fmt.Errorf("host %s: build_on = %q: %w", h.Name, h.BuildOn, err)
	}
	opts, err := rb.ssh.NixSSHOpts()
	if err != nil {
		return buildWhere{}, fmt.Errorf("host %s: build_on = %q: %w", h.Name, h.BuildOn, err)
	}
	return buildWhere{args: []string{"--max-jobs", "0", "--builders", rb.ssh.Builder(localSystem())},
		env: []string{"NIX_SSHOPTS=" + opts}, desc: "on the builder " + rb.String()}, nil
}

// localSystem is this machine's Nix system type, the one a remote
// builder is declared for: the hosts are built for it.
func localSystem() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "riscv64": "riscv64", "arm": "armv7l"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	return arch + "-linux"
}

// handOnRemote hands on what build made for a host reached over ssh:
// unchanged when the target runs it and its profile points at it
// already (read there), else changed, with the system it runs now for
// diff.
func handOnRemote(ctx context.Context, env *tasks.Env, r *remote, out string, onTarget bool) error {
	ts, err := r.systems(ctx, env, false)
	if err != nil {
		// Whether it runs there is not known: activation finds out.
		fmt.Fprintf(env.Log, "whether %s runs %s already is not known: %v\n", r.host.Name, out, err)
	}
	if err == nil && ts.Current == out {
		if ts.Profile == out {
			BuiltKey.Put(env, Built{Out: out, Changed: false, OnTarget: onTarget})
			env.Stat("no changes")
			fmt.Fprintf(env.Log, "%s is the running system of %s and its profile's\n", out, r.host.Name)
			return nil
		}
		env.Stat("already running on %s, but the profile points elsewhere: activating to set the profile and boot default", r.host.Name)
	}
	BuiltKey.Put(env, Built{Out: out, Changed: true, Running: ts.Current, OnTarget: onTarget})
	env.Action("built %s for %s", out, r.host.Name)
	return nil
}

// unchangedOn is unchanged for a host reached over ssh: the stored
// fingerprint is this one, and its store path is, on the target, both
// the running system and the profile's (so it is in the target's store).
func unchangedOn(ctx context.Context, env *tasks.Env, r *remote, fp string) (string, bool) {
	if fp == "" {
		return "", false
	}
	rec, ok := loadFingerprint(env.Config.StateDir, env.Config.Host)
	if !ok || rec.Fingerprint != fp {
		return "", false
	}
	ts, err := r.systems(ctx, env, false)
	if err != nil {
		fmt.Fprintf(env.Log, "fingerprint not used: %v\n", err)
		return "", false
	}
	if ts.Current != rec.Out || ts.Profile != rec.Out {
		return "", false
	}
	return rec.Out, true
}
