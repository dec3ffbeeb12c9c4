package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// DefaultGrace is how long a canceled command gets between SIGTERM and
// SIGKILL.
const DefaultGrace = 5 * time.Second

// Terminal is the controlling terminal handed to a command that needs it
// (an interactive user task, `sudo -v` asking for a password).
type Terminal struct {
	In, Out, Err *os.File
}

// Runner starts external commands. The zero value is usable.
type Runner struct {
	// Elevate is the prefix for commands that need root, e.g.
	// ["sudo", "--"]; empty when running as root or with elevate = none.
	Elevate []string
	// Grace between SIGTERM and SIGKILL; DefaultGrace when zero.
	Grace time.Duration
	// Environ is the base environment; os.Environ() when nil.
	Environ []string
	// TailLines is how many output lines an error carries (default 20).
	TailLines int
}

// Cmd is one command to run.
type Cmd struct {
	Args []string // program and arguments; never run through a shell unless Args says so
	Dir  string
	Env  []string // extra KEY=VALUE, appended to the runner's environment
	// Root runs the command through the runner's elevation prefix.
	Root  bool
	Stdin io.Reader
	// Stdout, when set, receives standard output instead of the log (for
	// output to parse, such as `nix build --json`); stderr still goes to Log.
	Stdout io.Writer
	// Log receives the command's output (both streams when Stdout is nil).
	Log io.Writer
	// OnLine is called with each line of logged output, ANSI stripped.
	OnLine func(line string)
	// Status, when set, receives the latest meaningful logged line.
	Status func(line string)
	// Terminal attaches the command to the terminal: nothing is captured,
	// and it stays in our process group so it may read the terminal (a
	// background process group reading it would be stopped by SIGTTIN).
	Terminal *Terminal
}

