package proc

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Elevation methods, the values of the elevate setting.
const (
	ElevateSudo = "sudo"
	ElevateDoas = "doas"
	ElevateRun0 = "run0"
	ElevateNone = "none"
)

// DefaultKeepAlive is how often the Elevator refreshes sudo's credentials.
const DefaultKeepAlive = 60 * time.Second

// Elevator gets root for the commands that need it. Acquire is called
// once, before the first task that needs root: it validates credentials
// (`sudo -v`, on the terminal when there is one, so a password can be
// typed) and then keeps them alive in the background (`sudo -n -v` every
// Interval) until Close, so a long build never ends at a password prompt.
// Run as root (Euid() == 0) or with method none, nothing is elevated.
//
// doas is validated with `doas true` and refreshed with `doas -n true`
// (which helps where doas.conf says persist); run0 asks polkit for each
// command and has nothing to validate or keep alive.
type Elevator struct {
	Method   string        // sudo | doas | run0 | none
	Program  string        // the program to run; Method looked up in PATH when empty
	Runner   *Runner       // runs validation and keep-alive; its Elevate is ignored
	Log      io.Writer     // receives their output; io.Discard when nil
	Euid     func() int    // os.Geteuid when nil
	Interval time.Duration // DefaultKeepAlive when zero

	mu     sync.Mutex
	done   bool
	prefix []string
	err    error
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Acquire validates credentials on the first call and returns the prefix
// for Runner.Elevate (nil: run commands as they are). Later calls return
// the first call's result. term is the terminal to ask a password on; nil
// without one, and then a password that is needed is an error saying so.
func (e *Elevator) Acquire(ctx context.Context, term *Terminal) ([]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return e.prefix, e.err
	}
	e.done = true
	e.prefix, e.err = e.acquire(ctx, term)
	return e.prefix, e.err
}

func (e *Elevator) acquire(ctx context.Context, term *Terminal) ([]string, error) {
	euid := os.Geteuid
	if e.Euid != nil {
		euid = e.Euid
	}
	if euid() == 0 {
		return nil, nil
	}
	var validate, keepAlive []string
	switch e.Method {
	case ElevateNone, "":
		return nil, nil
	case ElevateSudo:
		validate, keepAlive = []string{"-v"}, []string{"-n", "-v"}
		if term == nil {
			validate = keepAlive
		}
	case ElevateDoas:
		validate, keepAlive = []string{"true"}, []string{"-n", "true"}
		if term == nil {
			validate = keepAlive
		}
	case ElevateRun0:
	default:
		return nil, fmt.Errorf("elevate = %q: unknown method; allowed: sudo, doas, run0, none", e.Method)
	}
	prog := e.Program
	if prog == "" {
		p, err := exec.LookPath(e.Method)
		if err != nil {
			return nil, fmt.Errorf("elevate = %q, but %s is not installed (set elevate to another method, or run as root)", e.Method, e.Method)
		}
		prog = p
	}
	prefix := []string{prog, "--"}
	if validate == nil {
		return prefix, nil
	}
	r := e.runner()
	c := Cmd{Args: append([]string{prog}, validate...), Log: e.log()}
	if term != nil {
		c.Terminal = term
	}
	if err := r.Run(ctx, c); err != nil {
		if term == nil {
			return nil, fmt.Errorf("%s needs a password and there is no terminal to ask for it (run `%s` first, or run as root): %w", e.Method, CommandLine(append([]string{e.Method}, validate[len(validate)-1:]...)), err)
		}
		return nil, fmt.Errorf("%s: could not get root: %w", e.Method, err)
	}
	e.startKeepAlive(append([]string{prog}, keepAlive...))
	return prefix, nil
}

func (e *Elevator) startKeepAlive(args []string) {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	interval := e.Interval
	if interval <= 0 {
		interval = DefaultKeepAlive
	}
	r, log := e.runner(), e.log()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.Run(ctx, Cmd{Args: args, Log: log}); err != nil && ctx.Err() == nil {
					fmt.Fprintf(log, "keeping root credentials alive: %v\n", err)
				}
			}
		}
	}()
}

// Close stops the keep-alive and waits for it. It is safe to call more
// than once, and without Acquire.
func (e *Elevator) Close() {
	e.mu.Lock()
	cancel := e.cancel
	e.cancel = nil
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	e.wg.Wait()
}

// runner is the Runner itself, not a copy: its commands are never Root,
// so its Elevate does not apply, and a copy would not share the record of
// the children it started (reap.go).
func (e *Elevator) runner() *Runner {
	if e.Runner != nil {
		return e.Runner
	}
	return &Runner{}
}

func (e *Elevator) log() io.Writer {
	if e.Log == nil {
		return io.Discard
	}
	return e.Log
}

// ForeignOwnerWarning returns the warning to give once when rebuild runs
// as root (euid 0) and the flake directory dir belongs to another user:
// the files it writes there and the caches it cleans become root's. It
// returns "" otherwise, and when dir cannot be read.
func ForeignOwnerWarning(dir string, euid int) string {
	if euid != 0 || dir == "" {
		return ""
	}
	info, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return ""
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	who := "uid " + uid
	if u, err := user.LookupId(uid); err == nil {
		who = u.Username + " (uid " + uid + ")"
	}
	return fmt.Sprintf("running as root, but %s belongs to %s: files rebuild writes there (flake.lock, commits) and the caches it cleans will be root's, not that user's", dir, who)
}
