// Package demo builds the throwaway world `rebuild demo` runs the whole
// graph in, all under one directory: a private Nix store with a test host
// flake, a git repository for it with a bare remote, and a system profile
// with old generations (sandbox.go); a home with caches, a log that grew
// too big, Claude Code sessions and old backups (home.go) and the Claude
// data every analyzer reads (claude.go); an offline stand-in for the
// Claude configuration generator (files/claude-generator.sh); and the
// rebuild configuration and environment that point a run at all of it
// (demo.go).
//
// It never reads or writes anything outside its directory, needs no root,
// no daemon and no network, and every Nix command it runs gets the
// sandbox's environment (TESTING.md "Real Nix, offline, in a private
// store"). The files under files/ are the sandbox's flake, scripts and
// nix.conf as they are written into it, embedded in the binary.
//
// The Nix sandbox is also what the tests of the NixOS tasks run against,
// through the test helper tasks/nixos/nixtest, which adds what only tests
// need (reading the profile's generations, the switch-to-configuration
// calls, task environments). This package is part of the binary; nixtest
// is not.
package demo
