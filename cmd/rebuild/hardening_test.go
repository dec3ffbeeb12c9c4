package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hardRun runs cmd with stdin from /dev/null and returns its output and
// exit code.
func hardRun(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		if cmd.SysProcAttr != nil && cmd.SysProcAttr.Credential != nil {
			t.Skipf("cannot start rebuild as another user: %v", err)
		}
		t.Fatal(err)
	}
	code := waitExit(t, cmd, out.String)
	return out.String(), code
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// A root run with a state directory another user owns (sudo -E, a shared
// state_dir): a lock or a history planted as a link to a file elsewhere
// leaves that file as it was.
func TestRootNeverWritesThroughPlantedStateLinks(t *testing.T) {
	needRoot(t)
	s := newHK(t, "[task.hello]\ngroups = [\"mine\"]\nrun = \"echo hello\"\n")
	state := filepath.Join(s.dir, "state", "rebuild")
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	writeFile(t, victim, "precious\n")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(state, "lock")); err != nil {
		t.Fatal(err)
	}
	if err := filepath.WalkDir(filepath.Join(s.dir, "state"), func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, hkNobody, hkNobody)
	}); err != nil {
		t.Fatal(err)
	}

	out, code := hardRun(t, s.w.command("--only=mine", "--output", "plain"))
	if code == 0 || !strings.Contains(out, filepath.Join(state, "lock")) || !strings.Contains(out, "symbolic link") {
		t.Errorf("lock as a link: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the lock's target was written: %q", b)
	}

	os.Remove(filepath.Join(state, "lock"))
	os.Remove(filepath.Join(state, "history.jsonl"))
	if err := os.Symlink(victim, filepath.Join(state, "history.jsonl")); err != nil {
		t.Fatal(err)
	}
	out, code = hardRun(t, s.w.command("--only=mine", "--output", "plain"))
	if code != 0 || !strings.Contains(out, "recording history") || !strings.Contains(out, "symbolic link") {
		t.Errorf("history as a link: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the history's target was written: %q", b)
	}
}

// After a root run with a user's state directory, what it created there
// — folders, lock, history, logs — is the user's, and the user's next
// run works (it failed with "permission denied" on the lock).
func TestRootRunLeavesTheStateToItsUser(t *testing.T) {
	needRoot(t)
	s := newHK(t, "[task.hello]\ngroups = [\"mine\"]\nrun = \"echo hello\"\n")
	s.asNobody()
	// Root reads only a configuration in root's hands (another user's
	// would be theirs to run commands as root with): the same settings,
	// in a folder of root's. The state stays the user's.
	rootCfg := filepath.Join(t.TempDir(), "cfg.toml")
	b, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, rootCfg, string(b))
	asUser, userCfg := s.w.bin, s.w.cfg
	s.w.bin, s.w.cfg = "", rootCfg // the first run as root
	out, code := hardRun(t, s.w.command("--only=mine", "--output", "plain"))
	if code != 0 {
		t.Fatalf("root run: exit %d\n%s", code, out)
	}
	var rootOwned []string
	filepath.WalkDir(filepath.Join(s.dir, "state"), func(p string, _ fs.DirEntry, err error) error {
		if err == nil && ownerUID(p) != hkNobody {
			rootOwned = append(rootOwned, p)
		}
		return nil
	})
	if len(rootOwned) > 0 {
		t.Errorf("left to root:\n%s", strings.Join(rootOwned, "\n"))
	}
	s.w.bin, s.w.cfg = asUser, userCfg
	out, code = hardRun(t, s.w.command("--only=mine", "--output", "plain"))
	if code != 0 {
		t.Errorf("the user's run after root's: exit %d\n%s", code, out)
	}
}

func ownerUID(p string) int {
	fi, err := os.Lstat(p)
	if err != nil {
		return -1
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// A state directory that belongs to someone else, or that everyone may
// write in, is refused before anything is written: exit 2, and the
// message says how to fix it.
func TestForeignStateDirectoryRefused(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name string
		uid  int
		mode os.FileMode
		want string
	}{
		{"another user's", 1234, 0o777, "sudo chown -R 65534 "},
		{"everyone's", hkNobody, 0o777, "chmod o-w "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newHK(t, "[task.hello]\ngroups = [\"mine\"]\nrun = \"echo hello\"\n")
			state := filepath.Join(s.dir, "state", "rebuild")
			if err := os.MkdirAll(state, 0o755); err != nil {
				t.Fatal(err)
			}
			s.asNobody()
			os.Chown(state, tc.uid, tc.uid)
			os.Chmod(state, tc.mode)
			out, code := hardRun(t, s.w.command("--only=mine", "--output", "plain"))
			if code != 2 || !strings.Contains(out, "state directory "+state) || !strings.Contains(out, tc.want+state) {
				t.Errorf("exit %d, want 2 and a message naming %s and %q:\n%s", code, state, tc.want, out)
			}
			if entries, _ := os.ReadDir(state); len(entries) != 0 {
				t.Errorf("written into the refused directory: %v", entries)
			}
		})
	}
}

