package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/rebuild-nixos/rebuild/internal/ansi"
	"github.com/rebuild-nixos/rebuild/render"
)

// The end-to-end harness, one for every test that runs the rebuild binary
// (the test binary, installed on PATH by testscript.Main): the engine's
// (e2e_test.go, tty_test.go) and the families' (nixos_test.go,
// housekeeping_test.go, claude_test.go). A world is a directory with a
// private HOME and state; its runs are read as render's json schema, or
// watched in a real pseudo-terminal. The families build their fixtures on
// it (a Nix sandbox, a planted tree, a Claude home); the running, waiting
// and reading are here.

// hangAfter is how long a run may take before the test calls it hung. It
// only guards against a hang: no test waits for it.
const hangAfter = 3 * time.Minute

// world is where a test's runs happen: rebuild runs in dir with env, and
// with --config cfg when cfg is set.
type world struct {
	t    *testing.T
	dir  string   // the runs' working directory; the fixture lives below
	home string   // HOME
	cfg  string   // --config of every run; "" for none
	env  []string // the environment of every run
	// bin, when set, is the binary run instead of PATH's, as user uid
	// (housekeeping runs as nobody when the test is root).
	bin string
	uid int
}

// newWorld is a world in dir with HOME dir/home and the XDG directories
// under it, but the state (lock, history, logs) in dir/state, outside the
// home, so a listing of the home sees only what the tasks did.
func newWorld(t *testing.T, dir string) *world {
	t.Helper()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, dir: dir, home: home}
	w.env = append(cleanEnv(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	return w
}

// cleanEnv is the test's environment without REBUILD_* and NO_COLOR.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "REBUILD_") || strings.HasPrefix(kv, "NO_COLOR=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// rebuildCmd returns a command running rebuild with args in a world in
// dir (a test that needs no more of the harness).
func rebuildCmd(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	return newWorld(t, dir).command(args...)
}

// command returns the command running rebuild with args (after --config
// when the world has one), and env after the world's.
func (w *world) command(args ...string) *exec.Cmd {
	w.t.Helper()
	bin := w.bin
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("rebuild"); err != nil {
			w.t.Fatal(err)
		}
	}
	if w.cfg != "" {
		args = append([]string{"--config", w.cfg}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = w.dir
	// A -race binary sleeps a second before it exits, to let reports
	// come in; these runs end their goroutines before exiting.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(append([]string(nil), w.env...), "TERM=xterm", "GORACE="+gorace)
	if w.bin != "" {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(w.uid), Gid: uint32(w.uid)}}
	}
	return cmd
}

// start starts cmd; a world that may not change its user skips the test.
func (w *world) start(cmd *exec.Cmd) {
	w.t.Helper()
	if err := cmd.Start(); err != nil {
		if w.bin != "" && errors.Is(err, syscall.EPERM) {
			w.t.Skipf("cannot start rebuild as user %d (%v): this process may not change its user", w.uid, err)
		}
		w.t.Fatal(err)
	}
}

// result is how a run ended.
type result struct {
	stdout, stderr string
	code           int
}

// run runs rebuild with args and env added, stdin from in (/dev/null when
// nil), and returns its output and exit code.
func (w *world) run(in *os.File, env []string, args ...string) result {
	w.t.Helper()
	cmd := w.command(args...)
	cmd.Env = append(cmd.Env, env...)
	var o, e bytes.Buffer
	if in != nil {
		cmd.Stdin = in
	}
	cmd.Stdout, cmd.Stderr = &o, &e
	w.start(cmd)
	code := waitExit(w.t, cmd, func() string { return o.String() + e.String() })
	return result{o.String(), e.String(), code}
}

// runJSON runs with --output json and reads the events; the test fails
// when the run wrote no summary.
func (w *world) runJSON(in *os.File, env []string, args ...string) jsonRun {
	w.t.Helper()
	r := w.run(in, env, append(args, "--output", "json")...)
	j := parseJSON(w.t, r.stdout)
	j.stderr, j.code = r.stderr, r.code
	if len(j.events) == 0 || j.events[len(j.events)-1].Event != "summary" {
		w.t.Fatalf("exit %d and no summary event:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	return j
}

// waitExit waits for cmd to end and returns its exit code; after hangAfter
// it kills it and fails the test with output().
func waitExit(t *testing.T, cmd *exec.Cmd, output func() string) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitOf(err)
	case <-time.After(hangAfter):
		cmd.Process.Kill()
		<-done
		t.Fatalf("rebuild hung; its output:\n%s", output())
	}
	return 0
}

