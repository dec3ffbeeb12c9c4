package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load as the user file. Load must not
// panic; it returns a Config or an *Error. A Config must survive
// WriteTOML and Load again, and writing it twice gives the same text.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"",
		"jobs = 4\n",
		InitTemplate(),
		`flake = "~/nixos-config"
host = ""
profile = "/nix/var/nix/profiles/system"
current_system = "/run/current-system"
booted_system = "/run/booted-system"
elevate = "sudo"
jobs = 0
state_dir = ""
keep_logs = 20
metrics_file = ""

[task.build]
timeout = "2h"

[task.caches]
paths = ["~/.cache/uv", "~/.npm"]

[task.vulnix]
run = "vulnix --system"
after = ["activate"]
groups = ["security"]
critical = false
`,
		"[task.x]\nrun = \"true\"\nneeds = []\ntimeout = \"1h30m\"\nenabled = true\n",
		"[task.caches]\nnested = {a = 1, b = [1.5, nan, inf]}\nwhen = 1979-05-27T07:32:00Z\nd = 1979-05-27\nt = 07:32:00\n",
		"task = 5\n",
		"jbos = 4\n",
		"elevate = \"su\"\n",
		"[task.build]\ntimeout = \"soon\"\n",
		"flake = \"~\"\nstate_dir = \"~/s\"\n",
		"[[task]]\nx = 1\n",
		"host = [\n",
		"[task.x]\nrun = \"a\\u0000b\"\n",
		"[task." + strings.Repeat("a", 65) + "]\nrun = \"true\"\n",
		hostsFile,
		"rollout = \"canary\"\n[host.a]\n[host.\"b.c\"]\ntarget = \"root@[::1]:22\"\nbuild_on = \"a\"\n",
		"host = \"x\"\n[host.y]\n",
		"[host.a]\nkeep_since = \"1d2x\"\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// One directory per fuzzing process (the function runs serially in
	// it); a t.TempDir per input would cost more than Load.
	d := f.TempDir()
	home := filepath.Join(d, "home")
	f.Fuzz(func(t *testing.T, data []byte) {
		in := filepath.Join(d, "in.toml")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		o := Options{SystemFile: "-", UserFile: in, Home: home, Hostname: "h", Environ: []string{"HOME=" + home}}
		c, err := Load(o)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		var first bytes.Buffer
		if err := c.WriteTOML(&first); err != nil {
			t.Fatalf("WriteTOML of a loaded config: %v", err)
		}
		o.UserFile = filepath.Join(d, "out.toml")
		if err := os.WriteFile(o.UserFile, first.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		back, err := Load(o)
		if err != nil {
			t.Fatalf("Load(WriteTOML(cfg)): %v\n%s", err, first.String())
		}
		var second bytes.Buffer
		if err := back.WriteTOML(&second); err != nil {
			t.Fatal(err)
		}
		if first.String() != second.String() {
			t.Fatalf("WriteTOML is not a fixed point:\n%s\n---\n%s", first.String(), second.String())
		}
	})
}