// What a task starts in a session of its own (setsid) is gone once the
// task is over — when it ends, and when its timeout stops it — not left
// running after the run.
func TestTaskLeavesNoEscapedProcess(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	dir := t.TempDir()
	escape := func(name string) string {
		p := filepath.Join(dir, name+".pid")
		return fmt.Sprintf(`setsid sh -c 'echo $$ > %[1]s.tmp; mv %[1]s.tmp %[1]s; exec sleep 1000' & while [ ! -s %[1]s ]; do sleep 0.01; done`, p)
	}
	writeFile(t, filepath.Join(dir, "cfg.toml"), `
flake = "`+dir+`"
[task.ends]
groups = ["mine"]
run = "`+strings.ReplaceAll(escape("ends"), `"`, `\"`)+`"
[task.times-out]
groups = ["mine"]
run = "`+strings.ReplaceAll(escape("times-out"), `"`, `\"`)+`; sleep 1000"
timeout = "2s"
`)
	var pids []int
	t.Cleanup(func() {
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	cmd := rebuildCmd(t, dir, "--config", "cfg.toml", "--only=mine", "--output", "plain")
	out, code := hardRun(t, cmd)
	if code != 0 || !strings.Contains(out, "failed times-out") {
		t.Errorf("exit %d\n%s", code, out)
	}
	for _, name := range []string{"ends", "times-out"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".pid"))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		pids = append(pids, pid)
		for i := 0; i < 100 && processAlive(pid); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if processAlive(pid) {
			t.Errorf("%s: its setsid sleep (pid %d) outlived the run", name, pid)
		}
	}
}

// A history line over 16 MB no longer makes `rebuild history` fail, and
// the runs after it are shown.
func TestHistoryCommandSkipsAnOverlongLine(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state", "rebuild") // rebuildCmd's XDG_STATE_HOME is dir/state
	rec := func(id string) string {
		return `{"run_id":"` + id + `","start":"2026-01-02T03:04:05Z","wall_ms":1000,"exit_code":0,"tasks":{"build":{"state":"succeeded","start":"2026-01-02T03:04:05Z","duration_ms":1000}}}`
	}
	writeFile(t, filepath.Join(state, "history.jsonl"),
		rec("20260102-030405.000")+"\n"+`{"run_id":"huge","tasks":{},"values":{"x":"`+strings.Repeat("y", 17<<20)+`"}}`+"\n"+rec("20260103-030405.000")+"\n")
	out, err := rebuildCmd(t, dir, "history").CombinedOutput()
	if err != nil {
		t.Fatalf("rebuild history: %v\n%.2000s", err, out)
	}
	for _, want := range []string{"20260102-030405.000", "20260103-030405.000", "1 unreadable or over-long line"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A task printing far past log_max: its log keeps the head and the tail
// and says what was cut, run.log stays small, and the summary warns.
func TestTaskLogCappedAtLogMax(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cfg.toml"), `
log_max = "1MiB"
[task.loud]
groups = ["mine"]
run = "echo first line; yes 'a line of output that goes on and on' | head -c 50000000; echo; echo last line"
`)
	cmd := rebuildCmd(t, dir, "--config", "cfg.toml", "--only=mine", "--output", "plain")
	out, code := hardRun(t, cmd)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "state", "rebuild", "logs", "*", "loud.log"))
	if len(logs) != 1 {
		t.Fatalf("logs: %v", logs)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if len(log) > 1<<20+300 || !strings.Contains(log, "first line") || !strings.HasSuffix(log, "last line\n") ||
		!strings.Contains(log, "of output cut here") {
		t.Errorf("loud.log: %d bytes, head %q, tail %q", len(log), log[:min(len(log), 200)], log[max(0, len(log)-200):])
	}
	run, _ := os.Stat(filepath.Join(filepath.Dir(logs[0]), "run.log"))
	if run == nil || run.Size() > 3<<20 {
		t.Errorf("run.log: %v", run)
	}
	if !strings.Contains(out, "log cut: it printed 47.7 MiB") {
		t.Errorf("the summary does not warn of the cut:\n%s", out)
	}
}
