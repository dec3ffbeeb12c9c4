package nixos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// The confirm timeout on a target ("magic rollback" over ssh): before the
// switch, activate arms a watchdog on the target itself, detached as the
// steps are (remotedetach.go), in the confirm record. Its clock starts
// when the new system runs (the test step touches the record's "live"),
// so a slow switch does not eat the time the gates have. Unless the record
// has "confirmed" when the time is up, it rolls back as Rollback does —
// the profile to the generation activate replaced, and that system's
// switch-to-configuration switch — never in the middle of a step (it waits
// for one that runs), and records "fired". rebuild confirms by reaching
// the host over a fresh ssh connection: a new firewall, a broken sshd or a
// network configuration that locks rebuild out makes confirming
// impossible, and the host rolls itself back.

// remoteWatchdogScript is the watchdog: $1 its record, $2 the tenths of a
// second to wait after "live", then the profile, the generation and the
// system to roll back to, and the activation's record (whose running step
// it waits for). It decides to roll back holding its lock ($1/lock), as a
// guarded step's launch does (launchScript): no step starts after that
// decision, none is half started when it is taken. A lock held for 20
// seconds is broken: a launch killed holding it must not keep the host
// from its rollback. Before "live" it waits as long as an activation step runs;
// when none has run for the same time plus a minute, nothing was switched
// and it ends. Its last act is to write "ended".
const remoteWatchdogScript = `trap '' HUP
d=$1 steps=$2 profile=$3 gen=$4 sys=$5 act=$6
echo $$ > "$d/pid"
alive() { [ -s "$1/pid" ] && [ -d "/proc/$(cat "$1/pid")" ]; }
busy() { [ -e "$1/what" ] && [ ! -e "$1/status" ] && alive "$1"; }
confirmed() { if [ -e "$d/confirmed" ]; then echo "confirmed: no rollback"; : > "$d/ended"; exit 0; fi; }
idle=0
while [ ! -e "$d/live" ]; do
  confirmed
  if busy "$act"; then idle=0; else idle=$((idle+1)); fi
  if [ "$idle" -ge $((steps+600)) ]; then echo "no switch came: nothing to roll back"; : > "$d/ended"; exit 0; fi
  sleep 0.1
done
i=0
while [ "$i" -lt "$steps" ]; do confirmed; sleep 0.1; i=$((i+1)); done
while :; do
  while busy "$act"; do confirmed; sleep 0.1; done
  i=0
  until mkdir "$d/lock" 2>/dev/null; do
    i=$((i+1)); if [ "$i" -ge 400 ]; then rm -rf "$d/lock"; fi
    sleep 0.05
  done
  if busy "$act"; then rmdir "$d/lock"; continue; fi
  if [ -e "$d/confirmed" ]; then rmdir "$d/lock"; confirmed; fi
  : > "$d/firing"
  rmdir "$d/lock"
  break
done
echo "not confirmed in time: rolling back to generation $gen ($sys)"
nix-env -p "$profile" --switch-generation "$gen" && "$sys/bin/switch-to-configuration" switch
rc=$?
echo "rollback: exit status $rc"
echo "$gen $rc" > "$d/fired.tmp" && mv "$d/fired.tmp" "$d/fired"
: > "$d/ended"
exit $rc
`

// armWaitScript follows launchScript when arming: it returns once the
// watchdog runs (its pid is written), so that a step guarded by it finds
// it.
const armWaitScript = `i=0
while [ ! -s "$d/pid" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -s "$d/pid" ] || { echo "the confirm watchdog did not start" >&2; exit 1; }
`

