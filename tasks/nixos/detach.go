package nixos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Detached activation: switch-to-configuration must not be cut in half by
// a closed terminal, a dead SSH session or a killed rebuild. With systemd
// it runs in a transient unit (systemd-run --collect --wait, as
// nixos-rebuild-ng does); without, in a session of its own with SIGHUP
// ignored. Either way a small sh wrapper writes its output to a file
// that rebuild follows into the task's log, and its exit status to
// another: the record of the activation, in <state_dir>/activation, which
// outlives rebuild. The next run finds a record that was not cleared,
// waits for the activation if it still runs, saying so, and reports how
// it ended (reattach).

// Detach modes of [task.activate] detach.
const (
	detachAuto    = "auto"    // systemd when it runs here, else session
	detachSystemd = "systemd" // systemd-run transient units
	detachSession = "session" // own session, SIGHUP ignored
)

// activationUnit is the transient unit switch-to-configuration runs in.
const activationUnit = "rebuild-switch-to-configuration"

// sdBooted is where systemd says it runs (sd_booted(3)).
const sdBooted = "/run/systemd/system"

// resolveDetach turns auto into systemd or session.
func resolveDetach(mode string) string {
	if mode != detachAuto {
		return mode
	}
	if fi, err := os.Stat(sdBooted); err == nil && fi.IsDir() {
		return detachSystemd
	}
	return detachSession
}

// wrapper is the sh script around a detached command: $1 is the record's
// directory, the rest the command. It records its pid, appends the
// command's output to output.log and writes the exit status last (to a
// temporary name first, so that a reader never sees half of it).
const wrapper = `trap '' HUP
d=$1; shift
echo $$ > "$d/pid"
echo "--- $(date '+%Y-%m-%d %H:%M:%S') start: $*" >> "$d/output.log"
"$@" < /dev/null >> "$d/output.log" 2>&1
rc=$?
echo "--- $(date '+%Y-%m-%d %H:%M:%S') end: exit status $rc" >> "$d/output.log"
echo $rc > "$d/status.tmp" && mv "$d/status.tmp" "$d/status"
`

// stateDir is the state directory of the run (logs, history, records).
func stateDir(env *tasks.Env) (string, error) {
	if env.Config == nil || env.Config.StateDir == "" {
		return "", errors.New("no state_dir to keep the activation's record in")
	}
	return env.Config.StateDir, nil
}

// record is the directory of one detached command's record.
type record string

func (r record) file(name string) string { return filepath.Join(string(r), name) }

func (r record) read(name string) string {
	b, _ := os.ReadFile(r.file(name))
	return strings.TrimSpace(string(b))
}

// status is the command's exit status; ok is false while it runs.
func (r record) status() (code int, ok bool) {
	s := r.read("status")
	if s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// running reports whether the command still runs: its unit is active,
// or its wrapper's pid is alive (EPERM: alive, and root's).
func (r record) running(ctx context.Context, env *tasks.Env) bool {
	if _, done := r.status(); done {
		return false
	}
	if _, err := os.Stat(r.file("ended")); err == nil { // a watchdog's
		return false
	}
	if r.read("mode") == detachSystemd {
		for _, u := range strings.Fields(r.read("unit")) {
			if env.Runner.Run(ctx, proc.Cmd{Args: []string{"systemctl", "is-active", "--quiet", u}, Log: io.Discard}) == nil {
				return true
			}
		}
		return false
	}
	pid, err := strconv.Atoi(r.read("pid"))
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// describe says what the record is of, for messages.
func (r record) describe() string {
	s := r.read("what")
	if t := r.read("started"); t != "" {
		s += ", started " + t
	}
	return s
}

// startSession starts args (elevated when root) in a session of its own
// through `setsid --fork`, its early output (before its own redirection)
// to out, and returns once it is on its way: it outlives rebuild, and
// nobody waits for it. The elevation program runs in rebuild's session,
// not the new one, so that sudo finds its credentials, which are kept
// per terminal. The environment is the runner's.
func startSession(ctx context.Context, env *tasks.Env, root bool, args []string, out string) error {
	args = append([]string{"setsid", "--fork"}, args...)
	if root {
		args = append(append([]string(nil), env.Runner.Elevate...), args...)
	}
	environ := env.Runner.Environ
	if environ == nil {
		environ = os.Environ()
	}
	path, err := proc.LookPath(args[0], lookupEnv(environ, "PATH"))
	if err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = environ
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a Ctrl-C meant for rebuild is not its.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Started as a child the runner knows: its reaping of orphans would
	// otherwise take setsid's exit status, and the wait fail although the
	// command is on its way.
	err = env.Runner.StartExternal(cmd)
	if err == nil {
		err = env.Runner.WaitExternal(cmd)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", proc.CommandLine(args[:min(len(args), 4)]), err)
	}
	return nil
}

func lookupEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// switchDetached runs <system>/bin/switch-to-configuration action
// detached (see the top of this file), follows its output into env.Log
// and returns how it ended. When ctx ends first it returns at once: the
// command goes on, and the next run waits for it.
//
// onLine, when set, is given each line of the command's output once it
// has ended (to tell a refusal to switch, inhibit.go).
func switchDetached(ctx context.Context, env *tasks.Env, mode, system, action string, onLine func(string)) error {
	base, err := stateDir(env)
	if err != nil {
		return err
	}
	rec := record(filepath.Join(base, "activation"))
	if err := os.RemoveAll(string(rec)); err != nil {
		return err
	}
	if err := os.MkdirAll(string(rec), 0o755); err != nil {
		return err
	}
	what := "switch-to-configuration " + action + " of " + system
	for name, v := range map[string]string{"what": what, "mode": mode, "unit": activationUnit + ".service",
		"started": env.Now().Format("2006-01-02 15:04:05")} {
		if err := os.WriteFile(rec.file(name), []byte(v+"\n"), 0o644); err != nil {
			return err
		}
	}
	cmd := append([]string{"/bin/sh", "-c", wrapper, "sh", string(rec)}, system+"/bin/switch-to-configuration", action)
	waited := make(chan error, 1)
	switch mode {
	case detachSystemd:
		// --wait keeps systemd-run until the unit is done; killing it
		// leaves the unit running. The wrapper writes the output file.
		// The unit gets what nixos-rebuild-ng passes on to
		// switch-to-configuration, when set.
		args := append([]string{"systemd-run", "--unit=" + activationUnit, "--collect", "--wait", "--quiet",
			"--service-type=exec", "--no-ask-password", "-E", "LOCALE_ARCHIVE", "-E", "NIXOS_INSTALL_BOOTLOADER",
			"-E", "NIXOS_NO_CHECK", "--description=rebuild: " + what, "--"}, cmd...)
		go func() {
			waited <- env.Runner.Run(context.WithoutCancel(ctx), proc.Cmd{Args: args, Root: true, Log: env.Log})
		}()
	default:
		if err := startSession(ctx, env, true, cmd, rec.file("output.log")); err != nil {
			return err
		}
	}
	code, err := follow(ctx, env, rec, waited)
	if err != nil {
		return err
	}
	tail := lastLines(rec.file("output.log"), 20)
	if onLine != nil {
		for _, l := range lastLines(rec.file("output.log"), 1<<20) {
			onLine(l)
		}
	}
	_ = os.RemoveAll(string(rec)) // seen to the end: nothing for the next run to report
	if code != 0 {
		// The error a command run in the foreground gives: callers that
		// look at the exit status or the last lines need not know.
		return &proc.Error{Cmd: proc.CommandLine([]string{system + "/bin/switch-to-configuration", action}), Code: code, Tail: tail}
	}
	return nil
}

// lastLines is the last n lines of the command's output in file, its
// wrapper's own start and end lines left out.
func lastLines(file string, n int) []string {
	b, _ := os.ReadFile(file)
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "--- ") {
			keep = append(keep, l)
		}
	}
	return keep[max(0, len(keep)-n):]
}

