package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// sshShare is the run's own ssh connection to each remote host, which
// that host's commands share (proc.SSH.ControlPath): a remote activation
// is some ten commands, and each would otherwise pay for a handshake and
// a login. Each connection is a child of the run (ssh -M -N, in its own
// process group so a Ctrl-C held back during activation does not cut it),
// ended when the run ends. A command finding no connection (not up yet,
// or lost) connects on its own, as it did before; a fresh connection (the
// confirmation that the host can still be reached) never shares.
//
// The sockets live in a directory of this run under the system's
// temporary directory, 0700 with a new name each run: a socket path must
// stay short, and nobody else may ride on a connection to a host as root.
type sshShare struct {
	dir     string
	masters []*exec.Cmd
	runner  *proc.Runner // the run's: the masters are its children
}

// startSSHShare opens a connection to each remote host among hosts; with
// none, or when the directory cannot be made, it shares nothing (dir "").
func startSSHShare(hosts []config.Host, environ []string, runner *proc.Runner) *sshShare {
	s := &sshShare{runner: runner}
	for _, h := range hosts {
		if h.IsLocal() {
			continue
		}
		t, err := proc.ParseSSHTarget(h.Target)
		if err != nil {
			continue // the host's tasks say what is wrong with it
		}
		if s.dir == "" {
			if s.dir, err = os.MkdirTemp("", "rebuild-ssh-"); err != nil {
				return &sshShare{}
			}
		}
		t.Options = h.SSHOptions
		t.ControlPath = filepath.Join(s.dir, h.Name+".sock")
		argv := t.MasterCommand()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = environ
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		// No output: a connection that fails leaves its commands to
		// connect on their own, and they say what is wrong.
		// A child the runner knows, so that its reaping of orphans never
		// takes the exit status Close waits for.
		if runner.StartExternal(cmd) == nil {
			s.masters = append(s.masters, cmd)
		}
	}
	return s
}

// Dir is the directory of the sockets, "" when nothing is shared.
func (s *sshShare) Dir() string { return s.dir }

// Close ends every connection and removes the directory: no ssh of this
// run outlives it.
func (s *sshShare) Close() {
	for _, m := range s.masters {
		_ = m.Process.Signal(syscall.SIGTERM)
		_ = s.runner.WaitExternal(m)
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
