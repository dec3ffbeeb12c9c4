package fsutil

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// A bind mount of the same file system inside the walked folder is not
// entered: its st_dev is the root's, so only the mount table (statx's
// STATX_ATTR_MOUNT_ROOT, or /proc/self/mountinfo) tells it is one.
func TestWalkDoesNotEnterABindMount(t *testing.T) {
	s := newSandbox(t)
	taskstest.File(t, filepath.Join(s.cache, "here"), 1)
	bind := filepath.Join(s.cache, "sub", "bind")
	bindMount(t, s.outside, bind)

	got, res := collect(t, s.cache, Options{})
	if !slices.Equal(got, []string{"./", "here (1)", "sub/"}) {
		t.Errorf("visited %q, want only ./, here and sub/", got)
	}
	if !slices.Equal(res.Mounts, []string{bind}) {
		t.Errorf("mounts %q, want %q", res.Mounts, bind)
	}
	u, _, err := Size(context.Background(), s.cache, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if u.Files != 1 {
		t.Errorf("Size counted %d files, want 1: the 200 bytes behind the mount are not the cache's", u.Files)
	}
	got, _ = collect(t, s.cache, Options{CrossDevices: true})
	if !slices.Contains(got, "sub/bind/precious (100)") {
		t.Errorf("CrossDevices: visited %q, want the mount's contents too", got)
	}
}

// Emptying a cache leaves what is behind a bind mount inside it, a
// mounted folder or a mounted file, and says why; a dry run says the same.
func TestRemoveDoesNotEnterABindMount(t *testing.T) {
	s := newSandbox(t)
	bind := filepath.Join(s.cache, "sub", "bind")
	bindMount(t, s.outside, bind)
	fileBind := filepath.Join(s.cache, "file-bind")
	bindMount(t, filepath.Join(s.home, "keep-me"), fileBind)
	taskstest.File(t, filepath.Join(s.cache, "sub", "plain"), 10)
	taskstest.File(t, filepath.Join(s.cache, "other"), 10)
	r, err := Guard{Home: s.home}.Open(s.cache, false)
	if err != nil {
		t.Fatal(err)
	}
	dry, err := r.RemoveContents(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.RemoveContents(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(s.outside, "precious"), filepath.Join(s.outside, "dir", "precious-too"), filepath.Join(s.home, "keep-me")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s, behind a bind mount, went: %v", f, err)
		}
	}
	for _, o := range []Removal{dry, out} {
		if len(o.Removed) != 1 || filepath.Base(o.Removed[0].Path) != "other" {
			t.Errorf("removed %v, want only other (sub holds a mount, file-bind is one)", o.Removed)
		}
		if len(o.Errors) != 2 {
			t.Errorf("errors %v, want one for each mount point", o.Errors)
		}
		for _, e := range o.Errors {
			if !strings.Contains(e.Error(), "mount point") {
				t.Errorf("error %q does not say it met a mount point", e)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(s.cache, "sub", "plain")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sub/plain should be gone: %v", err)
	}
}

// A path asked for through a bind mount is refused.
func TestRemoveRefusesAPathThroughABindMount(t *testing.T) {
	s := newSandbox(t)
	bind := filepath.Join(s.cache, "bind")
	bindMount(t, s.outside, bind)
	r, err := Guard{Home: s.home}.Open(s.cache, false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Remove(context.Background(), []string{filepath.Join(bind, "precious"), filepath.Join(bind, "dir")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Removed) != 0 || len(out.Errors) != 2 {
		t.Errorf("removed %v, errors %v: want both refused", out.Removed, out.Errors)
	}
	for _, f := range []string{filepath.Join(s.outside, "precious"), filepath.Join(s.outside, "dir", "precious-too")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s went: %v", f, err)
		}
	}
}

// Without statx's answer, the mount table in /proc/self/mountinfo says
// the same.
func TestMountinfoFindsABindMount(t *testing.T) {
	s := newSandbox(t)
	bind := filepath.Join(s.cache, "bind")
	bindMount(t, s.outside, bind)
	mkdir(t, filepath.Join(s.cache, "plain"))
	fd, err := unix.Open(s.cache, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var m mountTable
	for name, want := range map[string]bool{"bind": true, "plain": false} {
		got, err := m.fromMountinfo(fd, name)
		if err != nil || got != want {
			t.Errorf("%s: mount point %v, %v; want %v", name, got, err, want)
		}
	}
}

func TestParseMountinfo(t *testing.T) {
	const info = `22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
36 22 0:32 / /home/u/.cache/with\040space rw shared:2 - tmpfs tmpfs rw
37 22 0:33 /sub /home/u/back\134slash\011tab rw - ext4 /dev/sda1 rw
garbage
`
	got := parseMountinfo(strings.NewReader(info))
	for _, want := range []string{"/", "/home/u/.cache/with space", "/home/u/back\\slash\ttab"} {
		if !got[want] {
			t.Errorf("%q not found in %v", want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %v, want 3 mount points", got)
	}
}
