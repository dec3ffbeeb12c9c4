package main

import (
	"os"
	"time"
)

// System is everything the program takes from the machine it runs on, in
// one place, so tests can replace any of it: the standard streams and what
// was decided about them, the environment, the clock and the file-system
// roots.
type System struct {
	IO      *IOStreams
	Environ []string
	Home    string
	// SystemFile is the system-wide configuration file:
	// config.DefaultSystemFile when "", none when "-".
	SystemFile string
	Host       string
	Now        func() time.Time
	// Euid is the effective user id (root needs no elevation).
	Euid int
	// NixosDir is /etc/nixos, where NixOS keeps its configuration: the
	// flake is looked for there (see lookupFlake). "" looks nowhere.
	NixosDir string
	// Subreaper: the process is a child subreaper (proc.BecomeSubreaper),
	// so the runners reap what commands leave behind.
	Subreaper bool
}

// OSSystem is the real machine.
func OSSystem() *System {
	home, _ := os.UserHomeDir()
	host, _ := os.Hostname()
	for i := 0; i < len(host); i++ {
		if host[i] == '.' {
			host = host[:i]
			break
		}
	}
	environ := os.Environ()
	return &System{IO: NewIOStreams(os.Stdin, os.Stdout, os.Stderr, environ),
		Environ: environ, Home: home, Host: host, Now: time.Now, Euid: os.Geteuid(), NixosDir: "/etc/nixos"}
}

// Getenv reads a variable from the System's environment.
func (s *System) Getenv(key string) string { return getenv(s.Environ, key) }

// getenv reads key from a KEY=VALUE list; the last one wins, as in exec.
func getenv(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		kv := environ[i]
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return kv[len(key)+1:]
		}
	}
	return ""
}
