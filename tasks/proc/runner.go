package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/rebuild-nixos/rebuild/internal/tail"
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
	// Subreaper says the process is a child subreaper (BecomeSubreaper):
	// what a command leaves behind is re-parented to it, and Run reaps
	// those orphans (reap.go).
	Subreaper bool

	kids children
	// sweeps coalesces the passes that kill what commands left behind;
	// passes counts them (sweep.go).
	sweeps sweeps
	passes passCounts
	// bufs are the output drains' buffers (drain.go).
	bufs drainBuffers
}

// Cmd is one command to run.
type Cmd struct {
	Args []string // program and arguments; never run through a shell unless Args says so
	Dir  string
	Env  []string // extra KEY=VALUE, appended to the runner's environment
	// Display, when set, is the command line the log and an error show
	// instead of Args quoted: for an ssh command, the host and what runs
	// there rather than a script in quotes.
	Display string
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
	x := r.newExecution(c)
	if err := ctx.Err(); err != nil {
		return x.notStarted(err)
	}
	x.prepare()
	if c.Terminal != nil {
		// A command killed on cancel cannot undo its raw mode or its
		// `stty -echo`: the terminal's mode is put back when it is done.
		if restore := x.attachTerminal(); restore != nil {
			defer restore()
		}
	} else {
		if err := x.attachPipes(); err != nil {
			return x.notStarted(err)
		}
		defer x.closeWriteEnds()
	}
	// The death signal follows the thread that forked the child, not the
	// process: that thread must stay until the child is done.
	runtime.LockOSThread()
	locked := true
	defer func() {
		if locked {
			runtime.UnlockOSThread()
		}
	}()
	r.kids.start.RLock()
	if err := x.cmd.Start(); err != nil {
		r.kids.start.RUnlock()
		closeAll(x.pipes...)
		return x.notStarted(err)
	}
	r.kids.add(x.cmd.Process.Pid)
	r.kids.start.RUnlock()
	x.dropWriteEnds()
	waitErr, canceled := x.wait(ctx)
	// The child has been waited for: no death signal is left to send, and
	// the thread may go back. Held through settle's waits (the sweep, the
	// drains), each wake-up was a hand-over between threads.
	locked = false
	runtime.UnlockOSThread()
	x.settle()
	return x.result(ctx, waitErr, canceled)
}

// execution is one Run of one command: the process, the pipes we read its
// output from and the goroutines that drain them.
type execution struct {
	r       *Runner
	c       Cmd
	args    []string // c.Args behind the elevation prefix when c.Root
	display string   // args quoted, for the log and for errors
	tail    *tail.Tail
	log     io.Writer // c.Log, or io.Discard
	cmd     *exec.Cmd
	token   string // marks every process of the command (reap.go)
	drains  sync.WaitGroup
	pipes   []*os.File // our read ends
	// The child's write ends: closed after Start (dropWriteEnds), and
	// again at the end of Run in case Start was never reached.
	errW, outW *os.File
}

func (r *Runner) newExecution(c Cmd) *execution {
	args := c.Args
	if c.Root && len(r.Elevate) > 0 {
		args = append(append([]string(nil), r.Elevate...), args...)
	}
	display := c.Display
	if display == "" {
		display = CommandLine(args)
	}
	return &execution{r: r, c: c, args: args, display: display, tail: tail.New(r.tailLines())}
}

// notStarted is the error of a command that never ran.
func (x *execution) notStarted(err error) error {
	return &Error{Cmd: x.display, Code: -1, Err: err}
}

// prepare builds the command with the runner's environment and c's, and
// writes its command line to the log.
func (x *execution) prepare() {
	env := x.r.Environ
	if env == nil {
		env = os.Environ()
	}
	// The token marks every process of this command, wherever it goes.
	x.token = newToken()
	env = append(append(append([]string(nil), env...), x.c.Env...), tokenVar+"="+x.token)
	cmd := exec.Command(x.args[0], x.args[1:]...)
	// A bare name is looked up on the PATH the command will run with, not
	// on ours: a sandbox or a user's environment may put other tools first.
	if !strings.Contains(x.args[0], "/") {
		if p, err := LookPath(x.args[0], getenv(env, "PATH")); err == nil {
			cmd.Path, cmd.Err = p, nil
		} else if errors.Is(err, exec.ErrDot) {
			cmd.Err = err
		}
	}
	cmd.Dir = x.c.Dir
	cmd.Env = env
	x.cmd = cmd
	x.log = x.c.Log
	if x.log == nil {
		x.log = io.Discard
	}
	line := "$ " + x.display + "\n"
	if cl, ok := x.log.(commandLineWriter); ok {
		_, _ = cl.WriteCommandLine([]byte(line))
	} else {
		_, _ = io.WriteString(x.log, line)
	}
}

