package toolusage

import (
	"strings"
	"testing"
)

func TestParsePackages(t *testing.T) {
	nix := `{ pkgs, lib, ... }:
let
  helper = pkgs.writeShellScriptBin "my-helper" ''
    exec rg "$@"
  '';
in {
  environment.systemPackages = with pkgs; [
    ripgrep  # fast grep
    fd
    # commented-out  # not a package
    python3Packages.black  # formatter
    (pkgs.callPackage ./x.nix { })
    helper
    (writeShellScriptBin "other-script" ''
      echo hi
    '')
  ];
  programs.git.package = pkgs.gitFull;
  services.foo.enable = lib.mkDefault true;  # not a package either
}
`
	got, err := ParsePackages(strings.NewReader(nix))
	if err != nil {
		t.Fatal(err)
	}
	want := "black fd gitFull helper my-helper other-script ripgrep"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestCommandOf(t *testing.T) {
	for in, want := range map[string]string{
		"rg foo":               "rg",
		"sudo -E htop":         "htop",
		"FOO=1 BAR=2 jq .":     "jq",
		"env -i /usr/bin/fd x": "fd",
		"command ls":           "ls",
		"time nix build":       "nix",
		"  ":                   "",
		"(cd x; make)":         "cd",
	} {
		if got := CommandOf(in); got != want {
			t.Errorf("CommandOf(%q) = %q, want %q", in, got, want)
		}
	}
}