// stillRunning is how switchDetached ends when rebuild stops following
// a switch that goes on: nothing may be undone on the assumption that it
// failed.
type stillRunning struct {
	what string
	err  error
}

func (e *stillRunning) Error() string {
	return e.what + " goes on detached; the next run waits for it and reports how it ended: " + e.err.Error()
}

func (e *stillRunning) Unwrap() error { return e.err }

// follow copies the record's output into env.Log until its status is
// written, and returns it. waited, when not nil, carries how systemd-run
// ended: a failure to start the unit ends the wait.
func follow(ctx context.Context, env *tasks.Env, rec record, waited <-chan error) (int, error) {
	var off int64
	copyNew := func() {
		f, err := os.Open(rec.file("output.log"))
		if err != nil {
			return
		}
		defer f.Close()
		if _, err := f.Seek(off, io.SeekStart); err == nil {
			n, _ := io.Copy(env.Log, f)
			off += n
		}
	}
	// A switch that has nothing to do ends in tens of milliseconds, and
	// activation runs two: a short poll keeps them off the wall clock
	// (a status file's stat and a read, 50 times a second, cost nothing).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		copyNew()
		if code, ok := rec.status(); ok {
			copyNew()
			return code, nil
		}
		select {
		case <-ctx.Done():
			return 0, &stillRunning{what: rec.read("what"), err: ctx.Err()}
		case err := <-waited:
			if _, ok := rec.status(); !ok && err != nil {
				return 0, fmt.Errorf("systemd-run: %w", err)
			}
			waited = nil
		case <-tick.C:
		}
	}
}

// reattach finds the record an interrupted run left: it waits for the
// activation if it still runs, saying so, and reports how it ended, as a
// warning. A record whose command neither runs nor wrote its status was
// cut short (a reboot): said as well. The record is then cleared.
func reattach(ctx context.Context, env *tasks.Env) error {
	base, err := stateDir(env)
	if err != nil {
		return nil // no record can exist
	}
	rec := record(filepath.Join(base, "activation"))
	if _, err := os.Stat(rec.file("what")); err != nil {
		return nil
	}
	if rec.running(ctx, env) {
		msg := "waiting for an earlier activation to finish: " + rec.describe()
		env.Status("%s", msg)
		fmt.Fprintln(env.Log, msg)
		for rec.running(ctx, env) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("stopped waiting for the earlier activation (%s): %w", rec.describe(), ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	// Its output, for the log: it is all this run has of it.
	if b, err := os.ReadFile(rec.file("output.log")); err == nil {
		fmt.Fprintf(env.Log, "output of the earlier activation (%s):\n%s", rec.describe(), b)
	}
	switch code, ok := rec.status(); {
	case !ok:
		env.Warn("the earlier activation (%s) ended without an exit status (cut short)", rec.describe())
	case code == 0:
		env.Warn("the earlier activation (%s), whose run was interrupted, succeeded", rec.describe())
	default:
		env.Warn("the earlier activation (%s), whose run was interrupted, failed: exit status %d", rec.describe(), code)
	}
	return os.RemoveAll(string(rec))
}
