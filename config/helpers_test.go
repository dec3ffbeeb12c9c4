package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// env is a small fixture: a home directory of its own, no system file,
// no user file unless a test writes one.
type fixture struct {
	t    testing.TB
	dir  string
	home string
}

func newEnv(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home", "u")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: dir, home: home}
}

func (e *fixture) opts() Options {
	return Options{
		SystemFile: "-",
		Environ:    []string{"HOME=" + e.home, "PATH=/bin"},
		Home:       e.home,
		Hostname:   "myhost.example.org",
	}
}

// system writes the system file and returns its path.
func (e *fixture) system(content string) string {
	return writeFile(e.t, e.dir, "etc/rebuild/config.toml", content)
}

// user writes the user file at its default place and returns its path.
func (e *fixture) user(content string) string {
	return writeFile(e.t, e.home, ".config/rebuild/config.toml", content)
}

func mustLoad(t testing.TB, o Options) *Config {
	t.Helper()
	c, err := Load(o)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// loadError loads and wants an *Error.
func loadError(t testing.TB, o Options) *Error {
	t.Helper()
	c, err := Load(o)
	if err == nil {
		t.Fatalf("Load succeeded, want an error; got %+v", c)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load error %T %v, want *Error", err, err)
	}
	return ce
}

// wantIn fails unless s holds every one of parts.
func wantIn(t testing.TB, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q\n  does not contain %q", s, p)
		}
	}
}

func ptr[T any](v T) *T { return &v }
