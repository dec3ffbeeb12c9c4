package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// loadWithin loads o and fails the test if Load takes longer than d (a
// FIFO as config used to block on open until a writer came).
func loadWithin(t *testing.T, o Options, d time.Duration) (*Config, error) {
	t.Helper()
	type result struct {
		c   *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := Load(o)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		return r.c, r.err
	case <-time.After(d):
		t.Fatalf("Load(%q) still running after %v", o.UserFile, d)
		return nil, nil
	}
}

// A configuration must be a regular file: a FIFO is refused at once
// instead of hanging, a device instead of being read for ever.
func TestLoadRefusesFilesThatAreNotRegular(t *testing.T) {
	e := newEnv(t)
	fifo := filepath.Join(e.dir, "fifo.toml")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, what string }{
		{fifo, "a FIFO"},
		{"/dev/zero", "a character device"},
		{e.dir, "a directory"},
	} {
		o := e.opts()
		o.UserFile = c.path
		_, err := loadWithin(t, o, 5*time.Second)
		if err == nil {
			t.Errorf("%s: loaded", c.path)
			continue
		}
		wantIn(t, err.Error(), c.path+": cannot read: "+c.what+", not a regular file")
		// The system file is held to the same rule.
		o = e.opts()
		o.SystemFile = c.path
		if _, err := loadWithin(t, o, 5*time.Second); err == nil || !strings.Contains(err.Error(), c.what) {
			t.Errorf("%s as the system file: %v", c.path, err)
		}
	}
}

// A file over MaxFileSize is refused without being read whole; one of
// exactly MaxFileSize loads.
func TestLoadRefusesAFileOverTheSizeCap(t *testing.T) {
	e := newEnv(t)
	line := "# " + strings.Repeat("x", 1021) + "\n" // 1 KiB
	fits := "jobs = 3\n" + strings.Repeat(line, MaxFileSize/len(line)-1)
	fits += "#" + strings.Repeat("y", MaxFileSize-len(fits)-2) + "\n"
	if len(fits) != MaxFileSize {
		t.Fatalf("fixture is %d bytes", len(fits))
	}
	o := e.opts()
	o.UserFile = writeFile(t, e.dir, "fits.toml", fits)
	if c := mustLoad(t, o); c.Jobs != 3 {
		t.Errorf("jobs %d", c.Jobs)
	}
	o.UserFile = writeFile(t, e.dir, "big.toml", fits+"\n")
	err := loadError(t, o)
	if err.File != o.UserFile {
		t.Errorf("file %q", err.File)
	}
	wantIn(t, err.Error(), "big.toml: too large: more than 1048576 bytes (1 MiB)")
}

func mustChown(t *testing.T, p string, uid int) {
	t.Helper()
	if err := os.Lchown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// As root, a configuration another user owns or can write is refused: it
// would let that user run commands as root.
func TestRootRefusesAConfigurationOthersCanChange(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to own files as another user")
	}
	const other = 4242
	cases := []struct {
		name  string
		setup func(t *testing.T, dir, file string)
		want  []string // "" = loads
	}{
		{"root's, 0644, in root's 0755 directory", func(*testing.T, string, string) {}, nil},
		{"another user's file", func(t *testing.T, _, f string) { mustChown(t, f, other) },
			[]string{"owned by uid 4242, not root", "chown root:root "}},
		{"world-writable file", func(t *testing.T, _, f string) { os.Chmod(f, 0o666) },
			[]string{"writable by group or others (mode 0666)", "chmod go-w "}},
		{"group-writable file", func(t *testing.T, _, f string) { os.Chmod(f, 0o664) },
			[]string{"writable by group or others (mode 0664)"}},
		{"another user's directory", func(t *testing.T, d, _ string) { mustChown(t, d, other) },
			[]string{"its directory", "is owned by uid 4242, not root"}},
		{"world-writable directory", func(t *testing.T, d, _ string) { os.Chmod(d, 0o777) },
			[]string{"its directory", "is writable by group or others (mode 0777)", "chmod go-w "}},
		// /tmp: no one but the owner of an entry may replace it.
		{"sticky world-writable directory", func(t *testing.T, d, _ string) { os.Chmod(d, os.ModeSticky|0o777) }, nil},
		{"symlink to another user's file", func(t *testing.T, d, f string) {
			target := filepath.Join(filepath.Dir(d), "target.toml")
			if err := os.Rename(f, target); err != nil {
				t.Fatal(err)
			}
			mustChown(t, target, other)
			if err := os.Symlink(target, f); err != nil {
				t.Fatal(err)
			}
		}, []string{"owned by uid 4242, not root"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, layer := range []string{"user", "system"} {
				e := newEnv(t)
				dir := filepath.Join(e.dir, "conf")
				file := writeFile(t, dir, "config.toml", "[task.x]\nrun = \"id\"\n")
				c.setup(t, dir, file)
				o := e.opts()
				o.Root = true
				if layer == "user" {
					o.UserFile = file
				} else {
					o.SystemFile = file
				}
				cfg, err := Load(o)
				if c.want == nil {
					if err != nil {
						t.Errorf("%s file: %v", layer, err)
					} else if cfg.Tasks["x"].Run != "id" {
						t.Errorf("%s file: tasks %+v", layer, cfg.Tasks)
					}
					continue
				}
				if err == nil {
					t.Errorf("%s file: loaded as root", layer)
					continue
				}
				wantIn(t, err.Error(), append([]string{file + ": "}, c.want...)...)
				// The same file is fine for a run that is not root's.
				o.Root = false
				if _, err := Load(o); err != nil {
					t.Errorf("%s file, not root: %v", layer, err)
				}
			}
		})
	}
}

