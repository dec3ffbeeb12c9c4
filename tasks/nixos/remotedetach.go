package nixos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Detached activation on a target: what detach.go does on this machine,
// done on the host over ssh. Each step (switch-to-configuration test; the
// profile set and boot; a rollback's switch) runs there in a session of
// its own (setsid) or a transient systemd unit (systemd-run, where the
// target runs systemd), through a wrapper that writes its output, its pid
// and last its exit status into a record directory on the target, under
// remote_state_dir. rebuild starts it and follows the record over the
// same ssh connection; when the connection drops, the step goes on and
// rebuild reconnects and follows it again from where it was. A run that
// dies leaves the record, which the next run settles (settleRemote).

// DefaultRemoteStateDir is where activation's records live on a target.
const DefaultRemoteStateDir = "/var/lib/rebuild"

// remoteRecords are the record directories on a target, in dir
// (remote_state_dir, where the target lock is too: remotelock.go).
type remoteRecords struct{ dir, activation, confirm string }

func recordsIn(dir string) remoteRecords {
	dir = strings.TrimRight(dir, "/")
	return remoteRecords{dir: dir, activation: dir + "/activation", confirm: dir + "/confirm"}
}

// launchScript makes record $1 (removing an old one), writes its what,
// mode, start time, unit and token, and starts the sh script $6 with $1
// and the arguments after $8 detached, its output appended to
// $1/output.log; then it prints "rebuild-started" on standard error.
// Mode auto is systemd where systemd runs, else session. $8, when not
// empty, is a confirm watchdog's record: nothing starts unless that
// watchdog runs and has not begun to roll back (a switch the confirm
// timeout does not cover would be one nothing rolls back; a step after
// its rollback would undo that rollback halfway). The check and the
// start, until the step has its pid, hold the watchdog's lock, which the
// watchdog takes to decide to roll back (remoteWatchdogScript): so it
// never decides between a step's check and its start (released by hand
// at the end: what follows may exec, which runs no EXIT trap). A lost connection
// does not stop the script halfway (HUP ignored).
const launchScript = `trap '' HUP
d=$1 mode=$2 what=$3 started=$4 unit=$5 script=$6 token=$7 guard=$8; shift 8
if [ -n "$guard" ]; then
  i=0
  until mkdir "$guard/lock" 2>/dev/null; do
    i=$((i+1)); [ "$i" -lt 200 ] || { echo "the confirm watchdog in $guard holds its lock: not starting $what" >&2; exit 1; }
    sleep 0.05
  done
  trap 'rmdir "$guard/lock" 2>/dev/null' EXIT
  if [ -e "$guard/firing" ] || [ -e "$guard/fired" ]; then
    echo "the confirm watchdog in $guard has rolled back: not starting $what" >&2; exit 1
  fi
  if ! { [ -s "$guard/pid" ] && [ -d "/proc/$(cat "$guard/pid")" ] && [ ! -e "$guard/ended" ]; }; then
    echo "the confirm watchdog in $guard is not running: not starting $what" >&2; exit 1
  fi
fi
if [ "$mode" = auto ]; then
  if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then mode=systemd; else mode=session; fi
fi
mkdir -p "$(dirname "$d")" && rm -rf "$d" && mkdir "$d" || exit 1
printf '%s\n' "$what" > "$d/what" && printf '%s\n' "$mode" > "$d/mode" && printf '%s\n' "$started" > "$d/started" &&
printf '%s\n' "$unit.service" > "$d/unit" && printf '%s\n' "$token" > "$d/token" && : > "$d/output.log" || exit 1
case $mode in
systemd)
  systemd-run --unit="$unit" --collect --quiet --service-type=exec --no-ask-password \
    -E LOCALE_ARCHIVE -E NIXOS_INSTALL_BOOTLOADER -E NIXOS_NO_CHECK \
    --property="StandardOutput=append:$d/output.log" --property="StandardError=append:$d/output.log" \
    --description="rebuild: $what" -- /bin/sh -c "$script" sh "$d" "$@" || exit 1 ;;
*)
  setsid -f /bin/sh -c "$script" sh "$d" "$@" < /dev/null >> "$d/output.log" 2>&1 || exit 1 ;;
esac
if [ -n "$guard" ]; then
  i=0
  while [ ! -s "$d/pid" ] && [ ! -e "$d/status" ] && [ "$i" -lt 200 ]; do sleep 0.05; i=$((i+1)); done
  rmdir "$guard/lock" 2>/dev/null; trap - EXIT
fi
echo rebuild-started >&2
`