// Error is a failed command: its command line, how it ended and the last
// lines it printed.
type Error struct {
	Cmd    string
	Code   int    // exit code, -1 when killed by a signal or not started
	Signal string // the signal that ended it, if any
	Tail   []string
	Err    error // the underlying error (context, start failure)
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", e.Cmd)
	switch {
	case e.Err != nil && e.Code == -1 && e.Signal == "":
		b.WriteString(e.Err.Error())
	case e.Signal != "":
		fmt.Fprintf(&b, "killed by signal %s", e.Signal)
	default:
		fmt.Fprintf(&b, "exit status %d", e.Code)
	}
	if n := len(e.Tail); n > 0 {
		fmt.Fprintf(&b, "\n  last output:")
		for _, l := range e.Tail {
			fmt.Fprintf(&b, "\n    %s", l)
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// CommandLine quotes args for display.
func CommandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}

// Run runs c to completion. It returns nil on exit status 0 and an *Error
// otherwise. When ctx is done the command's process group gets SIGTERM,
// then SIGKILL after the grace period, and Run returns once it is gone.
func (r *Runner) Run(ctx context.Context, c Cmd) error {
	if len(c.Args) == 0 {
		return errors.New("proc: empty command")
	}
	args := c.Args
	if c.Root && len(r.Elevate) > 0 {
		args = append(append([]string(nil), r.Elevate...), args...)
	}
	tail := NewTail(r.tailLines())
	display := CommandLine(args)
	if err := ctx.Err(); err != nil {
		return &Error{Cmd: display, Code: -1, Err: err}
	}
	env := r.Environ
	if env == nil {
		env = os.Environ()
	}
	env = append(append([]string(nil), env...), c.Env...)
	cmd := exec.Command(args[0], args[1:]...)
	// A bare name is looked up on the PATH the command will run with, not
	// on ours: a sandbox or a user's environment may put other tools first.
	if !strings.Contains(args[0], "/") {
		if p, err := LookPath(args[0], getenv(env, "PATH")); err == nil {
			cmd.Path, cmd.Err = p, nil
		} else if errors.Is(err, exec.ErrDot) {
			cmd.Err = err
		}
	}
	cmd.Dir = c.Dir
	cmd.Env = env
	log := c.Log
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "$ %s\n", display)

	var drains sync.WaitGroup
	var pipes []*os.File // our read ends
	if c.Terminal != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Terminal.In, c.Terminal.Out, c.Terminal.Err
		// A command killed on cancel cannot undo its raw mode or its
		// `stty -echo`: the terminal's mode is put back when it is done.
		if restore := saveTerminal(c.Terminal.In); restore != nil {
			defer restore()
		}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Stdin = c.Stdin
		var mu sync.Mutex
		// The log and the tail see every byte; only the lines the tail
		// keeps are looked at, so a gigabyte of output costs little.
		logw := &lockedWriter{mu: &mu, w: io.MultiWriter(log, tail)}
		var onLine func(string)
		if c.OnLine != nil {
			onLine = c.OnLine
		}
		lastStatus := ""
		afterChunk := func() {
			if c.Status == nil {
				return
			}
			mu.Lock()
			s, ok := tail.LastMeaningful()
			mu.Unlock()
			if ok && s != lastStatus {
				lastStatus = s
				c.Status(s)
			}
		}
		// Our own pipes, read until EOF by goroutines we own: the child
		// can always write, however much it prints.
		errR, errW, err := os.Pipe()
		if err != nil {
			return &Error{Cmd: display, Code: -1, Err: err}
		}
		cmd.Stderr = errW
		pipes = append(pipes, errR)
		drains.Add(1)
		go func() { defer drains.Done(); drain(errR, logw, onLine, afterChunk) }()
		var outW *os.File
		if c.Stdout != nil {
			outR, w, err := os.Pipe()
			if err != nil {
				closeAll(errR, errW)
				return &Error{Cmd: display, Code: -1, Err: err}
			}
			outW = w
			pipes = append(pipes, outR)
			drains.Add(1)
			go func() { defer drains.Done(); drain(outR, c.Stdout, nil, nil) }()
		} else {
			cmd.Stdout = errW // one pipe, so the log keeps the order the child wrote
		}
		if outW != nil {
			cmd.Stdout = outW
		}
		defer func() {
			// Close our write ends after Start (below) or on failure.
			closeAll(errW, outW)
		}()
	}

	if err := cmd.Start(); err != nil {
		closeAll(pipes...)
		return &Error{Cmd: display, Code: -1, Err: err}
	}
	if c.Terminal == nil {
		// The child holds its copies; dropping ours lets EOF arrive.
		if f, ok := cmd.Stderr.(*os.File); ok {
			_ = f.Close()
		}
		if f, ok := cmd.Stdout.(*os.File); ok {
			_ = f.Close()
		}
	}

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var waitErr error
	canceled := false
	select {
	case waitErr = <-waited:
	case <-ctx.Done():
		canceled = true
		waitErr = r.stop(cmd, c.Terminal == nil, waited)
	}
	if c.Terminal == nil {
		// Anything the command left running in its group would keep our
		// pipes open; it belongs to the command and goes with it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A process that left the group (setsid, a daemon started by the
	// command) may hold the pipes open forever: after the grace period,
	// closing our read ends ends the drains.
	drained := make(chan struct{})
	go func() { drains.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(r.grace()):
		closeAll(pipes...)
		<-drained
	}
	closeAll(pipes...)
	tail.Flush()

	if waitErr == nil && !canceled {
		return nil
	}
	e := &Error{Cmd: display, Code: -1, Tail: tail.Lines()}
	if canceled {
		e.Err = ctx.Err()
	}
	var exitErr *exec.ExitError
	if errors.As(waitErr, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal = unix.SignalName(ws.Signal())
		} else {
			e.Code = exitErr.ExitCode()
		}
	} else if waitErr != nil && e.Err == nil {
		e.Err = waitErr
	}
	return e
}

// stop sends SIGTERM to the command's process group (or the process when it
// shares ours), then SIGKILL after the grace period, and returns Wait's
// result.
func (r *Runner) stop(cmd *exec.Cmd, group bool, waited <-chan error) error {
	pid := cmd.Process.Pid
	target := pid
	if group {
		target = -pid
	}
	_ = syscall.Kill(target, syscall.SIGTERM)
	t := time.NewTimer(r.grace())
	defer t.Stop()
	select {
	case err := <-waited:
		return err
	case <-t.C:
		_ = syscall.Kill(target, syscall.SIGKILL)
		return <-waited
	}
}

// saveTerminal returns a function that puts f's terminal mode back as it
// is now; nil when f is not a terminal. It does not call f.Fd(), which
// would switch f to blocking mode.
func saveTerminal(f *os.File) func() {
	if f == nil {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	var st *term.State
	if rc.Control(func(fd uintptr) { st, _ = term.GetState(int(fd)) }) != nil || st == nil {
		return nil
	}
	return func() { _ = rc.Control(func(fd uintptr) { _ = term.Restore(int(fd), st) }) }
}

func (r *Runner) grace() time.Duration {
	if r.Grace > 0 {
		return r.Grace
	}
	return DefaultGrace
}

func (r *Runner) tailLines() int {
	if r.TailLines > 0 {
		return r.TailLines
	}
	return 20
}

// getenv reads key from a KEY=VALUE list; the last one wins, as in exec.
func getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
