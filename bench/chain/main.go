// Command chain compares rebuild's system chain with the seed script's on
// the test host flake (internal/demo's sandbox: a private store, offline),
// side by side in one run: the seed's `nix flake update`, `nix build
// --impure` twice, the profile set and the switch, against `rebuild --only=system --yes`.
// The host's evaluation is given a weight (about half a second by
// default, -weight) so that what a real NixOS evaluation costs shows.
//
//	go run ./bench/chain                 # 5 runs of each, both kinds
//	go run ./bench/chain -runs 9 -weight 3000000
//
// Two kinds of run, each measured alternately for the two sides so both
// see the same machine: "no change" (nothing in the flake or its inputs
// changed since the last run) and "change" (foo's version changed in the
// input flake, so the lock, the build and the switch all have work). It
// prints the median wall time of each side and their ratio.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/bench/internal/stats"
	"github.com/rebuild-nixos/rebuild/internal/demo"
)

func main() {
	runs := flag.Int("runs", 5, "runs of each side, for each kind")
	weight := flag.Int("weight", 200_000, "length of the list the evaluation folds: its weight (the default adds about half a second to an evaluation here)")
	keep := flag.Bool("keep", false, "keep the sandbox and print its path")
	verbose := flag.Bool("v", false, "print the time of each step of the seed chain")
	flag.Parse()
	if err := run(*runs, *weight, *keep, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "chain:", err)
		os.Exit(1)
	}
}

func run(runs, weight int, keep, verbose bool) error {
	if runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	if _, err := exec.LookPath("nix"); err != nil {
		return errors.New("nix is not installed")
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "rebuild-bench-chain-")
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "rebuild")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/rebuild").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/rebuild: %v\n%s", err, out)
	}
	s, err := demo.Build(ctx, filepath.Join(dir, "sandbox"), time.Now())
	if s != nil && !keep {
		defer func() { _ = s.Remove(); _ = os.RemoveAll(dir) }()
	}
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("sandbox:", s.Root)
	}
	if err := weigh(s, weight); err != nil {
		return err
	}
	b := bench{s: s, bin: bin, verbose: verbose}
	// Warm both: the store has the system, rebuild has its fingerprint.
	if _, err := b.rebuild(ctx); err != nil {
		return err
	}
	if _, err := b.seed(ctx); err != nil {
		return err
	}
	fmt.Printf("test host flake, evaluation weight %d; %d runs of each side, alternating; medians\n\n", weight, runs)
	fmt.Printf("%-10s %12s %12s %8s\n", "kind", "seed chain", "rebuild", "ratio")
	for _, kind := range []string{"no change", "change"} {
		var seed, reb []time.Duration
		for i := range runs {
			for _, side := range []string{"seed", "rebuild"} {
				if kind == "change" {
					if err := s.SetVersion(fmt.Sprintf("1.%d.%d", 3+i, len(seed)+len(reb))); err != nil {
						return err
					}
				}
				var d time.Duration
				var err error
				if side == "seed" {
					d, err = b.seed(ctx)
					seed = append(seed, d)
				} else {
					d, err = b.rebuild(ctx)
					reb = append(reb, d)
				}
				if err != nil {
					return fmt.Errorf("%s, %s: %w", kind, side, err)
				}
			}
		}
		ms, mr := stats.Median(seed), stats.Median(reb)
		fmt.Printf("%-10s %12s %12s %7.2f×\n", kind, ms.Round(time.Millisecond), mr.Round(time.Millisecond), float64(mr)/float64(ms))
	}
	return nil
}

// weigh makes the host's evaluation fold a list of n numbers into the
// toplevel (a derivation attribute, so every evaluation forces it),
// uncommitted: Nix reads a git flake's tracked files with their changes.
func weigh(s *demo.Sandbox, n int) error {
	p := filepath.Join(s.Flake, "flake.nix")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	old := "builder = \"/bin/sh\";\n      args = [ ./toplevel.sh ];"
	if !bytes.Contains(b, []byte(old)) {
		return errors.New("the host flake's toplevel is not the expected one")
	}
	w := fmt.Sprintf("builder = \"/bin/sh\";\n      weight = builtins.toString (builtins.foldl' (a: x: a + x) 0 (builtins.genList (x: x) %d));\n      args = [ ./toplevel.sh ];", n)
	return os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(w), 1), 0o644)
}

type bench struct {
	s       *demo.Sandbox
	bin     string
	verbose bool
}

// step runs one command of the seed chain, timed with -v.
func (b bench) step(ctx context.Context, dir string, args ...string) (string, error) {
	start := time.Now()
	out, err := b.s.Run(ctx, dir, args...)
	if b.verbose {
		fmt.Fprintf(os.Stderr, "  %6s  %s\n", time.Since(start).Round(time.Millisecond), strings.Join(args[:min(len(args), 3)], " "))
	}
	return out, err
}

// seed is the seed script's chain: update the inputs, build (twice, as
// the script test-builds then nixos-rebuild evaluates again), set the
// profile and switch (nixos-rebuild switch).
func (b bench) seed(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if _, err := b.step(ctx, b.s.Flake, "nix", "flake", "update"); err != nil {
		return 0, err
	}
	var out string
	for range 2 {
		o, err := b.step(ctx, b.s.Flake, "nix", "build", "--no-link", "--json", "--impure", b.s.Attr())
		if err != nil {
			return 0, err
		}
		out = o
	}
	i := strings.Index(out, `"out":"`)
	if i < 0 {
		return 0, fmt.Errorf("no output path in %q", out)
	}
	sys := out[i+len(`"out":"`):]
	sys = sys[:strings.IndexByte(sys, '"')]
	// nixos-rebuild switch sets the system profile, then switches: the
	// seed's activation is both (rebuild's activate does the same work
	// in the safe order: test, the profile, boot).
	if _, err := b.step(ctx, "", "nix-env", "-p", b.s.Profile, "--set", sys); err != nil {
		return 0, err
	}
	if _, err := b.step(ctx, "", filepath.Join(sys, "bin", "switch-to-configuration"), "switch"); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// rebuild is `rebuild --only=system --yes` on the sandbox.
func (b bench) rebuild(ctx context.Context) (time.Duration, error) {
	output := "quiet"
	if b.verbose {
		output = "plain"
	}
	cmd := exec.CommandContext(ctx, b.bin, "--config", b.s.ConfigFile(), "--only=system", "--yes", "--output", output)
	cmd.Env = b.s.RebuildEnviron(os.Environ())
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("rebuild: %v\n%s", err, out)
	}
	if b.verbose {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "✔") || strings.Contains(l, "↷") || strings.Contains(l, "critical path") {
				fmt.Fprintf(os.Stderr, "  rebuild %s\n", l)
			}
		}
		fmt.Fprintf(os.Stderr, "  %6s  rebuild, the whole process\n", d.Round(time.Millisecond))
	}
	return d, nil
}