// remoteWrapper runs a step's command ($3…) in record $1: its pid, its
// output, and its exit status last (written whole, through a temporary
// name). $2, when not empty, is a file it touches when the command has
// ended: the confirm watchdog's "live", the moment the new system runs.
const remoteWrapper = `trap '' HUP
d=$1 live=$2; shift 2
echo $$ > "$d/pid"
echo "--- $(date '+%Y-%m-%d %H:%M:%S') start: $(cat "$d/what")" >> "$d/output.log"
"$@" < /dev/null >> "$d/output.log" 2>&1
rc=$?
if [ -n "$live" ]; then : > "$live" 2>/dev/null; fi
echo "--- $(date '+%Y-%m-%d %H:%M:%S') end: exit status $rc" >> "$d/output.log"
echo $rc > "$d/status.tmp" && mv "$d/status.tmp" "$d/status"
`

// followScript copies record $1's output from byte $2 on to standard
// output until its status is written, then prints "rebuild-status: N" on
// standard error. It prints "rebuild-status: not-started" when the record
// is not the one with token $3 (the step never started), "cut" when its
// wrapper is gone without a status (killed, or the host rebooted) and
// "gone" when the record was removed. Bytes are counted in the C locale.
// Before it says how the step ended it writes "seen": the next run has
// nothing to report of a step rebuild followed to its end.
const followScript = `LC_ALL=C; export LC_ALL
d=$1 n=$2 token=$3 w=0
while :; do
  if [ "$(cat "$d/token" 2>/dev/null)" != "$token" ]; then
    if [ -e "$d/what" ] || [ "$w" -gt 100 ]; then echo "rebuild-status: not-started" >&2; exit 0; fi
    w=$((w+1)); sleep 0.1; continue
  fi
  fin=; [ -e "$d/status" ] && fin=$(cat "$d/status")
  c=$(tail -c +$((n+1)) "$d/output.log" 2>/dev/null; echo .); c=${c%.}
  if [ -n "$c" ]; then printf '%s' "$c"; n=$((n+${#c})); fi
  if [ -n "$fin" ]; then : > "$d/seen"; echo "rebuild-status: $fin" >&2; exit 0; fi
  if [ ! -e "$d/what" ]; then echo "rebuild-status: gone" >&2; exit 0; fi
  if [ -s "$d/pid" ]; then
    if [ ! -d "/proc/$(cat "$d/pid")" ] && [ ! -e "$d/status" ]; then echo "rebuild-status: cut" >&2; exit 0; fi
  else
    w=$((w+1)); if [ "$w" -gt 300 ]; then echo "rebuild-status: not-started" >&2; exit 0; fi
  fi
  sleep 0.1
done
`

// Markers the scripts print on standard error.
const (
	markStarted = "rebuild-started"
	markStatus  = "rebuild-status: "
)

// remoteUnit names the transient units the steps run in where the
// target runs systemd (the watchdog's: confirmUnit), each with its step's
// token after it: a step starts the moment the one before wrote its
// status, when that one's unit may not be gone yet.
const remoteUnit = activationUnit

// remoteStep is one detached command on a target.
type remoteStep struct {
	rec  string // its record directory on the target
	what string // "switch-to-configuration test of /nix/store/…"
	mode string // detach mode: auto, systemd or session
	unit string // the transient unit's name (systemd mode)
	live string // a file the wrapper touches when the command ends; "" none
	// guard is the confirm watchdog's record that must be armed for the
	// step to start; "" none.
	guard string
	cmd   []string // the command
	// onLine is given each line of its output once it has ended.
	onLine func(string)
	// reconnectFor is how long rebuild tries to reach the host again
	// after losing it; 0 = defaultReconnect.
	reconnectFor time.Duration
}

// defaultReconnect is how long a lost host is tried again.
const defaultReconnect = time.Minute

// lostHost: rebuild lost the host (or never reached it) while a step was
// on its way there and could not reach it again; the step goes on, or
// never started, and nothing can be said about how it ended.
type lostHost struct {
	host, what string
	started    bool // the step is known to have started
	err        error
}

func (e *lostHost) Error() string { return e.summary() + ": " + e.err.Error() }

// summary is the error without the underlying one (ssh's, several
// lines), for a message that says more before it.
func (e *lostHost) summary() string {
	if e.started {
		return fmt.Sprintf("lost %s while %s ran there, and could not reach it again (it goes on there, detached)", e.host, e.what)
	}
	return fmt.Sprintf("could not reach %s to start %s", e.host, e.what)
}

func (e *lostHost) Unwrap() error { return e.err }

