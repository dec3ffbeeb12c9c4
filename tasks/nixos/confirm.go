package nixos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// The confirm timeout ("magic rollback"): with confirm_timeout set,
// activate arms a rollback that fires unless the new system is confirmed
// in time. Confirmed means the gates passed and rebuild is still there to
// say so: accept confirms once the person kept the configuration (or
// --yes, or no terminal), and the run confirms at its end when accept did
// not run. The watchdog lives outside rebuild's process, so a killed
// rebuild, a closed terminal or a lost session rolls back: a transient
// systemd timer where systemd runs, else a process in a session of its
// own. It rolls back the way Rollback does: the profile back to the
// generation activate replaced, and that system's switch-to-configuration
// switch. Its record is <state_dir>/confirm: the next run reports a
// rollback it did.

// confirmUnit is the transient timer (and its service) of the watchdog.
const confirmUnit = "rebuild-confirm-rollback"

// watchdogScript is the watchdog: $1 its record, $2 how many tenths of a
// second to wait for the record's "confirmed" file (0 for the systemd
// timer, which has waited already), then the profile, the generation and
// the system to roll back to. Its last act is to write "ended", which
// is how a confirmation knows it is gone.
const watchdogScript = `trap '' HUP
d=$1 steps=$2 profile=$3 gen=$4 sys=$5
echo $$ > "$d/pid"
i=0
while [ "$i" -lt "$steps" ]; do
  if [ -e "$d/confirmed" ]; then echo "confirmed: no rollback"; : > "$d/ended"; exit 0; fi
  sleep 0.1; i=$((i+1))
done
if [ -e "$d/confirmed" ]; then echo "confirmed: no rollback"; : > "$d/ended"; exit 0; fi
echo "not confirmed in time: rolling back to generation $gen ($sys)"
nix-env -p "$profile" --switch-generation "$gen" && "$sys/bin/switch-to-configuration" switch
rc=$?
echo "rollback: exit status $rc"
echo "$gen $rc" > "$d/fired.tmp" && mv "$d/fired.tmp" "$d/fired"
: > "$d/ended"
exit $rc
`

// watchdog is one armed confirm timeout.
type watchdog struct {
	rec  record
	mode string

	mu     sync.Mutex
	done   bool
	failed error // confirm's failure, said again by every later confirm
}

