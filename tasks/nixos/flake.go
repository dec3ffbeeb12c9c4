package nixos

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

var errNoConfig = errors.New("no configuration")

var plainAttr = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_'-]*$`)

// toplevel is the installable of the host's system.
func toplevel(env *tasks.Env) (string, error) {
	ref, _, err := env.Flake()
	if err != nil {
		return "", err
	}
	host := env.Config.Host
	if host == "" {
		return "", errors.New("no host configured (set host in config.toml or -H)")
	}
	if !plainAttr.MatchString(host) {
		host = `"` + strings.ReplaceAll(host, `"`, `\"`) + `"`
	}
	return ref + "#nixosConfigurations." + host + ".config.system.build.toplevel", nil
}

// resolve follows a link such as /run/current-system to its store path;
// "" when it does not exist.
func resolve(link string) string {
	if link == "" {
		return ""
	}
	p, err := filepath.EvalSymlinks(link)
	if err != nil {
		return ""
	}
	return p
}

// run runs a command logged to the task's log, its latest line as status.
func run(ctx context.Context, env *tasks.Env, c proc.Cmd) error {
	if env.Runner == nil {
		return errors.New("no command runner")
	}
	if c.Log == nil {
		c.Log = env.Log
	}
	if c.Status == nil {
		c.Status = env.StatusFunc()
	}
	return env.Runner.Run(ctx, c)
}

// output runs a command and returns its standard output; standard error
// goes to the log.
func output(ctx context.Context, env *tasks.Env, c proc.Cmd) (string, error) {
	var out strings.Builder
	c.Stdout = &out
	err := run(ctx, env, c)
	return out.String(), err
}

// Built is what build hands on: the built system's store path, and
// whether it differs from the running system (false: "no changes").
type Built struct {
	Out     string
	Changed bool
	// NotBuilt: a dry run's evaluation; Out is where the system would be,
	// and it is not in the store yet.
	NotBuilt bool
	// Running is the running system when the build ended, resolved: what
	// diff compares with, since activation may switch the system while
	// diff runs beside it.
	Running string
	// OnTarget: it was built on the host it is for (build_on = "target")
	// and is in that host's store, not necessarily here.
	OnTarget bool
}

// Record keeps the store path in the run's history, as "build.out".
func (b Built) Record() map[string]string { return map[string]string{"out": b.Out} }

// BuiltKey is the Built that build hands on to diff and activate.
var BuiltKey = tasks.NewKey[Built]("build", "built")
