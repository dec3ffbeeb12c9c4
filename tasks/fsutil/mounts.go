package fsutil

import (
	"bufio"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// mountTable tells whether a directory entry is a mount point. Comparing
// st_dev is not enough: a bind mount of the same file system (mount
// --bind ~/elsewhere ~/.cache/x/y) has the device of everything around
// it, and a walk or a deletion that crossed it would size or empty the
// folder mounted there. The kernel says it directly through statx's
// STATX_ATTR_MOUNT_ROOT (Linux 5.8); where statx does not say, the mount
// table in /proc/self/mountinfo does, read once per table. Where neither
// can be had, only st_dev guards. One table serves one walk or one
// removal; it is safe for concurrent use.
type mountTable struct {
	once   sync.Once
	points map[string]bool
	err    error
}

// isMountPoint reports whether name in the directory dirfd is the root of
// a mount. It does not follow a symlink or trigger an automount. The
// error is about the entry (it vanished, say).
func (m *mountTable) isMountPoint(dirfd int, name string) (bool, error) {
	var stx unix.Statx_t
	err := unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT|unix.AT_STATX_DONT_SYNC, unix.STATX_TYPE, &stx)
	switch {
	case err == nil && stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0:
		return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	case err != nil && !errors.Is(err, unix.ENOSYS):
		return false, err
	}
	mp, err := m.fromMountinfo(dirfd, name)
	if err != nil && !errors.Is(err, errNoMountinfo) {
		return false, err
	}
	return mp, nil
}

var errNoMountinfo = errors.New("/proc/self/mountinfo cannot be read")

// fromMountinfo answers from /proc/self/mountinfo: the entry's path is
// its folder's, as the kernel names the open descriptor, joined with name.
func (m *mountTable) fromMountinfo(dirfd int, name string) (bool, error) {
	m.once.Do(func() {
		f, err := os.Open("/proc/self/mountinfo")
		if err != nil {
			m.err = errNoMountinfo
			return
		}
		defer f.Close()
		m.points = parseMountinfo(f)
	})
	if m.err != nil {
		return false, m.err
	}
	dir, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(dirfd))
	if err != nil {
		return false, errNoMountinfo
	}
	if dir != "/" {
		dir += "/"
	}
	return m.points[dir+name], nil
}

// parseMountinfo returns the mount points listed in r (the fifth field of
// each line of proc(5)'s mountinfo, its \ooo escapes undone).
func parseMountinfo(r io.Reader) map[string]bool {
	points := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		points[unescapeMountinfo(fields[4])] = true
	}
	return points
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space,
// \011 tab, \012 newline, \134 backslash).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