// runStep starts st on the target and follows it to its end, reconnecting
// when the connection drops. It returns nil for exit status 0, a
// *proc.Error with the status and the last lines otherwise (as a command
// run in the foreground would), a *stillRunning when ctx ends first (the
// step goes on) and a *lostHost when the host cannot be reached again.
func (r *remote) runStep(ctx context.Context, env *tasks.Env, st remoteStep) error {
	token := newStepToken()
	unit := st.unit
	if unit == "" {
		unit = remoteUnit
	}
	args := append([]string{st.rec, st.mode, st.what, env.Now().Format("2006-01-02 15:04:05"), unit + "-" + token, remoteWrapper, token, st.guard, st.live}, st.cmd...)
	out := &stepOutput{env: env}
	m := &markers{}
	first := remoteCmd{script: launchScript + "trap - HUP\nexec /bin/sh -c \"$FOLLOW\" sh \"$d\" 0 \"$token\"\n",
		argv: args, root: true, what: st.what + " (detached)", stdout: out, log: m.writer(env), status: quietStatus}
	// The follow script reaches the launch script through its environment:
	// one ssh command starts the step and follows it.
	first.script = "FOLLOW=" + proc.ShellQuote(followScript) + "\n" + first.script
	err := r.run(ctx, env, first)
	window := st.reconnectFor
	if window <= 0 {
		window = defaultReconnect
	}
	var lostAt time.Time
	for {
		if s, ok := m.status(); ok {
			return r.stepEnded(st, s, out)
		}
		if ctx.Err() != nil {
			return &stillRunning{what: st.what + " on " + r.String(), err: ctx.Err()}
		}
		if err != nil && !unreachable(err) {
			return err // it could not be started: nothing runs
		}
		if lostAt.IsZero() {
			lostAt = time.Now()
		}
		if time.Since(lostAt) > window {
			if err == nil {
				err = errors.New("the connection ended before the step did")
			}
			return &lostHost{host: r.String(), what: st.what, started: m.started(), err: err}
		}
		fmt.Fprintf(env.Log, "lost %s (%v): reaching it again to follow %s\n", r, firstLine(errText(err)), st.what)
		select {
		case <-ctx.Done():
			continue
		case <-time.After(time.Second):
		}
		err = r.run(ctx, env, remoteCmd{script: followScript, argv: []string{st.rec, strconv.FormatInt(out.bytes(), 10), token},
			what: "follow " + st.what, fresh: true, stdout: out, log: m.writer(env), status: quietStatus})
	}
}

func errText(err error) string {
	if err == nil {
		return "the connection ended"
	}
	return err.Error()
}

// stepEnded turns the status the follow script printed into runStep's
// answer.
func (r *remote) stepEnded(st remoteStep, status string, out *stepOutput) error {
	lines := out.lines()
	if st.onLine != nil {
		for _, l := range lines {
			st.onLine(l)
		}
	}
	tail := lines[max(0, len(lines)-20):]
	display := "ssh " + r.host.Name + " -- " + proc.CommandLine(st.cmd)
	switch status {
	case "not-started":
		return fmt.Errorf("%s: %s did not start (its record %s never appeared)", r, st.what, st.rec)
	case "cut":
		return &proc.Error{Cmd: display, Code: -1, Tail: tail, Err: errors.New("ended without an exit status on " + r.String() + " (killed, or the host rebooted)")}
	case "gone":
		return fmt.Errorf("%s: the record of %s (%s) was removed while it ran", r, st.what, st.rec)
	}
	code, err := strconv.Atoi(status)
	if err != nil {
		return fmt.Errorf("%s: %s ended with status %q", r, st.what, status)
	}
	if code != 0 {
		return &proc.Error{Cmd: display, Code: code, Tail: tail}
	}
	return nil
}

// quietStatus keeps the status the step set: the follow's own lines are
// no status.
func quietStatus(string) {}

func newStepToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stepOutput receives a step's output from the follow scripts: it goes to
// the task's log as it comes; its lines, the wrapper's own left out, are
// kept (the last maxStepLines) for the step's end.
type stepOutput struct {
	env *tasks.Env
	mu  sync.Mutex
	n   int64
	buf []byte
	all []string
}

const maxStepLines = 10000

func (o *stepOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n += int64(len(p))
	_, _ = o.env.Log.Write(p)
	o.buf = append(o.buf, p...)
	for {
		i := bytes.IndexByte(o.buf, '\n')
		if i < 0 {
			break
		}
		o.keep(string(o.buf[:i]))
		o.buf = o.buf[i+1:]
	}
	return len(p), nil
}

func (o *stepOutput) keep(l string) {
	if l == "" || strings.HasPrefix(l, "--- ") {
		return
	}
	if len(o.all) == maxStepLines {
		o.all = o.all[1:]
	}
	o.all = append(o.all, l)
}

func (o *stepOutput) bytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

func (o *stepOutput) lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := append([]string(nil), o.all...)
	if len(o.buf) > 0 && !strings.HasPrefix(string(o.buf), "--- ") {
		out = append(out, string(o.buf))
	}
	return out
}

