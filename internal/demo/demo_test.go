package demo

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The generator stand-in, as claude-config runs it (sh, in the flake
// directory, HOME the sandbox's): it writes the five files claude-config
// reports on and, on the next run, backs each up first.
func TestClaudeGeneratorWritesAndBacksUp(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	root := t.TempDir()
	s := &Sandbox{Root: root, Home: filepath.Join(root, "home"), Flake: filepath.Join(root, "flake")}
	for _, d := range []string{s.Home, s.Flake} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.generatorPath(), []byte(claudeGenerator), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		t.Helper()
		cmd := exec.Command("sh", s.generatorPath())
		cmd.Dir, cmd.Env = s.Flake, []string{"HOME=" + s.Home, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("generator: %v\n%s", err, out)
		}
		return string(out)
	}
	written := []string{filepath.Join(s.Flake, "CLAUDE.md"), filepath.Join(s.Flake, ".claude", "settings.local.json"),
		filepath.Join(s.Flake, ".claude", "CLAUDE.local.md"), filepath.Join(s.Home, ".claude", "CLAUDE.md")}
	if out := run(); out != "regenerated 5 files\n" {
		t.Errorf("first run said %q", out)
	}
	for _, p := range written {
		if b, err := os.ReadFile(p); err != nil || len(b) == 0 {
			t.Errorf("%s not written: %v", p, err)
		}
	}
	run()
	for _, p := range written {
		backups, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".backups", filepath.Base(p)+".backup-*"))
		if len(backups) != 1 {
			t.Errorf("%s: backups %q, want one from the second run", p, backups)
		}
	}
}

// A run in the sandbox sees the sandbox's Nix, HOME, XDG directories and
// state, and none of the user's REBUILD_* or XDG_* settings; the
// configuration points nowhere outside the sandbox.
func TestRebuildEnvironAndConfigStayInTheSandbox(t *testing.T) {
	root := t.TempDir()
	s := &Sandbox{Root: root, Home: filepath.Join(root, "home"), Store: filepath.Join(root, "store"),
		State: filepath.Join(root, "var"), Flake: filepath.Join(root, "flake"), Profile: filepath.Join(root, "var", "profiles", "system"),
		CurrentSystem: filepath.Join(root, "run", "current-system"), BootedSystem: filepath.Join(root, "run", "booted-system"),
		SwitchLog: filepath.Join(root, "switch.log"), Host: Host}
	user := []string{"PATH=/usr/bin", "HOME=/home/me", "REBUILD_CONFIG=/home/me/rebuild.toml", "REBUILD_FLAKE=/etc/nixos",
		"XDG_STATE_HOME=/home/me/.local/state", "NIX_REMOTE=daemon", "GIT_DIR=/home/me/repo/.git", "LANG=C.UTF-8"}
	env := s.RebuildEnviron(user)
	get := func(k string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v, true
			}
		}
		return "", false
	}
	for k, want := range map[string]string{"HOME": s.Home, "NIX_STORE_DIR": s.Store, "NIX_REMOTE": "",
		"XDG_STATE_HOME": s.stateDir(), "XDG_CONFIG_HOME": filepath.Join(s.Home, ".config"), "PATH": "/usr/bin", "LANG": "C.UTF-8"} {
		if got, ok := get(k); !ok || got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"REBUILD_CONFIG", "REBUILD_FLAKE", "GIT_DIR"} {
		if v, ok := get(k); ok {
			t.Errorf("%s=%s reaches the demo's run", k, v)
		}
	}
	if n := slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=/home/me") }); n >= 0 {
		t.Errorf("the user's HOME is kept: %q", env)
	}
	for _, l := range strings.Split(s.config(), "\n") {
		if _, v, ok := strings.Cut(l, " = \""); ok && strings.HasPrefix(v, "/") && !strings.HasPrefix(v, root+"/") {
			t.Errorf("the demo's configuration points outside the sandbox: %s", l)
		}
	}
}
