package fsutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
)

// WriteAtomic replaces path with data through a synced temporary file in
// the same folder. The new file keeps the old one's permissions (0644 for
// a new one) and, run as root in someone's home, its owner (the folder's
// for a new one), so a root run leaves nothing the user cannot rewrite. A symlink is refused, not replaced: renaming over it would
// turn a link someone manages (home-manager links files into the Nix
// store) into a regular file, and leave the file it points to unchanged.
func WriteAtomic(path string, data []byte) error {
	mode := fs.FileMode(0o644)
	var old fs.FileInfo
	if fi, err := os.Lstat(path); err == nil {
		old = fi
		if fi.Mode()&fs.ModeSymlink != 0 {
			to, _ := os.Readlink(path)
			return fmt.Errorf("%s is a symbolic link (to %s): not replaced; change the file it points to", path, to)
		}
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := safefile.GiveLike(tmp, old, filepath.Dir(path)); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	return nil
}
