package nixos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// A host whose target is not "local" is reached over ssh (proc.SSH):
// every command the tasks run on it is a sh command line given to ssh,
// its words quoted for the remote shell, run as root through the host's
// elevation prefix there (sudo -n, doas -n, run0 --no-ask-password; none
// for a root@ target or elevate = "none") when it needs root. Nothing
// there asks for a password: CheckHostElevation finds out before the run
// whether one would be needed. The paths of the configuration (profile,
// current_system, booted_system) are the target's.

// remote is a host reached over ssh.
type remote struct {
	host config.Host
	ssh  proc.SSH
	root []string // the elevation prefix on the target; nil: none needed
}

// remoteOf returns how to reach env's target; nil for this machine.
func remoteOf(env *tasks.Env) (*remote, error) {
	h := env.Target()
	if h.IsLocal() {
		return nil, nil
	}
	elevate := ""
	if env.Config != nil {
		elevate = env.Config.Elevate
	}
	r, err := newRemote(h, elevate)
	if r != nil && env.SSHControl != "" {
		r.ssh.ControlPath = filepath.Join(env.SSHControl, h.Name+".sock")
	}
	return r, err
}

// newRemote reads h's target and elevation; elevate is the top-level
// method, used when h sets none.
func newRemote(h config.Host, elevate string) (*remote, error) {
	s, err := proc.ParseSSHTarget(h.Target)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", h.Name, err)
	}
	s.Options = h.SSHOptions
	method := h.Elevate
	if method == "" {
		method = elevate
	}
	root, err := proc.RemoteElevation(method, s)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", h.Name, err)
	}
	return &remote{host: h, ssh: s, root: root}, nil
}

// String names the host for messages: "web1 (root@10.0.0.5)".
func (r *remote) String() string { return r.host.Name + " (" + r.ssh.String() + ")" }

// remoteCmd is one command on the target: argv, or a sh script with its
// arguments ($1…).
type remoteCmd struct {
	argv   []string // the command; or, with script, its arguments
	script string   // a sh script run with argv as its arguments
	what   string   // what it does, for the log and errors; argv quoted when ""
	root   bool     // through the elevation prefix
	fresh  bool     // on a connection of its own (proc.SSH.Fresh)
	stdin  io.Reader
	stdout io.Writer
	log    io.Writer    // env.Log when nil
	onLine func(string) // each logged line (standard error with stdout)
	status func(string) // env.StatusFunc() when nil
}

// words is the command line the remote shell runs, as words.
func (r *remote) words(c remoteCmd) []string {
	w := c.argv
	if c.script != "" {
		w = append([]string{"sh", "-c", c.script, "sh"}, c.argv...)
	}
	if c.root && len(r.root) > 0 {
		w = append(append([]string(nil), r.root...), w...)
	}
	return w
}

// argv is the local command that runs c on the target.
func (r *remote) argv(c remoteCmd) []string {
	s := r.ssh
	if c.fresh {
		s = s.Fresh()
	}
	return s.Command(proc.ShellJoin(r.words(c)))
}

// what says what c runs, for the log and errors.
func (r *remote) what(c remoteCmd) string {
	what := c.what
	if what == "" {
		what = proc.CommandLine(c.argv)
	}
	if c.root && len(r.root) > 0 {
		what = strings.Join(r.root[:len(r.root)-1], " ") + " " + what
	}
	return what
}

// run runs c on the target, its output in the task's log.
func (r *remote) run(ctx context.Context, env *tasks.Env, c remoteCmd) error {
	if env.Runner == nil {
		return errors.New("no command runner")
	}
	log := c.log
	if log == nil {
		log = env.Log
	}
	status := c.status
	if status == nil {
		status = env.StatusFunc()
	}
	what := r.what(c)
	err := env.Runner.Run(ctx, proc.Cmd{Args: r.argv(c), Display: "ssh " + r.host.Name + " -- " + what,
		Stdin: c.stdin, Stdout: c.stdout, Log: log, OnLine: c.onLine, Status: status})
	if err == nil {
		return nil
	}
	return &remoteError{host: r.String(), what: what, err: err}
}

// output runs c and returns its standard output.
func (r *remote) output(ctx context.Context, env *tasks.Env, c remoteCmd) (string, error) {
	var out bytes.Buffer
	c.stdout = &out
	if c.log == nil {
		c.log = env.Log
	}
	err := r.run(ctx, env, c)
	return out.String(), err
}

// sshFailed is ssh's own exit status: it could not connect, log in, or
// lost the connection (a command that exits 255 itself looks the same).
const sshFailed = 255

// remoteError is a command on a host that failed, or ssh failing to reach
// the host. It unwraps to the *proc.Error, so the exit status and the last
// lines stay readable (a refusal to switch is told by them, inhibit.go).
type remoteError struct {
	host, what string
	err        error
}

