package cleanup

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/taskstest"
)

// A folder bind-mounted inside a cache (same file system, same st_dev)
// is neither counted nor emptied: cleaning the cache with --yes leaves
// every file behind the mount, and the size shown is the cache's own.
// Needs root (CAP_SYS_ADMIN) for mount --bind; skipped otherwise.
func TestCachesLeaveABindMountInsideAlone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mount --bind needs root")
	}
	h := newCacheHome(t)
	bind := filepath.Join(h.home, ".cache/uv/mounted")
	if err := os.MkdirAll(bind, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(h.outside, bind, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(bind, unix.MNT_DETACH) })
	before := taskstest.Listing(t, h.outside)

	r := run(t, noTools, "caches", h.home, map[string]any{"paths": []any{"~/.cache/uv"}}, &taskstest.Prompter{}, func(e *tasks.Env) { e.Yes = true })
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := taskstest.Listing(t, h.outside); !slices.Equal(got, before) {
		t.Errorf("behind the bind mount:\n%s", taskstest.Diff(got, before))
	}
	if _, err := os.Stat(filepath.Join(h.home, ".cache/uv/wheels")); !os.IsNotExist(err) {
		t.Errorf("the cache's own contents should be gone: %v", err)
	}
	// The table counts the two wheels, not the two files behind the mount.
	if !regexp.MustCompile(`~/\.cache/uv +[0-9.]+ \S+ +2 +remove contents`).MatchString(r.Log) {
		t.Errorf("the table does not count only the cache's own 2 files:\n%s", r.Log)
	}
	if w := strings.Join(r.Rep.Warnings, "\n"); !strings.Contains(w, "mount point") {
		t.Errorf("warnings %q do not say the mount point was left alone", w)
	}
}
