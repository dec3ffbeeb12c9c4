package nixos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// The health gate of a host reached over ssh checks the same things on
// the target: the new system runs there (`systemctl is-system-running
// --wait`, bounded by `timeout`), no unit failed there that had not
// failed before the activation, and the probes answer from the target
// itself — tcp with bash's /dev/tcp, http with curl when the host has it,
// else (http:// only) a plain HTTP/1.0 request through /dev/tcp — so
// "localhost:22" means the host's own port 22, as it does here.

// tcpProbeScript connects to $1 port $2 within $3 seconds.
const tcpProbeScript = `exec timeout "$3" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2"`

// httpProbeScript GETs $1 within $2 seconds and prints the status code:
// with curl (following redirects), else for http:// through bash's
// /dev/tcp to host $3, port $4, path $5. Exit status 2: no way to probe.
const httpProbeScript = `if command -v curl >/dev/null 2>&1; then
  exec curl -sS -L -o /dev/null -w '%{http_code}\n' --max-time "$2" "$1"
fi
case $1 in https:*) echo "no curl there to probe $1" >&2; exit 2 ;; esac
command -v bash >/dev/null 2>&1 || { echo "neither curl nor bash there to probe $1" >&2; exit 2; }
exec timeout "$2" bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$2" "$0" >&3
read -r proto code rest <&3 && echo "$code"' "$3" "$4" "$5"
`

// runRemote is Run for a host reached over ssh.
func (h Health) runRemote(ctx context.Context, env *tasks.Env, r *remote) error {
	var problems []string
	state, err := h.remoteState(ctx, env, r)
	switch {
	case err != nil:
		problems = append(problems, err.Error())
	case state == "":
		env.Stat("systemd is not running on %s: system state and failed units not checked", r.host.Name)
	default:
		env.Stat("system state on %s: %s", r.host.Name, state)
		if p := h.judgeState(state); p != "" {
			problems = append(problems, r.host.Name+": "+p)
		}
		if p, err := r.newlyFailed(ctx, env); err != nil {
			problems = append(problems, err.Error())
		} else if p != "" {
			problems = append(problems, r.host.Name+": "+p)
		}
	}
	secs := strconv.Itoa(max(1, int(time.Duration(h.Options.ProbeTimeout).Round(time.Second)/time.Second)))
	for _, a := range h.Options.TCP {
		env.Status("probing tcp %s on %s", a, r.host.Name)
		host, port, _ := net.SplitHostPort(a)
		err := r.run(ctx, env, remoteCmd{script: tcpProbeScript, argv: []string{host, port, secs}, what: "probe tcp " + a})
		if err != nil {
			problems = append(problems, fmt.Sprintf("tcp %s on %s: %v", a, r.host.Name, probeFailure(err)))
		} else {
			env.Stat("tcp %s on %s: connected", a, r.host.Name)
		}
	}
	for _, raw := range h.Options.HTTP {
		env.Status("probing %s on %s", raw, r.host.Name)
		if err := r.probeHTTP(ctx, env, raw, secs); err != nil {
			problems = append(problems, err.Error())
		} else {
			env.Stat("%s on %s: answered", raw, r.host.Name)
		}
	}
	for _, p := range problems {
		fmt.Fprintf(env.Log, "health: %s\n", p)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// remoteState is systemState on the target: the state printed, "" where
// systemd does not run (offline, or no systemctl).
func (h Health) remoteState(ctx context.Context, env *tasks.Env, r *remote) (string, error) {
	env.Status("systemctl is-system-running --wait on %s", r.host.Name)
	wait := time.Duration(h.Options.WaitTimeout)
	secs := strconv.Itoa(max(1, int(wait.Round(time.Second)/time.Second)))
	// The local bound is a little longer: the target's timeout ends it first.
	wctx, cancel := context.WithTimeout(ctx, wait+30*time.Second)
	defer cancel()
	out, err := r.output(wctx, env, remoteCmd{argv: []string{"timeout", secs, "systemctl", "is-system-running", "--wait"}})
	state := strings.TrimSpace(out)
	var pe *proc.Error
	switch {
	case unreachable(err):
		return "", err
	case state == "offline", errors.As(err, &pe) && pe.Code == 127:
		return "", nil
	case errors.As(err, &pe) && pe.Code == 124, wctx.Err() != nil && ctx.Err() == nil:
		if state == "" {
			state = "starting"
		}
		return state, nil
	case state == "" && err != nil:
		return "", err
	}
	return state, nil
}

// newlyFailed is newlyFailed on the target.
func (r *remote) newlyFailed(ctx context.Context, env *tasks.Env) (string, error) {
	before, ok := failedUnitsKey.Get(env)
	if !ok {
		env.Stat("failed units on %s not compared: activate did not list them before switching", r.host.Name)
		return "", nil
	}
	out, err := r.output(ctx, env, remoteCmd{argv: failedUnitsArgv})
	if err != nil {
		return "", fmt.Errorf("listing failed units: %w", err)
	}
	var fresh []string
	for _, u := range parseFailedUnits(out) {
		if !slices.Contains(before, u) {
			fresh = append(fresh, u)
		}
	}
	if len(fresh) == 0 {
		return "", nil
	}
	return fmt.Sprintf("units failed since the activation: %s", strings.Join(fresh, ", ")), nil
}

// probeHTTP GETs raw from the target; a status of 400 or more fails.
func (r *remote) probeHTTP(ctx context.Context, env *tasks.Env, raw, secs string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", raw, err)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	out, err := r.output(ctx, env, remoteCmd{script: httpProbeScript, argv: []string{raw, secs, u.Hostname(), port, u.RequestURI()}, what: "probe " + raw})
	if err != nil {
		return fmt.Errorf("%s on %s: %v", raw, r.host.Name, probeFailure(err))
	}
	code, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || code == 0 {
		return fmt.Errorf("%s on %s: no HTTP answer (%q)", raw, r.host.Name, strings.TrimSpace(out))
	}
	if code >= 400 {
		return fmt.Errorf("%s on %s: status %d", raw, r.host.Name, code)
	}
	return nil
}

// probeFailure is what a failed probe command says: its last line, or
// its error.
func probeFailure(err error) string {
	var pe *proc.Error
	if errors.As(err, &pe) && !unreachable(err) {
		if pe.Code == 124 {
			return "timed out"
		}
		if n := len(pe.Tail); n > 0 {
			return pe.Tail[n-1]
		}
		return fmt.Sprintf("exit status %d", pe.Code)
	}
	return err.Error()
}
