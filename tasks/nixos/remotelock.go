package nixos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// The target lock: one activation (or rollback) at a time on a host,
// whichever machine runs rebuild. Two people deploying the same server,
// or one person from two terminals, would otherwise interleave their
// steps there — the second run's settle clearing the first one's records,
// its test switching while the first one sets the profile — and leave
// the host running one system with another one as its boot default.
//
// The lock is flock(1) on <remote_state_dir>/lock, held by a command
// that keeps an ssh session open until rebuild releases it (closing the
// session's standard input) or goes away (the connection closes): a run
// that dies never leaves a stale lock behind. Its owner is written next
// to it, so that the run that finds it held can say whose it is.

// lockScript takes the lock in $1 for owner $2: "rebuild-locked" on
// standard error once it is held, then it holds it until its standard
// input ends; "rebuild-locked-by: OWNER" and exit 75 when another holds
// it; exit 127 when the target has no flock.
const lockScript = `dir=$1 owner=$2
command -v flock >/dev/null 2>&1 || { echo "flock: not found" >&2; exit 127; }
mkdir -p "$dir" || exit 1
exec 9>>"$dir/lock" || exit 1
if ! flock -n 9; then
  echo "rebuild-locked-by: $(cat "$dir/lock.owner" 2>/dev/null)" >&2
  exit 75
fi
printf '%s\n' "$owner" > "$dir/lock.owner"
echo rebuild-locked >&2
exec cat > /dev/null
`

// Markers and exit statuses of lockScript.
const (
	markLocked   = "rebuild-locked"
	markLockedBy = "rebuild-locked-by: "
	lockHeld     = 75
	lockNoFlock  = 127
)

// lockOwner says who holds the lock, for the run that finds it held:
// this machine, rebuild's pid, since when.
func lockOwner(env *tasks.Env) string {
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "unknown host"
	}
	return fmt.Sprintf("rebuild on %s (pid %d) since %s", name, os.Getpid(), env.Now().Format(time.DateTime))
}

// lock takes the target lock in dir (remote_state_dir). unlock releases
// it and waits until the holding command has ended; it may be called
// more than once, from any goroutine. A target without flock is not
// locked: a warning says so, and unlock does nothing.
func (r *remote) lock(ctx context.Context, env *tasks.Env, dir string) (unlock func(), err error) {
	// An *os.File, not an io.Pipe: exec hands it to ssh as it is, with no
	// goroutine copying into it that would keep Run from returning until
	// it is closed.
	in, hold, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("locking %s against another rebuild: %w", r.host.Name, err)
	}
	var mu sync.Mutex
	holder := ""
	locked := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	lockCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		done <- r.run(lockCtx, env, remoteCmd{script: lockScript, argv: []string{dir, lockOwner(env)}, root: true, stdin: in,
			what: "lock " + dir + "/lock against another rebuild", status: quietStatus,
			// It outlives the task whose log this would be; its last
			// lines reach an error through the runner's tail.
			log: io.Discard,
			onLine: func(l string) {
				switch {
				case l == markLocked:
					once.Do(func() { close(locked) })
				case strings.HasPrefix(l, markLockedBy):
					mu.Lock()
					holder = strings.TrimPrefix(l, markLockedBy)
					mu.Unlock()
				}
			}})
	}()
	var releaseOnce sync.Once
	releaseNow := func() {
		hold.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			// The session did not end on its own: cut it. The lock
			// goes with it.
			cancel()
			<-done
		}
		cancel()
	}
	release := func() { releaseOnce.Do(releaseNow) }
	go func() { <-lockCtx.Done(); in.Close() }()
	select {
	case <-locked:
		fmt.Fprintf(env.Log, "%s: took the lock %s/lock against another rebuild\n", r.host.Name, dir)
		return release, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	case err = <-done:
	}
	cancel()
	hold.Close()
	var pe *proc.Error
	code := -1
	if errors.As(err, &pe) {
		code = pe.Code
	}
	switch {
	case err == nil:
		return nil, fmt.Errorf("%s: taking the lock in %s ended before it was held", r, dir)
	case code == lockHeld:
		mu.Lock()
		h := holder
		mu.Unlock()
		if h == "" {
			h = "its owner is not recorded"
		}
		return nil, fmt.Errorf("another rebuild is activating %s (%s; the lock is %s/lock there): not touching it until that one is done", r.host.Name, h, dir)
	case code == lockNoFlock:
		env.Warn("%s has no flock: not locked against another rebuild activating it at the same time", r.host.Name)
		return func() {}, nil
	}
	return nil, fmt.Errorf("locking %s against another rebuild: %w", r.host.Name, err)
}

// heldLock is what activate@HOST hands on when it keeps the target lock
// past its own end (until the activation is confirmed or rolled back, or
// the run ends): generations@HOST, which deletes generations there, works
// under it rather than asking for a lock its own run holds.
type heldLock struct{ released atomic.Bool }

// targetLockKey hands heldLock on from activate@HOST.
var targetLockKey = tasks.NewKey[*heldLock]("activate", "target-lock")

// holdFor wraps unlock so that it marks h released.
func (h *heldLock) holdFor(unlock func()) func() {
	return func() {
		h.released.Store(true)
		unlock()
	}
}

// lockForCleanup takes the target lock for a task that deletes on the
// target (generations@HOST): none when this run's activation still holds
// it; the lock otherwise, in the activation's remote_state_dir (another
// run's activation must not lose the generation its watchdog would roll
// back to). A dry run takes none.
func (r *remote) lockForCleanup(ctx context.Context, env *tasks.Env) (unlock func(), err error) {
	if env.DryRun {
		return func() {}, nil
	}
	if h, ok := targetLockKey.Get(env); ok && !h.released.Load() {
		return func() {}, nil
	}
	o, err := activateOptionsOf(env)
	if err != nil {
		return nil, err
	}
	return r.lock(ctx, env, recordsIn(o.remoteStateDir()).dir)
}

// activateOptionsOf are activate's options as configured, for a task that
// switches or deletes where activate does (its records, its detach mode).
func activateOptionsOf(env *tasks.Env) (ActivateOptions, error) {
	o := defaultActivateOptions()
	if t, ok := env.Config.Tasks["activate"]; ok {
		if err := tasks.DecodeOptions(t, &o); err != nil {
			return o, err
		}
	}
	return o, nil
}