// disarmScript confirms: it writes "confirmed" in record $1 and waits for
// the watchdog to end. It prints "confirmed" (and removes the record),
// "fired GEN RC" when the watchdog rolled back (waiting for a rollback
// under way to end), "gone" when there is no record, "dead" when the
// watchdog is not running and never ended.
const disarmScript = `d=$1
if [ ! -e "$d/what" ]; then echo gone; exit 0; fi
if [ ! -e "$d/fired" ] && [ ! -e "$d/firing" ]; then : > "$d/confirmed" || exit 1; fi
i=0
while [ ! -e "$d/ended" ]; do
  if [ -e "$d/firing" ]; then sleep 0.2; continue; fi
  if [ "$i" -ge 50 ]; then break; fi
  sleep 0.1; i=$((i+1))
done
if [ -e "$d/fired" ]; then echo "fired $(cat "$d/fired")"; exit 0; fi
if [ ! -e "$d/ended" ]; then echo dead; exit 0; fi
rm -rf "$d"
echo confirmed
`

// remoteWatchdog is one armed confirm timeout on a target.
type remoteWatchdog struct {
	r       *remote
	rec     string
	timeout time.Duration
	prev    int

	mu     sync.Mutex
	done   bool
	failed error     // confirm's failure, said again by every later confirm
	liveAt time.Time // when the test step ended, as rebuild saw it
}

// armRemote arms the rollback to generation prev (whose system is
// prevPath) on the target, timeout after the new system runs.
func armRemote(ctx context.Context, env *tasks.Env, r *remote, recs remoteRecords, mode string, timeout time.Duration, prev int, prevPath string) (*remoteWatchdog, error) {
	what := fmt.Sprintf("rollback to generation %d (%s) unless confirmed within %s", prev, prevPath, timeout)
	steps := strconv.Itoa(max(1, int(timeout/(100*time.Millisecond))))
	token := newStepToken()
	args := []string{recs.confirm, mode, what, env.Now().Format("2006-01-02 15:04:05"), confirmUnit + "-" + token, remoteWatchdogScript, token, "",
		steps, env.Config.Profile, strconv.Itoa(prev), prevPath, recs.activation}
	started := &lineFilter{dst: env.Log, keep: func(l string) bool { return l != markStarted }}
	err := r.run(ctx, env, remoteCmd{script: launchScript + armWaitScript, argv: args, root: true, what: "arm the confirm watchdog: " + what, log: started})
	if err != nil {
		return nil, err
	}
	env.Action("armed a rollback of %s to generation %d unless confirmed within %s", r.host.Name, prev, timeout)
	return &remoteWatchdog{r: r, rec: recs.confirm, timeout: timeout, prev: prev}, nil
}

// live is the file the test step touches; "" without a watchdog.
func (w *remoteWatchdog) live() string {
	if w == nil {
		return ""
	}
	return w.rec + "/live"
}

// guard is the record a step requires armed; "" without a watchdog.
func (w *remoteWatchdog) guard() string {
	if w == nil {
		return ""
	}
	return w.rec
}

// switched notes that the new system runs from now: the clock runs.
func (w *remoteWatchdog) switched(now time.Time) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.liveAt = now
	w.mu.Unlock()
}

// deadline says when the watchdog rolls back, for messages.
func (w *remoteWatchdog) deadline() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.liveAt.IsZero() {
		return fmt.Sprintf("%s after its switch-to-configuration test ends", w.timeout)
	}
	return "at about " + w.liveAt.Add(w.timeout).Format("15:04:05")
}

// fallback says what happens to a host rebuild cannot reach.
func (w *remoteWatchdog) fallback() string {
	if w == nil {
		return "no confirm timeout is armed there, so nothing rolls it back on its own"
	}
	return fmt.Sprintf("the watchdog there rolls it back to generation %d %s", w.prev, w.deadline())
}

// abandon makes every later confirm fail with ErrNotKept, as the local
// watchdog's does.
func (w *remoteWatchdog) abandon() {
	w.mu.Lock()
	w.failed = ErrNotKept
	w.mu.Unlock()
}

// confirm disarms the watchdog over a fresh ssh connection: the new
// system passed its gates and is kept, and the host can still be reached.
// A failure is remembered, as the local watchdog's is.
func (w *remoteWatchdog) confirm(ctx context.Context, env *tasks.Env) error {
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
	env.Action("confirmed the new system on %s: the rollback is disarmed", w.r.host.Name)
	return nil
}