// markers reads the scripts' markers on standard error; what else comes
// there (ssh's messages, the scripts' errors) goes to the log.
type markers struct {
	mu       sync.Mutex
	st       string
	have     bool
	launched bool
}

func (m *markers) writer(env *tasks.Env) *lineFilter {
	return &lineFilter{dst: env.Log, keep: func(l string) bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		switch {
		case strings.HasPrefix(l, markStatus):
			m.st, m.have = strings.TrimSpace(strings.TrimPrefix(l, markStatus)), true
			return false
		case l == markStarted:
			m.launched = true
			return false
		}
		return true
	}}
}

func (m *markers) status() (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st, m.have
}

func (m *markers) started() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.launched
}

// lineFilter writes the lines keep accepts to dst.
type lineFilter struct {
	dst  io.Writer
	keep func(string) bool
	mu   sync.Mutex
	buf  []byte
}

func (f *lineFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = append(f.buf, p...)
	for {
		i := bytes.IndexByte(f.buf, '\n')
		if i < 0 {
			break
		}
		line := f.buf[:i+1]
		if f.keep(strings.TrimRight(string(line), "\r\n")) {
			_, _ = f.dst.Write(line)
		}
		f.buf = f.buf[i+1:]
	}
	return len(p), nil
}

// settleScript settles the records an earlier run left on the target:
// activation $1 (but for a step that run followed to its end: "seen")
// and confirm watchdog $2. One still running is waited for
// (saying so on standard error, where each record's output goes too, for
// the log); then each is described on standard output, one line each:
//
//	activation<TAB><status or "">< TAB><started><TAB><what>
//	confirm<TAB><"gen rc" when it fired, else ""><TAB><what>
//
// and removed.
const settleScript = `act=$1 conf=$2
alive() { [ -s "$1/pid" ] && [ -d "/proc/$(cat "$1/pid")" ]; }
running() { [ -e "$1/what" ] && [ ! -e "$1/status" ] && [ ! -e "$1/ended" ] && alive "$1"; }
for r in "$act" "$conf"; do
  if running "$r"; then
    echo "waiting for an earlier run's $(cat "$r/what") to end" >&2
    while running "$r"; do sleep 0.2; done
  fi
done
if [ -e "$act/what" ] && [ ! -e "$act/seen" ]; then
  echo "output of the earlier activation ($(cat "$act/what")):" >&2
  cat "$act/output.log" >&2 2>/dev/null
  printf 'activation\t%s\t%s\t%s\n' "$(cat "$act/status" 2>/dev/null)" "$(cat "$act/started" 2>/dev/null)" "$(cat "$act/what")"
fi
if [ -e "$conf/what" ]; then
  if [ -e "$conf/fired" ]; then echo "output of the earlier run's confirm watchdog:" >&2; cat "$conf/output.log" >&2 2>/dev/null; fi
  printf 'confirm\t%s\t%s\n' "$(cat "$conf/fired" 2>/dev/null)" "$(cat "$conf/what")"
fi
rm -rf "$act" "$conf"
`

// settleRemote is reattach and settleWatchdog for a target: what an
// earlier run left there is waited for while it runs, reported as
// warnings, and cleared, in one ssh command.
func (r *remote) settle(ctx context.Context, env *tasks.Env, recs remoteRecords) error {
	out, err := r.output(ctx, env, remoteCmd{script: settleScript, argv: []string{recs.activation, recs.confirm}, root: true,
		what: "settle the records of an earlier run in " + recs.activation + " and " + recs.confirm,
		onLine: func(l string) {
			if strings.HasPrefix(l, "waiting for ") {
				env.Status("%s on %s", l, r.host.Name)
			}
		}})
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		switch {
		case f[0] == "activation" && len(f) == 4:
			what := f[3]
			if f[2] != "" {
				what += ", started " + f[2]
			}
			switch code := f[1]; code {
			case "":
				env.Warn("%s: the earlier activation (%s) ended without an exit status (cut short)", r.host.Name, what)
			case "0":
				env.Warn("%s: the earlier activation (%s), whose run was interrupted, succeeded", r.host.Name, what)
			default:
				env.Warn("%s: the earlier activation (%s), whose run was interrupted, failed: exit status %s", r.host.Name, what, code)
			}
		case f[0] == "confirm" && len(f) == 3 && f[1] != "":
			var gen, rc int
			fmt.Sscan(f[1], &gen, &rc)
			if rc == 0 {
				env.Warn("%s: an earlier run was not confirmed in time: its confirm watchdog rolled back to generation %d", r.host.Name, gen)
			} else {
				env.Warn("%s: an earlier run was not confirmed in time, and its watchdog's rollback to generation %d failed (exit status %d)", r.host.Name, gen, rc)
			}
		}
	}
	return nil
}
