package main

import (
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// System is everything the program takes from the machine it runs on, in
// one place, so tests can replace any of it: the terminal, the
// environment, the clock and the file-system roots.
type System struct {
	In       *os.File
	Out, Err io.Writer
	// OutFile is Out when it is a file (for terminal checks); may be nil.
	OutFile *os.File
	Environ []string
	Home    string
	// SystemFile is the system-wide configuration file:
	// config.DefaultSystemFile when "", none when "-".
	SystemFile string
	Host       string
	Now        func() time.Time
	// Euid is the effective user id (root needs no elevation).
	Euid int
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
	return &System{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, OutFile: os.Stdout,
		Environ: os.Environ(), Home: home, Host: host, Now: time.Now, Euid: os.Geteuid()}
}

// StdinTTY and StdoutTTY report whether the streams are terminals.
func (s *System) StdinTTY() bool { return s.In != nil && term.IsTerminal(int(s.In.Fd())) }

// StdoutTTY reports whether standard output is a terminal.
func (s *System) StdoutTTY() bool { return s.OutFile != nil && term.IsTerminal(int(s.OutFile.Fd())) }

// Getenv reads a variable from the System's environment.
func (s *System) Getenv(key string) string {
	for i := len(s.Environ) - 1; i >= 0; i-- {
		kv := s.Environ[i]
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return kv[len(key)+1:]
		}
	}
	return ""
}

// Width is the terminal width, 100 when unknown.
func (s *System) Width() int {
	if s.OutFile != nil {
		if w, _, err := term.GetSize(int(s.OutFile.Fd())); err == nil && w > 20 {
			return w
		}
	}
	return 100
}