// commandLineWriter is a log that takes a command's line apart from its
// output: a task log may hold it in memory and make no file when nothing
// else comes (render's task log; the scheduler's output passes it on).
type commandLineWriter interface {
	WriteCommandLine(p []byte) (int, error)
}

// attachTerminal gives the command the terminal and returns what puts the
// terminal's mode back (nil when there is nothing to restore).
func (x *execution) attachTerminal() (restore func()) {
	t := x.c.Terminal
	x.cmd.Stdin, x.cmd.Stdout, x.cmd.Stderr = t.In, t.Out, t.Err
	return saveTerminal(t.In)
}

// attachPipes puts the command in a process group of its own and gives it
// our own pipes, read until EOF by goroutines we own: the child can always
// write, however much it prints.
func (x *execution) attachPipes() error {
	x.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSignal(x.c)}
	x.cmd.Stdin = x.c.Stdin
	var mu sync.Mutex
	// The log and the tail see every byte; only the lines the tail
	// keeps are looked at, so a gigabyte of output costs little.
	logw := &lockedWriter{mu: &mu, w: io.MultiWriter(x.log, x.tail)}
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	x.cmd.Stderr = errW
	x.pipes = append(x.pipes, errR)
	x.startDrain(errR, logw, x.c.OnLine, x.statusAfterChunk(&mu))
	if x.c.Stdout == nil {
		x.cmd.Stdout = errW // one pipe, so the log keeps the order the child wrote
		x.errW = errW
		return nil
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(errR, errW)
		return err
	}
	x.pipes = append(x.pipes, outR)
	x.startDrain(outR, x.c.Stdout, nil, nil)
	x.cmd.Stdout = outW
	x.errW, x.outW = errW, outW
	return nil
}

// statusAfterChunk returns what reports the latest meaningful line to
// c.Status after each chunk of output, once per new line; nil without
// c.Status.
func (x *execution) statusAfterChunk(mu *sync.Mutex) func() {
	if x.c.Status == nil {
		return nil
	}
	lastStatus := ""
	return func() {
		mu.Lock()
		s, ok := lastMeaningful(x.tail)
		mu.Unlock()
		if ok && s != lastStatus {
			lastStatus = s
			x.c.Status(s)
		}
	}
}

func (x *execution) startDrain(r io.Reader, dst io.Writer, onLine func(string), afterChunk func()) {
	x.drains.Add(1)
	go func() {
		defer x.drains.Done()
		buf := x.r.bufs.get()
		defer x.r.bufs.put(buf)
		drain(r, dst, onLine, afterChunk, *buf)
	}()
}

func (x *execution) closeWriteEnds() { closeAll(x.errW, x.outW) }

// dropWriteEnds closes our copies of the child's write ends once it has
// its own, so that EOF arrives when it is done. A terminal stays open.
func (x *execution) dropWriteEnds() {
	if x.c.Terminal != nil {
		return
	}
	if f, ok := x.cmd.Stderr.(*os.File); ok {
		_ = f.Close()
	}
	if f, ok := x.cmd.Stdout.(*os.File); ok {
		_ = f.Close()
	}
}

// wait waits for the command to end or, when ctx is done first, stops it;
// canceled says which.
func (x *execution) wait(ctx context.Context) (waitErr error, canceled bool) {
	waited := make(chan error, 1)
	go func() {
		err := x.cmd.Wait()
		x.r.kids.remove(x.cmd.Process.Pid)
		waited <- err
	}()
	select {
	case waitErr = <-waited:
		return waitErr, false
	case <-ctx.Done():
		return x.r.stop(x.cmd, x.c.Terminal == nil, waited), true
	}
}

// settle ends what the command left behind and waits for the drains.
func (x *execution) settle() {
	if x.c.Terminal == nil {
		// Anything the command left running in its group would keep our
		// pipes open; it belongs to the command and goes with it.
		_ = syscall.Kill(-x.cmd.Process.Pid, syscall.SIGKILL)
	}
	// So does what left the group: it carries the command's token. The
	// pass that finds it, and reaps orphans, is shared with the commands
	// that end at the same time (sweep.go).
	x.r.sweep(x.token)
	// A process that left the group (setsid, a daemon started by the
	// command) may hold the pipes open forever: after the grace period,
	// closing our read ends ends the drains.
	drained := make(chan struct{})
	go func() { x.drains.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(x.r.grace()):
		closeAll(x.pipes...)
		<-drained
	}
	closeAll(x.pipes...)
	x.tail.Flush()
}

// result is Run's answer: nil for exit status 0, else an *Error saying how
// the command ended, with its last lines.
func (x *execution) result(ctx context.Context, waitErr error, canceled bool) error {
	if waitErr == nil && !canceled {
		return nil
	}
	e := &Error{Cmd: x.display, Code: -1, Tail: x.tail.Lines()}
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