// As root, the environment defines no task's command; other task keys
// and an empty (unset) run stay allowed.
func TestRootRefusesTaskCommandsFromTheEnvironment(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.Root = true
	o.Environ = append(o.Environ, "REBUILD_TASK__X__RUN=id > /tmp/pwned")
	err := loadError(t, o)
	if err.File != SourceEnvironment || err.Key != "REBUILD_TASK__X__RUN" {
		t.Errorf("error at %q %q", err.File, err.Key)
	}
	wantIn(t, err.Error(), "environment: REBUILD_TASK__X__RUN defines the command of task x, and rebuild runs as root",
		"unset it, or put run in [task.x] of /etc/rebuild/config.toml")

	o.Root = false
	if c := mustLoad(t, o); c.Tasks["x"].Run != "id > /tmp/pwned" {
		t.Errorf("not root: tasks %+v", c.Tasks)
	}

	o = e.opts()
	o.Root = true
	o.Environ = append(o.Environ, "REBUILD_TASK__X__RUN=", "REBUILD_TASK__BUILD__TIMEOUT=2h", "REBUILD_JOBS=2")
	if c := mustLoad(t, o); c.Tasks["build"].Timeout != 2*time.Hour || c.Jobs != 2 {
		t.Errorf("root: %+v", c)
	}
}

// A task name longer than MaxNameLen would fail only when its log file is
// created; it is a configuration error at load, from every layer.
func TestLoadRefusesOverlongTaskNames(t *testing.T) {
	long := strings.Repeat("a", 300)
	e := newEnv(t)
	o := e.opts()
	o.UserFile = writeFile(t, e.dir, "long.toml", "[task."+long+"]\nrun = \"true\"\n")
	err := loadError(t, o)
	if err.File != o.UserFile || err.Key != "task."+long {
		t.Errorf("error at %q %q", err.File, err.Key)
	}
	wantIn(t, err.Error(), o.UserFile+": task name "+long[:32]+"… is 300 characters long; the most is 64", "NAME.log")

	o = e.opts()
	o.Environ = append(o.Environ, "REBUILD_TASK__"+strings.ToUpper(long)+"__RUN=true")
	wantIn(t, loadError(t, o).Error(), "environment: task name", "is 300 characters long")

	o = e.opts()
	o.Flags = map[string]any{"task." + long + ".timeout": "1h"}
	wantIn(t, loadError(t, o).Error(), "flags: task name", "is 300 characters long")

	// The longest allowed name loads.
	max := strings.Repeat("b", MaxNameLen-2) + "-c"
	o = e.opts()
	o.UserFile = writeFile(t, e.dir, "max.toml", "[task."+max+"]\nrun = \"true\"\n")
	if c := mustLoad(t, o); c.Tasks[max].Run != "true" {
		t.Errorf("tasks %v", c.TaskNames())
	}
}

// A NUL byte cannot reach exec or open; it is refused at load.
func TestLoadRefusesNULInCommandsAndPaths(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.UserFile = writeFile(t, e.dir, "nul.toml", "[task.x]\nrun = \"echo a\\u0000b\"\n")
	err := loadError(t, o)
	if err.File != o.UserFile || err.Key != "task.x.run" {
		t.Errorf("error at %q %q", err.File, err.Key)
	}
	wantIn(t, err.Error(), o.UserFile+`: task.x.run = "echo a\x00b": contains a NUL byte`)

	o = e.opts()
	o.Flags = map[string]any{"task.x.run": "a\x00b"}
	wantIn(t, loadError(t, o).Error(), `flags: task.x.run = "a\x00b": contains a NUL byte`)

	o = e.opts()
	o.UserFile = writeFile(t, e.dir, "nulpath.toml", "flake = \"/etc/nixos\\u0000x\"\n")
	wantIn(t, loadError(t, o).Error(), `nulpath.toml: flake = "/etc/nixos\x00x": contains a NUL byte`)
}
