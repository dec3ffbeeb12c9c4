package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobody is the "other user" of the root-only tests.
const nobody = 65534

func openDir(t *testing.T, path string) *Dir {
	t.Helper()
	d, err := OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func owner(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown to another user)")
	}
}

// A link where a state file should be is refused, whether it points at an
// existing file (which stays as it was) or nowhere (nothing is created).
func TestOpenFileRefusesSymlink(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	os.Symlink(victim, filepath.Join(dir, "lock"))
	missing := filepath.Join(outside, "created")
	os.Symlink(missing, filepath.Join(dir, "history.jsonl"))
	d := openDir(t, dir)

	for _, name := range []string{"lock", "history.jsonl"} {
		f, err := d.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
		if err == nil {
			f.WriteString("written\n")
			f.Close()
			t.Errorf("%s: opened through a link", name)
		} else if !IsSymlinkRefused(err) || !strings.Contains(err.Error(), filepath.Join(dir, name)) {
			t.Errorf("%s: error %q does not name the link or say why", name, err)
		}
	}
	if got := readFile(t, victim); got != "precious\n" {
		t.Errorf("victim now %q", got)
	}
	if _, err := os.Lstat(missing); err == nil {
		t.Errorf("a dangling link's target was created")
	}
}

// A hard link is the file it links to: refused. So are a FIFO (without
// hanging) and a directory.
func TestOpenFileRefusesWhatIsNotAPlainFile(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	if err := os.Link(victim, filepath.Join(dir, "history.jsonl")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	d := openDir(t, dir)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, name := range []string{"history.jsonl", "fifo", "sub"} {
			for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_APPEND | os.O_CREATE} {
				if f, err := d.OpenFile(name, flag, 0o644); err == nil {
					f.Close()
					t.Errorf("%s (flag %#x) was opened", name, flag)
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("opening a FIFO hung")
	}
	if got := readFile(t, victim); got != "precious\n" {
		t.Errorf("victim now %q", got)
	}
}

func TestSubdirRefusesSymlinkAndCreates(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	os.Symlink(outside, filepath.Join(dir, "logs"))
	d := openDir(t, dir)
	if _, err := d.EnsureSubdir("logs", 0o700); err == nil || !IsSymlinkRefused(err) {
		t.Errorf("Subdir through a link: %v", err)
	}
	sub, err := d.EnsureSubdir("new", 0o700)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f, err := sub.OpenFile("a.log", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(dir, "new", "a.log")); err != nil {
		t.Error(err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("something was created through the link: %v", entries)
	}
}

// RemoveAll takes a tree away, links included, and nothing they point to.
func TestRemoveAllDoesNotFollow(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(outside, "keep"), []byte("x"), 0o644)
	run := filepath.Join(dir, "20260101-000000.000")
	os.MkdirAll(filepath.Join(run, "deeper"), 0o755)
	os.WriteFile(filepath.Join(run, "a.log"), []byte("x"), 0o644)
	os.Symlink(outside, filepath.Join(run, "link"))
	os.Symlink(outside, filepath.Join(run, "deeper", "link"))
	os.Symlink(outside, filepath.Join(dir, "toplink"))
	d := openDir(t, dir)
	if err := d.RemoveAll("20260101-000000.000"); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveAll("toplink"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(run); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run directory still there: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "toplink")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Errorf("the link's target lost a file: %v", err)
	}
}

func TestCheckOwner(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	me := os.Geteuid()
	d := openDir(t, dir)
	if err := d.CheckOwner(me); err != nil {
		t.Errorf("own directory refused: %v", err)
	}
	if err := d.CheckOwner(0); err != nil {
		t.Errorf("root refused a directory: %v", err)
	}
	if me == 0 {
		// Owned by root: every user may use it (it cannot plant links there).
		if err := d.CheckOwner(nobody); err != nil {
			t.Errorf("root's directory refused for uid %d: %v", nobody, err)
		}
	}

	open := t.TempDir()
	os.Chmod(open, 0o777)
	var oe *OwnerError
	err := openDir(t, open).CheckOwner(me)
	if !errors.As(err, &oe) || !oe.WorldWritable || !strings.Contains(err.Error(), "chmod o-w "+open) {
		t.Errorf("world-writable directory: %v", err)
	}
}

func TestCheckOwnerRefusesAnotherUsersDirectory(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if err := os.Chown(dir, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	d := openDir(t, dir)
	var oe *OwnerError
	err := d.CheckOwner(nobody)
	if !errors.As(err, &oe) || oe.UID != 1234 || oe.Euid != nobody {
		t.Fatalf("uid %d with a directory of uid 1234: %v", nobody, err)
	}
	for _, want := range []string{dir, "uid 1234", "state_dir", "chown -R 65534 " + dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %s", want, err)
		}
	}
	if err := d.CheckOwner(0); err != nil {
		t.Errorf("root refused a user's directory: %v", err)
	}
}

// Run as root in a directory of another user, what is created — folders
// on the way, files, and a root-owned file an earlier run left — belongs
// to that user.
func TestRootGivesWhatItCreatesToTheOwner(t *testing.T) {
	needRoot(t)
	home := t.TempDir()
	os.Chmod(home, 0o755)
	if err := os.Chown(home, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(home, ".local", "state", "rebuild")
	d, err := OpenDirAll(state, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	old := filepath.Join(state, "history.jsonl")
	os.WriteFile(old, []byte("{}\n"), 0o644) // root's, as an old root run left it
	for _, name := range []string{"lock", "history.jsonl"} {
		f, err := d.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	logs, err := d.EnsureSubdir("logs", 0o700)
	if err != nil {
		t.Fatal(err)
	}
	logs.Close()
	for _, p := range []string{filepath.Join(home, ".local"), filepath.Join(home, ".local", "state"), state,
		filepath.Join(state, "lock"), old, filepath.Join(state, "logs")} {
		if u := owner(t, p); u != nobody {
			t.Errorf("%s belongs to uid %d, want %d", p, u, nobody)
		}
	}

	// A temporary file that replaces another takes that file's owner; a
	// new one the folder's.
	tmp, _ := os.CreateTemp(home, "tmp")
	defer os.Remove(tmp.Name())
	os.Chown(old, 4321, 4321)
	fi, _ := os.Lstat(old)
	if err := GiveLike(tmp, fi, home); err != nil {
		t.Fatal(err)
	}
	if u := owner(t, tmp.Name()); u != 4321 {
		t.Errorf("replacement belongs to %d, want 4321", u)
	}
	if err := GiveLike(tmp, nil, home); err != nil {
		t.Fatal(err)
	}
	if u := owner(t, tmp.Name()); u != nobody {
		t.Errorf("new file belongs to %d, want %d", u, nobody)
	}
	tmp.Close()

	if err := MkdirAll(filepath.Join(home, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if u := owner(t, filepath.Join(home, "a", "b")); u != nobody {
		t.Errorf("new folder belongs to %d", u)
	}
}

// A folder root owns keeps root as the owner of what is created in it.
func TestRootKeepsItsOwnFiles(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	d := openDir(t, dir)
	f, err := d.OpenFile("lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if u := owner(t, filepath.Join(dir, "lock")); u != 0 {
		t.Errorf("owner %d", u)
	}
}

// CreateNew makes a new file with its mode, and refuses anything already
// in its place — a file, a link to one, a dangling link — as existing,
// touching neither the file nor what a link points to. Run as root in
// another user's folder, the new file is that user's, as with OpenFile.
func TestCreateNew(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := d.CreateNew("new.log", os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("hello")
	f.Close()
	if st, err := os.Lstat(filepath.Join(dir, "new.log")); err != nil || st.Mode() != 0o600 {
		t.Errorf("new.log: %v, %v", st.Mode(), err)
	}
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Symlink(target, filepath.Join(dir, "link.log"))
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling.log"))
	for _, name := range []string{"new.log", "link.log", "dangling.log"} {
		if f, err := d.CreateNew(name, os.O_RDWR|os.O_TRUNC, 0o600); !errors.Is(err, os.ErrExist) {
			if f != nil {
				f.Close()
			}
			t.Errorf("CreateNew(%s) = %v, want an error saying it exists", name, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "new.log")); string(b) != "hello" {
		t.Errorf("new.log = %q after CreateNew refused it", b)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dangling link's target was made: %v", err)
	}
	if _, err := d.CreateNew("../escape.log", os.O_RDWR, 0o600); err == nil {
		t.Error("CreateNew took a name with a slash")
	}
}

func TestRootGivesWhatCreateNewMakesToTheOwner(t *testing.T) {
	needRoot(t)
	home := t.TempDir()
	if err := os.Chown(home, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(home)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := d.CreateNew("task.log", os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if u := owner(t, filepath.Join(home, "task.log")); u != nobody {
		t.Errorf("task.log belongs to uid %d, want %d", u, nobody)
	}
}
