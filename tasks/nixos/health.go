package nixos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// Health is the built-in gate health: after activate, the new system must
// be running (`systemctl is-system-running --wait`, within wait_timeout;
// "degraded" fails unless allow_degraded), have no unit failed that had
// not failed before the activation (activate lists them first), and
// answer the optional TCP and HTTP probes. If it fails, the scheduler
// rolls the system back (see tasks.Spec.Gate).
//
// Where systemd is not running (a container: systemctl says "offline",
// or there is no systemctl) the systemd checks are skipped, saying so;
// the probes still run. With nothing activated in this run there is
// nothing to check: skipped.
type Health struct{ Options HealthOptions }

// HealthOptions are the options of [task.health].
type HealthOptions struct {
	WaitTimeout   Duration `option:"wait_timeout" doc:"how long systemctl is-system-running --wait may take before the system counts as not running"`
	AllowDegraded bool     `option:"allow_degraded" doc:"a degraded system (some unit failed) passes, as long as no unit failed that had not failed before the activation"`
	TCP           []string `option:"tcp" doc:"host:port addresses that must accept a TCP connection, e.g. [\"localhost:22\"]"`
	HTTP          []string `option:"http" doc:"URLs that must answer a GET with a 2xx or 3xx status, e.g. [\"http://localhost:8080/health\"]"`
	ProbeTimeout  Duration `option:"probe_timeout" doc:"how long each TCP or HTTP probe may take"`
}

func defaultHealthOptions() HealthOptions {
	return HealthOptions{WaitTimeout: Duration(2 * time.Minute), ProbeTimeout: Duration(10 * time.Second)}
}

// Check implements tasks.Checker.
func (o HealthOptions) Check() error {
	if o.WaitTimeout <= 0 {
		return tasks.BadOption("wait_timeout", time.Duration(o.WaitTimeout).String(), "not a positive duration", allowedDuration)
	}
	if o.ProbeTimeout <= 0 {
		return tasks.BadOption("probe_timeout", time.Duration(o.ProbeTimeout).String(), "not a positive duration", allowedDuration)
	}
	for _, a := range o.TCP {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return tasks.BadOption("tcp", a, err.Error(), `"host:port"`)
		}
	}
	for _, u := range o.HTTP {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return tasks.BadOption("http", u, "not an http:// or https:// URL", `a URL such as "http://localhost:8080/health"`)
		}
	}
	return nil
}

// Configure implements tasks.Configurable.
func (h Health) Configure(t config.Task) (tasks.Task, error) {
	h.Options = defaultHealthOptions()
	err := tasks.DecodeOptions(t, &h.Options)
	return h, err
}

// TaskOptions implements tasks.Configurable.
func (h Health) TaskOptions() any { return h.Options }

