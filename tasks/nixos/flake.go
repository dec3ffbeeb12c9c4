package nixos

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

var errNoConfig = errors.New("no configuration")

// flake returns the flake reference from the configuration and, when it
// is a local directory, that directory ("" for a remote flake such as
// github:owner/repo).
func flake(env *tasks.Env) (ref, dir string, err error) {
	if env.Config == nil {
		return "", "", errNoConfig
	}
	ref = env.Config.Flake
	if ref == "" {
		return "", "", errors.New("no flake configured (set flake in config.toml or --flake)")
	}
	p := env.Expand(ref)
	if !strings.Contains(p, ":") || strings.HasPrefix(p, "/") {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", "", err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return "", "", fmt.Errorf("flake directory %s does not exist (set flake in the configuration, REBUILD_FLAKE or --flake)", abs)
		}
		return abs, abs, nil
	}
	if rest, ok := strings.CutPrefix(p, "path:"); ok && strings.HasPrefix(rest, "/") {
		if st, err := os.Stat(rest); err == nil && st.IsDir() {
			return p, rest, nil
		}
	}
	if strings.HasPrefix(p, "git+file:///") {
		// git+file:///etc/nixos, git+file:///repo?dir=hosts: the working
		// tree, unless the URL pins another ref or revision.
		if u, err := url.Parse(p); err == nil && u.Fragment == "" {
			q, d := u.Query(), u.Path
			if sub := q.Get("dir"); sub != "" {
				d = filepath.Join(d, sub)
				q.Del("dir")
			}
			if st, err := os.Stat(d); err == nil && st.IsDir() && len(q) == 0 {
				return p, d, nil
			}
		}
	}
	return p, "", nil
}

var plainAttr = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_'-]*$`)

// toplevel is the installable of the host's system.
func toplevel(env *tasks.Env) (string, error) {
	ref, _, err := flake(env)
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

// builtPath reads what build handed on.
func builtPath(env *tasks.Env) (path string, changed bool, ok bool) {
	v, ok := env.Value("build", "out")
	if !ok {
		return "", false, false
	}
	path, _ = v.(string)
	changed = true
	if c, ok := env.Value("build", "changed"); ok {
		changed, _ = c.(bool)
	}
	return path, changed, path != ""
}

// FlakeDir returns the configured flake's local directory, "" when the
// flake is not local (a github: reference, say).
func FlakeDir(env *tasks.Env) (string, error) {
	_, dir, err := flake(env)
	return dir, err
}
