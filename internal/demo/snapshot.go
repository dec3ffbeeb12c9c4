package demo

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Snapshot is what a dry run must leave as it found it: the bytes of the
// lock file and every symbolic link, with its target, under the profiles,
// the store's GC roots and the folder of the current and booted system
// links. Two snapshots compare equal when nothing of that changed.
func (s *Sandbox) Snapshot() (map[string]string, error) {
	m := map[string]string{}
	lock, err := os.ReadFile(filepath.Join(s.Flake, "flake.lock"))
	if err != nil {
		return nil, err
	}
	m[filepath.Join(s.Flake, "flake.lock")] = string(lock)
	for _, dir := range []string{filepath.Dir(s.Profile), filepath.Join(s.State, "gcroots"), filepath.Dir(s.CurrentSystem)} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return err
			}
			target, err := os.Readlink(p)
			m[p] = "→ " + target
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}
