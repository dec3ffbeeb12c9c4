package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/config"
)

// The lookup order: --flake, the configuration's flake, NH_OS_FLAKE,
// NH_FLAKE, /etc/nixos with a flake.nix, the built-in ~/nixos-config
// with one. The first place that is set decides, found or not.
func TestFlakeLookupOrder(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	flake := func(name string) string {
		d := filepath.Join(root, name)
		writeFile(t, filepath.Join(d, "flake.nix"), "{ outputs = _: {}; }\n")
		return d
	}
	etc, nhOS, nh, fromCfg, fromFlag := flake("etc-nixos"), flake("nh-os"), flake("nh"), flake("cfg"), flake("flag")
	def := filepath.Join(home, "nixos-config")
	empty := filepath.Join(root, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name           string
		cfg            config.Config
		env            []string
		nixosDir       string
		defaultHasOne  bool
		wantRef, from  string
		wantErrContain string
	}{
		{name: "--flake first", cfg: config.Config{Flake: fromFlag, FlakeSource: config.SourceFlags},
			env: []string{"NH_FLAKE=" + nh}, nixosDir: etc, wantRef: fromFlag, from: "--flake"},
		{name: "--flake, as the flag layer names it", cfg: config.Config{Flake: fromFlag, FlakeSource: config.FlagSource("--flake")},
			env: []string{"NH_FLAKE=" + nh}, wantRef: fromFlag, from: "--flake"},
		{name: "the configuration before NH_*", cfg: config.Config{Flake: fromCfg, FlakeSource: "/etc/rebuild/config.toml"},
			env: []string{"NH_OS_FLAKE=" + nhOS}, wantRef: fromCfg, from: "flake in /etc/rebuild/config.toml"},
		{name: "REBUILD_FLAKE", cfg: config.Config{Flake: fromCfg, FlakeSource: config.SourceEnvironment},
			wantRef: fromCfg, from: "REBUILD_FLAKE"},
		{name: "NH_OS_FLAKE before NH_FLAKE", cfg: config.Config{Flake: def},
			env: []string{"NH_FLAKE=" + nh, "NH_OS_FLAKE=" + nhOS}, nixosDir: etc, wantRef: nhOS, from: "NH_OS_FLAKE"},
		{name: "NH_FLAKE before /etc/nixos", cfg: config.Config{Flake: def},
			env: []string{"NH_FLAKE=" + nh}, nixosDir: etc, wantRef: nh, from: "NH_FLAKE"},
		{name: "/etc/nixos before the default", cfg: config.Config{Flake: def}, nixosDir: etc, defaultHasOne: true,
			wantRef: etc, from: etc},
		{name: "the default last", cfg: config.Config{Flake: def}, nixosDir: empty, defaultHasOne: true,
			wantRef: def, from: "the built-in default ~/nixos-config"},
		{name: "~ in NH_FLAKE", cfg: config.Config{Flake: def}, env: []string{"NH_FLAKE=~/nixos-config"}, defaultHasOne: true,
			wantRef: def, from: "NH_FLAKE"},
		{name: "a remote flake is Nix's to check", cfg: config.Config{Flake: "github:alice/nixos", FlakeSource: config.SourceFlags},
			wantRef: "github:alice/nixos", from: "--flake"},
		{name: "a set place without a flake.nix stops the lookup", cfg: config.Config{Flake: def},
			env: []string{"NH_FLAKE=" + empty}, nixosDir: etc, wantErrContain: "the flake set by NH_FLAKE, " + empty + ", has no flake.nix"},
		{name: "nothing anywhere", cfg: config.Config{Flake: def}, nixosDir: empty,
			wantErrContain: empty + "  has no flake.nix"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.RemoveAll(def)
			if c.defaultHasOne {
				writeFile(t, filepath.Join(def, "flake.nix"), "{ outputs = _: {}; }\n")
			}
			sys := &System{Environ: append([]string{"HOME=" + home}, c.env...), Home: home, NixosDir: c.nixosDir}
			cfg := c.cfg
			l := lookupFlake(sys, &cfg, filepath.Join(home, ".config", "rebuild", "config.toml"))
			if c.wantErrContain != "" {
				if l.Err == nil || !strings.Contains(l.Err.Error(), c.wantErrContain) || l.Ref != "" {
					t.Fatalf("ref %q, err %v; want an error with %q", l.Ref, l.Err, c.wantErrContain)
				}
				return
			}
			if l.Err != nil || l.Ref != c.wantRef || l.From != c.from {
				t.Errorf("ref %q from %q (err %v); want %q from %q", l.Ref, l.From, l.Err, c.wantRef, c.from)
			}
		})
	}
}