// Run checks the activated system.
func (h Health) Run(ctx context.Context, env *tasks.Env) error {
	act, ok := tasks.Activated.Get(env)
	if !ok || act.Path == "" {
		return tasks.Skip("nothing was activated: nothing to check")
	}
	if act.NotSwitched != "" {
		// What runs is the old system: checking it says nothing of the
		// new one, and rolling it back would undo the boot default.
		return tasks.Skip("not switched to (%s): checked after the reboot, not now", act.NotSwitched)
	}
	if r, err := remoteOf(env); err != nil {
		return err
	} else if r != nil {
		return h.runRemote(ctx, env, r)
	}
	var problems []string
	state, err := h.systemState(ctx, env)
	switch {
	case err != nil:
		problems = append(problems, err.Error())
	case state == "":
		env.Stat("systemd is not running here: system state and failed units not checked")
	default:
		env.Stat("system state: %s", state)
		if p := h.judgeState(state); p != "" {
			problems = append(problems, p)
		}
		if p, err := newlyFailed(ctx, env); err != nil {
			problems = append(problems, err.Error())
		} else if p != "" {
			problems = append(problems, p)
		}
	}
	for _, a := range h.Options.TCP {
		env.Status("probing tcp %s", a)
		if err := probeTCP(ctx, a, time.Duration(h.Options.ProbeTimeout)); err != nil {
			problems = append(problems, err.Error())
		} else {
			env.Stat("tcp %s: connected", a)
		}
	}
	for _, u := range h.Options.HTTP {
		env.Status("probing %s", u)
		if err := probeHTTP(ctx, u, time.Duration(h.Options.ProbeTimeout)); err != nil {
			problems = append(problems, err.Error())
		} else {
			env.Stat("%s: answered", u)
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

// judgeState says what is wrong with a system state; "" when it passes.
func (h Health) judgeState(state string) string {
	switch state {
	case "running":
		return ""
	case "degraded":
		if h.Options.AllowDegraded {
			return ""
		}
		return "the system is degraded (allow_degraded = false)"
	case "starting", "initializing":
		return fmt.Sprintf("the system is still %s after %s (wait_timeout)", state, time.Duration(h.Options.WaitTimeout))
	}
	return fmt.Sprintf("the system is %s, not running", state)
}

// systemState runs `systemctl is-system-running --wait` and returns the
// state it printed, or "" when systemd is not running here ("offline",
// or no systemctl). It exits non-zero for every state but running, so
// its output, not its status, is the answer.
func (h Health) systemState(ctx context.Context, env *tasks.Env) (string, error) {
	env.Status("systemctl is-system-running --wait")
	wctx, cancel := context.WithTimeout(ctx, time.Duration(h.Options.WaitTimeout))
	defer cancel()
	var out bytes.Buffer
	err := env.Runner.Run(wctx, proc.Cmd{Args: []string{"systemctl", "is-system-running", "--wait"}, Stdout: &out, Log: env.Log})
	state := strings.TrimSpace(out.String())
	if err != nil && errors.Is(err, exec.ErrNotFound) {
		return "", nil
	}
	if state == "offline" {
		return "", nil
	}
	if wctx.Err() != nil && ctx.Err() == nil {
		if state == "" {
			state = "starting"
		}
		return state, nil
	}
	if state == "" && err != nil {
		return "", fmt.Errorf("systemctl is-system-running: %w", err)
	}
	return state, nil
}

// failedUnitsKey is the list of units that had failed before activate
// switched: health reports only the ones that failed since.
var failedUnitsKey = tasks.NewKey[[]string]("activate", "failed-units")

// recordFailedUnits hands on the units failed before the activation; it
// records nothing where systemd is not running (health then checks none).
func recordFailedUnits(ctx context.Context, env *tasks.Env) {
	// "not booted with systemd" is no news in activate's log.
	if units, err := failedUnits(ctx, env, io.Discard); err == nil {
		failedUnitsKey.Put(env, units)
	}
}

// newlyFailed lists the units failed now that had not failed before the
// activation; "" when there are none.
func newlyFailed(ctx context.Context, env *tasks.Env) (string, error) {
	before, ok := failedUnitsKey.Get(env)
	if !ok {
		env.Stat("failed units not compared: activate did not list them before switching")
		return "", nil
	}
	now, err := failedUnits(ctx, env, env.Log)
	if err != nil {
		return "", err
	}
	var fresh []string
	for _, u := range now {
		if !slices.Contains(before, u) {
			fresh = append(fresh, u)
		}
	}
	if len(fresh) == 0 {
		return "", nil
	}
	return fmt.Sprintf("units failed since the activation: %s", strings.Join(fresh, ", ")), nil
}

// failedUnits lists the failed units, sorted.
func failedUnits(ctx context.Context, env *tasks.Env, log io.Writer) ([]string, error) {
	var out bytes.Buffer
	err := env.Runner.Run(ctx, proc.Cmd{Args: failedUnitsArgv, Stdout: &out, Log: log})
	if err != nil {
		return nil, fmt.Errorf("listing failed units: %w", err)
	}
	return parseFailedUnits(out.String()), nil
}

// failedUnitsArgv lists the failed units, one a line.
var failedUnitsArgv = []string{"systemctl", "list-units", "--state=failed", "--plain", "--no-legend", "--no-pager"}

// parseFailedUnits reads failedUnitsArgv's output: the units, sorted.
func parseFailedUnits(text string) []string {
	var units []string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "●"))
		if len(f) > 0 {
			units = append(units, f[0])
		}
	}
	slices.Sort(units)
	return units
}

func probeTCP(ctx context.Context, addr string, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("tcp %s: %w", addr, err)
	}
	return c.Close()
}

func probeHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// Duration is an option written as a Go duration: "90s", "2m", "1h30m";
// "0s" is zero (for confirm_timeout: off).
type Duration time.Duration

const allowedDuration = `a duration such as "90s", "2m" or "1h30m"`

// SetOption implements tasks.OptionValue.
func (d *Duration) SetOption(raw any) error {
	s, ok := raw.(string)
	if !ok {
		return &tasks.Invalid{Msg: "not a string", Allowed: allowedDuration}
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return &tasks.Invalid{Msg: "not a duration", Allowed: allowedDuration}
	}
	*d = Duration(v)
	return nil
}

// OptionTOML implements tasks.OptionValue.
func (d *Duration) OptionTOML() any { return time.Duration(*d).String() }
