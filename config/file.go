package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// MaxFileSize is the largest configuration file Load reads. A real one is
// a few kilobytes; the cap keeps `--config /dev/zero` (or a log file named
// by mistake) from growing the process without bound.
const MaxFileSize = 1 << 20

// readFile reads one configuration file; found is false when it is
// missing and not required. Everything is checked on what was opened, not on the path,
// so nothing can be swapped in between the check and the read: the file is
// opened relative to its opened directory, and its type, size, owner and
// mode come from fstat. It must be a regular file (a FIFO would block the
// read forever, a device never end) of at most MaxFileSize bytes. When
// root is set (rebuild runs as root), the file and its directory must
// also be root's and writable by no one else; see checkRootOwned.
func readFile(path string, required, root bool) (data []byte, found bool, err error) {
	clean := filepath.Clean(path)
	dirName, base := filepath.Dir(clean), filepath.Base(clean)
	if base == "/" {
		base = "."
	}
	// O_PATH: the directory is only a handle to open the file from and to
	// fstat; it needs no read permission, as a plain open of the path
	// would not.
	dfd, err := unix.Open(dirName, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, fileError(path, required, &fs.PathError{Op: "open", Path: dirName, Err: err})
	}
	defer unix.Close(dfd)
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer before the type could be checked. O_NOCTTY: a terminal device
	// named as the config must not become the controlling terminal.
	fd, err := unix.Openat(dfd, base, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, fileError(path, required, &fs.PathError{Op: "open", Path: path, Err: err})
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()

	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, false, fileError(path, true, &fs.PathError{Op: "fstat", Path: path, Err: err})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, false, &Error{File: path,
			Msg: fmt.Sprintf("cannot read: %s, not a regular file; the configuration must be a regular file", fileType(st.Mode))}
	}
	if root {
		var dst unix.Stat_t
		if err := unix.Fstat(dfd, &dst); err != nil {
			return nil, false, fileError(path, true, &fs.PathError{Op: "fstat", Path: dirName, Err: err})
		}
		if err := checkRootOwned(path, dirName, &st, &dst); err != nil {
			return nil, false, err
		}
	}
	tooBig := &Error{File: path,
		Msg: fmt.Sprintf("too large: more than %d bytes (1 MiB), the most a configuration file may hold", MaxFileSize)}
	if st.Size > MaxFileSize {
		return nil, false, tooBig
	}
	// The size is checked again on what is read: a file can grow after
	// fstat, and some (in /proc) report 0.
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, false, fileError(path, true, err)
	}
	if len(b) > MaxFileSize {
		return nil, false, tooBig
	}
	return b, true, nil
}

// checkRootOwned refuses, for a root run, a configuration file or
// directory that another user owns or that group or others may write:
// whoever can change the file can add a [task.X] run line, and rebuild
// would run it as root (sudo and sshd refuse loose permissions for the same
// reason). A directory with the sticky bit (/tmp) may be writable by all,
// as no one but the owner of an entry can then rename or remove it.
func checkRootOwned(path, dir string, file, d *unix.Stat_t) error {
	how := "rebuild runs as root, and whoever can change this file can make it run commands as root"
	switch {
	case file.Uid != 0:
		return &Error{File: path, Msg: fmt.Sprintf("owned by uid %d, not root: %s; make it root's (chown root:root %s) or run rebuild as that user",
			file.Uid, how, path)}
	case file.Mode&0o022 != 0:
		return &Error{File: path, Msg: fmt.Sprintf("writable by group or others (mode %04o): %s; chmod go-w %s",
			file.Mode&0o7777, how, path)}
	case d.Uid != 0:
		return &Error{File: path, Msg: fmt.Sprintf("its directory %s is owned by uid %d, not root: %s; chown root:root %s, or keep root's configuration elsewhere",
			dir, d.Uid, how, dir)}
	case d.Mode&0o022 != 0 && d.Mode&unix.S_ISVTX == 0:
		return &Error{File: path, Msg: fmt.Sprintf("its directory %s is writable by group or others (mode %04o): %s; chmod go-w %s",
			dir, d.Mode&0o7777, how, dir)}
	}
	return nil
}

// fileType names what a non-regular file is, for the error.
func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return "a special file"
}
