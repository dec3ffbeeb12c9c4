package proc

import "os/exec"

// A command that must outlive its run (a detached activation's `setsid
// --fork`) cannot be a Run command: its token would mark what it leaves
// behind as escaped, to be killed. Its caller starts it with os/exec —
// but it is still a child of this process, and reaping orphans takes the
// exit status of every zombie child the Runner does not know, after which
// os/exec's Wait fails with "waitid: no child processes" although the
// command did its work. StartExternal and WaitExternal make it a child
// the Runner knows.

// StartExternal starts cmd, set up by the caller, as a child of this
// Runner's: reaping orphans leaves it to WaitExternal.
func (r *Runner) StartExternal(cmd *exec.Cmd) error {
	r.kids.start.RLock()
	defer r.kids.start.RUnlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.kids.add(cmd.Process.Pid)
	return nil
}

// WaitExternal waits for cmd, started by StartExternal.
func (r *Runner) WaitExternal(cmd *exec.Cmd) error {
	err := cmd.Wait()
	r.kids.remove(cmd.Process.Pid)
	return err
}