func exitOf(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// ---------------------------------------------------------------- json

// jsonRun is a run's --output json: its events in order (the summary line
// last, as an Event too) and the summary.
type jsonRun struct {
	events  []render.Event
	summary render.SummaryEvent
	stderr  string
	code    int
}

// parseJSON reads json mode's lines with render's schema.
func parseJSON(t *testing.T, out string) jsonRun {
	t.Helper()
	var r jsonRun
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		e := parseEvent(t, sc.Bytes())
		if e.Event == "summary" {
			if err := json.Unmarshal(sc.Bytes(), &r.summary); err != nil {
				t.Fatalf("summary: %v: %s", err, sc.Text())
			}
		}
		r.events = append(r.events, e)
	}
	return r
}

func parseEvent(t *testing.T, line []byte) render.Event {
	t.Helper()
	var e render.Event
	if err := json.Unmarshal(line, &e); err != nil {
		t.Fatalf("not JSON: %q: %v", line, err)
	}
	return e
}

// index is the position of task's event of kind, -1 when there is none.
func (r jsonRun) index(task, kind string) int {
	for i, e := range r.events {
		if e.Task == task && e.Event == kind {
			return i
		}
	}
	return -1
}

// finish is task's finish event (zero when it has none).
func (r jsonRun) finish(task string) render.Event {
	if i := r.index(task, "finish"); i >= 0 {
		return r.events[i]
	}
	return render.Event{}
}

// mustFinish is task's finish event; the test fails when there is none.
func (r jsonRun) mustFinish(t *testing.T, task string) render.Event {
	t.Helper()
	if i := r.index(task, "finish"); i >= 0 {
		return r.events[i]
	}
	t.Fatalf("%s never finished:\n%s", task, r)
	return render.Event{}
}

func (r jsonRun) started(task string) bool { return r.index(task, "start") >= 0 }

// states is the summary's final state per task.
func (r jsonRun) states() map[string]string { return r.summary.Tasks }

// taskLog is what task wrote to its log in this run.
func (r jsonRun) taskLog(t *testing.T, task string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.summary.LogDir, task+".log"))
	if err != nil {
		t.Fatalf("%s's log: %v", task, err)
	}
	return string(b)
}

func (r jsonRun) String() string {
	var b strings.Builder
	for _, e := range r.events {
		j, _ := json.Marshal(e)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String() + r.stderr
}

// ---------------------------------------------------------------- terminal

// screen collects what a program writes to its pseudo-terminal.
type screen struct{ out lockedBuf }

func (s *screen) Write(p []byte) (int, error) { return s.out.Write(p) }

// String is the screen's text without escape sequences.
func (s *screen) String() string { return ansi.Strip(s.out.String()) }

// raw is everything written to the screen, escape sequences and all.
func (s *screen) raw() string { return s.out.String() }

// waitText waits until the screen shows text after offset from; it
// returns the offset just past it. The deadline only guards against a hang.
func (s *screen) waitText(t *testing.T, from int, text string) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out := s.String()
		if from <= len(out) {
			if i := strings.Index(out[from:], text); i >= 0 {
				return from + i + len(text)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("screen never showed %q; it shows:\n%s", text, s.String())
	return 0
}

// ttyRun is a rebuild run in a real pseudo-terminal.
type ttyRun struct {
	*screen
	t   *testing.T
	f   *os.File // the terminal's master side: what is typed goes here
	cmd *exec.Cmd
	at  int // the screen offset past the last text waited for
}

// tty starts rebuild with args in a new pseudo-terminal, 50 rows of 200
// columns. A test that ends early leaves no rebuild waiting for input.
func (w *world) tty(args ...string) *ttyRun {
	w.t.Helper()
	return startTTY(w.t, w.command(args...))
}

// startTTY starts cmd in a new pseudo-terminal.
func startTTY(t *testing.T, cmd *exec.Cmd) *ttyRun {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	tr := &ttyRun{screen: &screen{}, t: t, f: f, cmd: cmd}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		f.Close()
	})
	go io.Copy(tr.screen, f)
	return tr
}

// wait waits for text past what was waited for before and returns the
// screen from there to the end of text.
func (tr *ttyRun) wait(text string) string {
	tr.t.Helper()
	from := tr.at
	tr.at = tr.waitText(tr.t, from, text)
	return tr.String()[from:tr.at]
}

// answer types line and Enter.
func (tr *ttyRun) answer(line string) {
	tr.t.Helper()
	if _, err := tr.f.Write([]byte(line + "\r")); err != nil {
		tr.t.Fatal(err)
	}
}

// exit waits for rebuild to end and returns its exit code.
func (tr *ttyRun) exit() int {
	tr.t.Helper()
	return waitExit(tr.t, tr.cmd, tr.String)
}

// ---------------------------------------------------------------- files and processes

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func waitFor(t *testing.T, path string) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// sandboxTmp makes dir/tmp, the TMPDIR a demo run keeps its sandbox in,
// and makes it removable at the end: the kept sandbox's store (or the one
// a failed run left) is read-only.
func sandboxTmp(t *testing.T, dir string) string {
	t.Helper()
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(tmp, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return tmp
}