// armWatchdog arms the rollback to generation prev (whose system is
// prevPath) after timeout.
func armWatchdog(ctx context.Context, env *tasks.Env, mode string, timeout time.Duration, prev int, prevPath string) (*watchdog, error) {
	base, err := stateDir(env)
	if err != nil {
		return nil, err
	}
	w := &watchdog{rec: record(filepath.Join(base, "confirm")), mode: mode}
	if err := os.RemoveAll(string(w.rec)); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(string(w.rec), 0o755); err != nil {
		return nil, err
	}
	for name, v := range map[string]string{"mode": mode, "unit": confirmUnit + ".timer " + confirmUnit + ".service",
		"what": fmt.Sprintf("rollback to generation %d (%s) unless confirmed within %s", prev, prevPath, timeout)} {
		if err := os.WriteFile(w.rec.file(name), []byte(v+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	script := []string{"/bin/sh", "-c", watchdogScript, "sh", string(w.rec)}
	tail := []string{env.Config.Profile, strconv.Itoa(prev), prevPath}
	switch mode {
	case detachSystemd:
		secs := max(1, int(timeout.Round(time.Second)/time.Second))
		args := append([]string{"systemd-run", "--unit=" + confirmUnit, "--on-active=" + strconv.Itoa(secs) + "s",
			"--timer-property=AccuracySec=1s", "--collect", "--quiet",
			"--description=rebuild: roll back to generation " + strconv.Itoa(prev) + " unless confirmed",
			"--property=StandardOutput=append:" + w.rec.file("output.log"),
			"--property=StandardError=append:" + w.rec.file("output.log"), "--"}, script...)
		args = append(append(args, "0"), tail...)
		if err := run(ctx, env, proc.Cmd{Args: args, Root: true}); err != nil {
			return nil, err
		}
	default:
		steps := strconv.Itoa(int(timeout / (100 * time.Millisecond)))
		args := append(append(script, steps), tail...)
		if err := startSession(ctx, env, true, args, w.rec.file("output.log")); err != nil {
			return nil, err
		}
	}
	env.Action("armed a rollback to generation %d unless confirmed within %s", prev, timeout)
	return w, nil
}

// armConfirm arms the watchdog for act and gives act its Confirm, and a
// Rollback that disarms the watchdog first (a rejection or a failed gate
// must not be rolled back twice).
func armConfirm(ctx context.Context, env *tasks.Env, act *tasks.Activation, mode string, timeout time.Duration) error {
	prevPath := ""
	if act.Previous != 0 {
		prevPath = resolve(link(env.Config.Profile, act.Previous))
	}
	if prevPath == "" {
		return fmt.Errorf("%s is active, but there is no previous generation for --confirm-timeout to roll back to; not armed", act.Path)
	}
	w, err := armWatchdog(ctx, env, mode, timeout, act.Previous, prevPath)
	if err != nil {
		return fmt.Errorf("%s is active, but arming the confirm timeout failed (nothing will roll back on its own): %w", act.Path, err)
	}
	act.Confirm = w.confirm
	act.Rollback = func(ctx context.Context, env *tasks.Env) error {
		w.abandon()
		switch err := w.disarm(ctx, env); {
		case errors.Is(err, ErrFired):
			env.Action("the confirm timeout had rolled back already")
			return nil
		case err != nil:
			return fmt.Errorf("disarming the confirm timeout before rolling back: %w", err)
		}
		return Rollback(ctx, env)
	}
	return nil
}

// confirm disarms the watchdog, as the confirmation of the new system.
// A failure is remembered: accept may have confirmed first, and the end
// of the run asks again (cmd/rebuild confirmAtEnd), which must not take
// the watchdog's "done" for a confirmation.
func (w *watchdog) confirm(ctx context.Context, env *tasks.Env) error {
	w.mu.Lock()
	done, failed := w.done, w.failed
	w.mu.Unlock()
	if failed != nil {
		return failed
	}
	if done {
		return nil
	}
	if err := w.disarm(ctx, env); err != nil {
		w.mu.Lock()
		w.failed = err
		w.mu.Unlock()
		return err
	}
	env.Action("confirmed the new system: the rollback is disarmed")
	return nil
}

// disarm tells the watchdog not to roll back and waits until it is gone:
// the systemd timer stopped, or the watchdog process ended. Idempotent.
func (w *watchdog) disarm(ctx context.Context, env *tasks.Env) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	if _, err := os.Stat(w.rec.file("fired")); err == nil {
		return ErrFired
	}
	if err := os.WriteFile(w.rec.file("confirmed"), nil, 0o644); err != nil {
		return fmt.Errorf("confirming the new system: %w", err)
	}
	if w.mode == detachSystemd {
		// Stopping the timer also ends the service, were it to run.
		if err := run(ctx, env, proc.Cmd{Args: []string{"systemctl", "stop", confirmUnit + ".timer"}, Root: true}); err != nil {
			return fmt.Errorf("confirming the new system: %w", err)
		}
	} else if err := waitEnded(ctx, w.rec, 5*time.Second); err != nil {
		return fmt.Errorf("confirming the new system: the watchdog (pid %s) %w", w.rec.read("pid"), err)
	}
	w.done = true
	_ = os.RemoveAll(string(w.rec))
	return nil
}

// abandon makes every later confirm fail with ErrNotKept: the system is
// being rolled back (rejected, or a gate failed), and must not be
// confirmed after all, also when that rollback fails halfway.
func (w *watchdog) abandon() {
	w.mu.Lock()
	w.failed = ErrNotKept
	w.mu.Unlock()
}

// ErrNotKept: a rollback of the activation was asked for, so it is not
// confirmed.
var ErrNotKept = errors.New("the configuration was rolled back instead: not confirmed")

// ErrFired: too late to confirm or to roll back, the watchdog did.
var ErrFired = errors.New("too late: the confirm timeout has rolled back already")

// waitEnded waits until the watchdog has written "ended": it polls the
// confirmation every tenth of a second, so that is soon.
func waitEnded(ctx context.Context, rec record, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(rec.file("ended")); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("has not ended %s after the confirmation", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// settleWatchdog deals with the watchdog an earlier run left: one still
// armed (its run was killed less than its timeout ago) is waited for,
// saying so, since arming a new one would take its record away and it
// would then roll back this run's activation; a rollback it did is
// reported, once. Its record is then cleared.
func settleWatchdog(ctx context.Context, env *tasks.Env) error {
	base, err := stateDir(env)
	if err != nil {
		return nil
	}
	rec := record(filepath.Join(base, "confirm"))
	if _, err := os.Stat(rec.file("what")); err != nil {
		return nil
	}
	if rec.running(ctx, env) {
		msg := "waiting for an earlier run's confirm watchdog: " + rec.read("what")
		env.Status("%s", msg)
		fmt.Fprintln(env.Log, msg)
		for rec.running(ctx, env) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("stopped waiting for an earlier run's confirm watchdog (%s): %w", rec.read("what"), ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if f := rec.read("fired"); f != "" {
		var gen, rc int
		fmt.Sscan(f, &gen, &rc)
		if rc == 0 {
			env.Warn("an earlier run was not confirmed in time: its confirm watchdog rolled back to generation %d", gen)
		} else {
			env.Warn("an earlier run was not confirmed in time, and its watchdog's rollback to generation %d failed (exit status %d)", gen, rc)
		}
		if b, err := os.ReadFile(rec.file("output.log")); err == nil {
			fmt.Fprintf(env.Log, "output of the earlier run's confirm watchdog:\n%s", b)
		}
	}
	return os.RemoveAll(string(rec))
}