func (e *remoteError) Error() string {
	var pe *proc.Error
	if !errors.As(e.err, &pe) {
		return e.host + ": " + e.what + ": " + e.err.Error()
	}
	var b strings.Builder
	switch {
	case pe.Err != nil && pe.Code == -1 && pe.Signal == "":
		fmt.Fprintf(&b, "%s: %s: %v", e.host, e.what, pe.Err)
	case pe.Signal != "":
		fmt.Fprintf(&b, "%s: %s: ssh killed by signal %s", e.host, e.what, pe.Signal)
	case pe.Code == sshFailed:
		fmt.Fprintf(&b, "%s: ssh failed (exit status 255: cannot connect, log in, or the connection was lost) running %s", e.host, e.what)
	default:
		fmt.Fprintf(&b, "%s: %s: exit status %d", e.host, e.what, pe.Code)
	}
	if len(pe.Tail) > 0 {
		b.WriteString("\n  last output:")
		for _, l := range pe.Tail {
			b.WriteString("\n    " + l)
		}
	}
	return b.String()
}

func (e *remoteError) Unwrap() error { return e.err }

// Unreachable reports whether err (of CheckHostElevation, say) is ssh
// failing to reach a host, or losing it, rather than a command that
// failed there.
func Unreachable(err error) bool { return unreachable(err) }

// unreachable reports whether err is ssh failing to reach the host (or
// losing the connection), not a command that failed there.
func unreachable(err error) bool {
	var re *remoteError
	var pe *proc.Error
	return errors.As(err, &re) && errors.As(err, &pe) && pe.Code == sshFailed
}

// nix is a `nix` command line for the target: Nix there may not have the
// nix command enabled (it is still experimental), and need not.
func nixArgv(args ...string) []string {
	return append([]string{"nix", "--extra-experimental-features", "nix-command"}, args...)
}

// systemsScript prints, one a line, what each of its arguments (links)
// resolves to, "" for one that does not resolve to something that exists,
// then the target of the first one's link itself (the profile's generation
// link, e.g. "system-42-link").
const systemsScript = `for l in "$@"; do
  p=$(readlink -f "$l" 2>/dev/null) && [ -e "$p" ] && printf '%s\n' "$p" || echo
done
readlink "$1" 2>/dev/null || echo`

// targetSystems is what a host's links resolve to on the target.
type targetSystems struct {
	Profile, Current, Booted string // resolved; "" when it does not resolve
	Generation               int    // the profile's current generation; 0 when unknown
}

// systems reads the target's profile, running and booted system in one
// ssh command; fresh: over a connection of its own.
func (r *remote) systems(ctx context.Context, env *tasks.Env, fresh bool) (targetSystems, error) {
	c := env.Config
	out, err := r.output(ctx, env, remoteCmd{script: systemsScript, argv: []string{c.Profile, c.CurrentSystem, c.BootedSystem}, fresh: fresh,
		what: "readlink -f " + proc.ShellJoin([]string{c.Profile, c.CurrentSystem, c.BootedSystem})})
	if err != nil {
		return targetSystems{}, err
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 4 {
		return targetSystems{}, fmt.Errorf("%s: reading the profile and the running system printed %q", r, out)
	}
	ts := targetSystems{Profile: lines[0], Current: lines[1], Booted: lines[2]}
	if n, err := parseLinkName(path.Base(c.Profile), path.Base(lines[3])); err == nil {
		ts.Generation = n
	}
	return ts, nil
}

// CheckHostElevation makes sure, before a run, that root can be had on
// host h's target without a password (elevate is the top-level method,
// used when h sets none): `sudo -n true` (doas -n, run0
// --no-ask-password) over ssh. Nobody could type a password there in the
// middle of a run, so a method that would need one fails here, naming the
// host and what to do. A root@ target, elevate = "none" and a local host
// need nothing and run nothing. The error also says when the host cannot
// be reached at all.
func CheckHostElevation(ctx context.Context, runner *proc.Runner, h config.Host, elevate string) error {
	if h.IsLocal() {
		return nil
	}
	r, err := newRemote(h, elevate)
	if err != nil || len(r.root) == 0 {
		return err
	}
	env := tasks.NewEnv("preflight", nil, nil)
	env.Runner = runner
	var log bytes.Buffer
	err = r.run(ctx, env, remoteCmd{argv: []string{"true"}, root: true, log: &log})
	if err == nil {
		return nil
	}
	if unreachable(err) {
		return fmt.Errorf("host %s: cannot reach %s to check %s there: %w", h.Name, r.ssh, r.root[0], err)
	}
	method := r.root[0]
	who := r.ssh.User
	if who == "" {
		who = "the ssh user"
	}
	asRoot := r.ssh
	asRoot.User = "root"
	return fmt.Errorf("host %s: %s on %s needs a password (or is not installed), and nobody can type one there in the middle of a run: "+
		"let %s run rebuild's commands as root without one (NOPASSWD in sudoers, nopass in doas.conf, a polkit rule for run0), "+
		"or use target = %q with elevate = \"none\": %w",
		h.Name, method, r.ssh, who, asRoot.String(), err)
}
