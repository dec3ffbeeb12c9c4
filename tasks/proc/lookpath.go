package proc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// LookPath finds the program name in the directories of path (a PATH
// value) by exec.LookPath's rules — the first executable regular file wins
// — with one difference: a relative entry ("", ".", "bin") is passed over,
// never resolved against the working directory. A shell reads an empty
// entry as "."; with PATH=":/usr/bin" a `./sh` left in the folder rebuild
// was started in would otherwise run, as root during activation. sudo's
// ignore_dot does the same. Go's exec refuses such a match with ErrDot;
// here the search goes on to the absolute entries, and only when the
// program is found nowhere else is the error one wrapping exec.ErrDot, so
// the message says why.
//
// A name containing a slash is not looked up: it is returned as given.
func LookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	dot := false
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			if !dot && isExecutableFile(filepath.Join(dir, name)) {
				dot = true
			}
			continue
		}
		if p := filepath.Join(dir, name); isExecutableFile(p) {
			return p, nil
		}
	}
	if dot {
		return "", &exec.Error{Name: name, Err: exec.ErrDot}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}

func isExecutableFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
