package tasks

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Flake returns the configured flake reference, ~ expanded, and, when it
// is a local directory, that directory ("" for a remote flake such as
// github:owner/repo). Every family that works in the flake's folder (the
// update and build, the commit and push) reads it here.
func (e *Env) Flake() (ref, dir string, err error) {
	if e.Config == nil {
		return "", "", errors.New("no configuration")
	}
	ref = e.Config.Flake
	if ref == "" {
		return "", "", errors.New("no flake configured (set flake in config.toml or --flake)")
	}
	p := e.Expand(ref)
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

// FlakeDir returns the configured flake's local directory, "" when the
// flake is not local (a github: reference, say).
func (e *Env) FlakeDir() (string, error) {
	_, dir, err := e.Flake()
	return dir, err
}