// disarm tells the watchdog not to roll back and waits until it is gone.
// Idempotent; ErrFired when it has rolled back already.
func (w *remoteWatchdog) disarm(ctx context.Context, env *tasks.Env) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	out, err := w.r.output(ctx, env, remoteCmd{script: disarmScript, argv: []string{w.rec}, root: true, fresh: true,
		what: "confirm: disarm the watchdog in " + w.rec})
	if err != nil {
		if unreachable(err) {
			return fmt.Errorf("cannot reach %s over a fresh ssh connection to confirm the new system; the watchdog there rolls it back to generation %d: %w", w.r, w.prev, err)
		}
		return fmt.Errorf("confirming the new system on %s: %w", w.r, err)
	}
	ans := strings.TrimSpace(out)
	switch {
	case ans == "confirmed":
		w.done = true
		return nil
	case strings.HasPrefix(ans, "fired"):
		w.done = true
		return w.firedError(ans)
	case ans == "gone":
		return fmt.Errorf("confirming the new system on %s: the watchdog's record %s is gone (did another run remove it?)", w.r, w.rec)
	}
	return fmt.Errorf("confirming the new system on %s: the watchdog in %s is not running and never ended (%s)", w.r, w.rec, ans)
}

// firedError is ErrFired on w's host, from the "fired GEN RC" a script
// printed.
func (w *remoteWatchdog) firedError(ans string) error {
	var gen, rc int
	fmt.Sscan(strings.TrimPrefix(ans, "fired"), &gen, &rc)
	if rc != 0 {
		return fmt.Errorf("%w on %s, and that rollback to generation %d failed (exit status %d)", ErrFired, w.r, gen, rc)
	}
	return fmt.Errorf("%w on %s (to generation %d)", ErrFired, w.r, gen)
}

// peekScript prints "fired GEN RC" when the watchdog in record $1 has
// rolled back (waiting for a rollback under way to end), else "armed".
const peekScript = `d=$1
while [ -e "$d/firing" ] && [ ! -e "$d/ended" ]; do sleep 0.2; done
if [ -e "$d/fired" ]; then echo "fired $(cat "$d/fired")"; else echo armed; fi
`

// check returns ErrFired, wrapped, when the watchdog has rolled the host
// back already: reaching the host again proves nothing when it is the
// old system that answers (a lock-out that lasted past the timeout, and
// the rollback let rebuild in again). Nil without a watchdog.
func (w *remoteWatchdog) check(ctx context.Context, env *tasks.Env) error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return w.failed
	}
	out, err := w.r.output(ctx, env, remoteCmd{script: peekScript, argv: []string{w.rec}, root: true, fresh: true,
		what: "is the confirm watchdog in " + w.rec + " still armed"})
	if err != nil {
		return fmt.Errorf("reading the confirm watchdog's record %s on %s: %w", w.rec, w.r, err)
	}
	if ans := strings.TrimSpace(out); strings.HasPrefix(ans, "fired") {
		w.done, w.failed = true, w.firedError(ans)
		return w.failed
	}
	return nil
}

// remoteRollbackFunc is the Activation's Rollback for a target: the
// watchdog, when armed, is disarmed first (a rejection or a failed gate
// must not be rolled back twice); when it has fired already, that was
// the rollback.
func remoteRollbackFunc(r *remote, recs remoteRecords, mode string, w *remoteWatchdog, act tasks.Activation) func(context.Context, *tasks.Env) error {
	return func(ctx context.Context, env *tasks.Env) error {
		if w != nil {
			w.abandon()
			switch err := w.disarm(ctx, env); {
			case errors.Is(err, ErrFired):
				env.Action("the confirm timeout had rolled %s back already", r.host.Name)
				return nil
			case err != nil:
				return fmt.Errorf("disarming the confirm timeout before rolling back: %w", err)
			}
		}
		return r.rollback(ctx, env, recs, mode, act, true)
	}
}
