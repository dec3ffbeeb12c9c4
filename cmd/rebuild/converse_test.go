package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/internal/demo"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks/nixos/nixtest"
)

// The conversation end to end: `rebuild demo --ask` in a real terminal
// with the build slowed down, answered key by key as a person would,
// looking at the screen as the terminal shows it. tmux is the terminal:
// it gives the program a pseudo-terminal of a chosen size and shows its
// screen as plain text (capture-pane), which a stream of escape codes
// does not.

// tmuxTerm is a program running in a tmux pane of its own server.
type tmuxTerm struct {
	t    *testing.T
	sock string
	exit string // the program's exit code is written here when it ends
}

// startTmux runs cmd (its Path, Args, Env and Dir) in a new tmux server
// with one pane of width × height; the pane stays after the program ends
// so its screen can be read.
func startTmux(t *testing.T, width, height int, cmd *exec.Cmd) *tmuxTerm {
	t.Helper()
	if !hasProgram("tmux") {
		t.Skip("tmux is not on PATH")
	}
	dir, err := os.MkdirTemp("", "tmux")
	if err != nil {
		t.Fatal(err)
	}
	tm := &tmuxTerm{t: t, sock: filepath.Join(dir, "s"), exit: filepath.Join(dir, "exit")}
	conf := filepath.Join(dir, "tmux.conf")
	writeFile(t, conf, "set -g history-limit 100000\nset -g status off\n")
	script := `cd "$1" && shift && env -i "$@"; echo $? > "$EXITFILE.tmp" && mv "$EXITFILE.tmp" "$EXITFILE"; exec sleep 3600`
	args := []string{"-S", tm.sock, "-f", conf, "new-session", "-d", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height),
		"-e", "EXITFILE=" + tm.exit, "sh", "-c", script, "sh", cmd.Dir}
	args = append(append(append(args, cmd.Env...), cmd.Path), cmd.Args[1:]...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-S", tm.sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	return tm
}

func (tm *tmuxTerm) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is what the pane shows now, trailing blank lines dropped.
func (tm *tmuxTerm) screen() string {
	return strings.TrimRight(tm.tmux("capture-pane", "-p"), "\n ")
}

// scrollback is everything the pane showed, the lines that scrolled off
// the top and the screen, wrapped lines joined.
func (tm *tmuxTerm) scrollback() string { return tm.tmux("capture-pane", "-p", "-J", "-S", "-") }

// keys types s, then Enter.
func (tm *tmuxTerm) keys(s string) {
	tm.t.Helper()
	if s != "" {
		tm.tmux("send-keys", "-l", s)
	}
	tm.tmux("send-keys", "Enter")
}

// exited returns the program's exit code once it has ended.
func (tm *tmuxTerm) exited() (int, bool) {
	b, err := os.ReadFile(tm.exit)
	if err != nil {
		return 0, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		tm.t.Fatalf("exit file: %q", b)
	}
	return code, true
}

// nextQuestion waits until a question is open on the screen (true, with
// the screen) or the program has exited (false).
func (tm *tmuxTerm) nextQuestion() (string, bool) {
	for {
		if _, done := tm.exited(); done {
			return "", false
		}
		s := tm.screen()
		if l, _ := openQuestion(s); l != "" {
			return s, true
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitScreen polls the screen until cond holds and returns it; the
// deadline only guards against a hang.
func (tm *tmuxTerm) waitScreen(what string, cond func(string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(hangAfter)
	for {
		s := tm.screen()
		if cond(s) {
			return s
		}
		if _, done := tm.exited(); done || time.Now().After(deadline) {
			tm.t.Fatalf("the screen never showed %s; it shows:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	overallLine = regexp.MustCompile(`^\d+/\d+ tasks · `)
	blockHeader = regexp.MustCompile(`^([a-z][a-z0-9-]*) ›$`)
	runningLine = regexp.MustCompile(`^\S ([a-z][a-z0-9-]*)\s+(\d+(?:\.\d)?s|\d+m\d\ds)\b(.*)$`)
)

// openQuestion is the question block at the bottom of a screen, under
// the live area's overall line: its task's label and its lines; "" when
// no question is open.
func openQuestion(s string) (label string, block []string) {
	ls := strings.Split(s, "\n")
	i := len(ls) - 1
	for i >= 0 && !overallLine.MatchString(ls[i]) {
		i--
	}
	if i < 0 || i+1 >= len(ls) {
		return "", nil
	}
	m := blockHeader.FindStringSubmatch(ls[i+1])
	if m == nil {
		return "", nil
	}
	return m[1], ls[i+1:]
}

// running is the elapsed time and the rest of task's line in the live
// area of a screen; ok is false when it is not running.
func running(s, task string) (elapsed, rest string, ok bool) {
	for _, l := range strings.Split(s, "\n") {
		if m := runningLine.FindStringSubmatch(l); m != nil && m[1] == task {
			return m[2], m[3], true
		}
	}
	return "", "", false
}

// TestConversationDemoInTerminal runs `rebuild demo --ask` with a build
// of several seconds in real terminals of 130×45 and 80×24 and answers
// as a person would:
//   - while the build runs, the learn review's question is on screen
//     under its label, and the build's line goes on updating above it
//     (the one cleanup plan waits for generations, so it comes after the
//     system's questions);
//   - the activation question is answered before any housekeeping
//     question;
//   - every question is one block under its task's label;
//   - each answer changes exactly what its question said: n to the
//     activation activates nothing, n to the cleanup plan deletes
//     nothing, s or n to the rest keeps what they would have changed.
//
// Run with -v to see the screens.
func TestConversationDemoInTerminal(t *testing.T) {
	if !nixtest.Available() {
		t.Skip("nix is not on PATH")
	}
	if !hasProgram("tmux") {
		t.Skip("tmux is not on PATH")
	}
	for _, size := range [][2]int{{130, 45}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) { conversationDemo(t, size[0], size[1]) })
	}
}

func conversationDemo(t *testing.T, width, height int) {
	dir := t.TempDir()
	tmp := sandboxTmp(t, dir)
	w := newWorld(t, dir)
	cmd := w.command("demo", "--ask", "--keep-sandbox")
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp, demo.BuildSecondsVar+"=15")
	tm := startTmux(t, width, height, cmd)
	defer func() {
		if t.Failed() {
			t.Logf("scrollback:\n%s", tm.scrollback())
		}
	}()

	// The cleanup plan is asked under the label of whichever cleanup task
	// submits last; it is one question, answered n.
	answers := map[string]string{"learn-review": "s", "caches": "n", "sessions": "n", "backups": "n", "cleanup": "n", "push": "n"}
	var answered []string
	answer := func(label string, block []string, key string) {
		t.Helper()
		answered = append(answered, label)
		tm.keys(key)
		// Wait until that block has left the screen (answered), so no key
		// is typed ahead of the next question.
		tm.waitScreen(label+"'s question to go", func(s string) bool {
			l, b := openQuestion(s)
			return l != label || !slices.Equal(b[:min(len(b), 3)], block[:min(len(block), 3)])
		})
	}

	// 1. While the build runs, the first question is on screen: the
	// review's or the one cleanup plan (worked out at the start), which
	// ever is asked first. The review is answered; the plan is left open.
	early := func(s string) bool { l, _ := openQuestion(s); return l == "learn-review" || l == cleanupLabel }
	s := tm.waitScreen("a question while the build runs", func(s string) bool {
		_, _, building := running(s, "build")
		return early(s) && building
	})
	if l, b := openQuestion(s); l == "learn-review" {
		answer(l, b, answers[l])
	}

	// 2. The cleanup plan is open with the build running, its line
	// changing, above it.
	first := tm.waitScreen("the cleanup plan under the running build", func(s string) bool {
		l, _ := openQuestion(s)
		_, _, building := running(s, "build")
		return l == cleanupLabel && building
	})
	time.Sleep(1500 * time.Millisecond)
	second := tm.screen()
	for i, s := range []string{first, second} {
		l, block := openQuestion(s)
		el, status, ok := running(s, "build")
		if l != cleanupLabel || !ok {
			t.Fatalf("screen %d: want the cleanup plan under the running build:\n%s", i+1, s)
		}
		if !strings.Contains(strings.Join(block, "\n"), "Apply the cleanup plan") {
			t.Errorf("the cleanup question has no plan:\n%s", s)
		}
		t.Logf("%dx%d, the cleanup plan open, the build at %s%s above it:\n%s", width, height, el, status, s)
	}
	e1, _, _ := running(first, "build")
	e2, _, _ := running(second, "build")
	if e1 == e2 {
		t.Errorf("the build's line did not change in 1.5 s (%s) while the plan was open", e1)
	}

	// 3. The activation question takes the screen as soon as it comes,
	// from the open cleanup plan: the system first.
	act := tm.waitScreen("the activation question", func(s string) bool { l, _ := openQuestion(s); return l == "activate" })
	_, block := openQuestion(act)
	text := strings.Join(block, "\n")
	if !strings.Contains(text, "Changes to the running system:") || !strings.Contains(text, "foo 1.1 → 1.2") ||
		!strings.Contains(text, "? Activate ") || strings.Contains(text, "Clean") {
		t.Errorf("the activation block is not the diff and its question alone:\n%s", act)
	}
	t.Logf("%dx%d, the activation question has taken the screen:\n%s", width, height, act)
	time.Sleep(600 * time.Millisecond) // keys typed as a question takes the screen are not taken
	answer("activate", block, "n")

	// 4. The rest, in the order they come.
	for {
		s, open := tm.nextQuestion()
		if !open {
			break
		}
		l, block := openQuestion(s)
		key, ok := answers[l]
		if !ok {
			t.Fatalf("an unexpected question from %s:\n%s", l, s)
		}
		if slices.Contains(answered, l) && l != "learn-review" && !isCleanup(l) {
			t.Fatalf("%s asks again:\n%s", l, s)
		}
		answer(l, block, key)
	}
	code, _ := tm.exited()
	if code != 0 {
		t.Fatalf("exit %d", code)
	}

	// The activation was answered before any housekeeping question.
	if i := slices.Index(answered, "activate"); i < 0 || slices.ContainsFunc(answered[:i], isCleanup) {
		t.Errorf("answered in the order %v: the activation is not first among the housekeeping", answered)
	}
	// No cleanup task asked on its own: the plan was the one question.
	if slices.ContainsFunc(answered, func(l string) bool {
		return l == "caches" || l == "sessions" || l == "backups" || l == "generations"
	}) {
		t.Errorf("answered %v: a cleanup task asked on its own", answered)
	}
	// Every question was one block under its task's label: above each
	// prompt, only its text, up to the label.
	all := tm.scrollback()
	lines := strings.Split(all, "\n")
	prompts := 0
	for i, l := range lines {
		if !strings.HasPrefix(l, "? ") {
			continue
		}
		prompts++
		j := i - 1
		for j >= 0 && !blockHeader.MatchString(lines[j]) {
			if overallLine.MatchString(lines[j]) || runningLine.MatchString(lines[j]) || strings.ContainsAny(lines[j][:min(len(lines[j]), 3)], "✔⚠✖↷") {
				t.Errorf("the question %q is not under its task's label:\n%s", l, strings.Join(lines[max(0, j-2):i+1], "\n"))
				break
			}
			j--
		}
	}
	if prompts < len(answered) {
		t.Errorf("%d questions answered, %d on screen", len(answered), prompts)
	}

	// Each answer did what its question said.
	sandboxes, _ := filepath.Glob(filepath.Join(tmp, "rebuild-demo-*"))
	if len(sandboxes) != 1 {
		t.Fatalf("sandboxes %v", sandboxes)
	}
	root := sandboxes[0]
	if b, err := os.ReadFile(filepath.Join(root, "switch.log")); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		t.Errorf("declined, yet switch-to-configuration ran: %q", b)
	}
	if l, err := os.Readlink(filepath.Join(root, "var", "profiles", "system")); err != nil || l != "system-4-link" {
		t.Errorf("declined, yet the profile is at %q (%v), want system-4-link", l, err)
	}
	for _, c := range []string{".cache/uv", ".cache/yarn", ".cache/chromium"} {
		if left, err := os.ReadDir(filepath.Join(root, "home", c)); err != nil || len(left) == 0 {
			t.Errorf("n to the cleanup plan, yet ~/%s holds nothing (%v)", c, err)
		}
	}
	runs, _, err := schedule.ReadHistory(filepath.Join(root, "state", "history.jsonl"))
	if err != nil || len(runs) == 0 {
		t.Fatalf("no run in the history: %v", err)
	}
	got := runs[len(runs)-1].Tasks
	if st := got["activate"].State; st != "declined" {
		t.Errorf("activate %s (%s), want declined", st, got["activate"].Reason)
	}
	for _, task := range []string{"generations", "caches", "sessions", "backups", "commit", "push"} {
		if st := string(got[task].State); st == "succeeded" || st == "failed" {
			t.Errorf("%s %s (%s): after n to the activation and to the cleanup plan it must not act", task, st, got[task].Reason)
		}
	}
	if r := got["activate"].Reason; r != "activation not confirmed" {
		t.Errorf("activate's reason %q", r)
	}
	t.Logf("%dx%d: answered %v", width, height, answered)
}

// cachesWorld is a world whose run asks one question: whether to clean a
// cache of 1 MiB. extra is added to its configuration.
func cachesWorld(t *testing.T, extra string) *world {
	t.Helper()
	w := newWorld(t, t.TempDir())
	w.cfg = filepath.Join(w.dir, "cfg.toml")
	writeFile(t, w.cfg, fmt.Sprintf("flake = %q\nprofile = %q\nelevate = \"none\"\n[task.caches]\npaths = [\"~/.cache/alpha\"]\n%s",
		filepath.Join(w.dir, "flake"), filepath.Join(w.dir, "no-profile"), extra))
	writeFile(t, filepath.Join(w.home, ".cache", "alpha", "a.bin"), strings.Repeat("x", 1<<20))
	if err := os.MkdirAll(filepath.Join(w.dir, "flake"), 0o755); err != nil {
		t.Fatal(err)
	}
	return w
}

// lineMode reports whether the terminal behind the master f reads lines
// with echo (its own mode), or keys without echo (a question is open).
func lineMode(t *testing.T, f *os.File) (canon, echo bool) {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var terr error
	rc.Control(func(fd uintptr) {
		var tio *unix.Termios
		if tio, terr = unix.IoctlGetTermios(int(fd), unix.TCGETS); terr == nil {
			canon, echo = tio.Lflag&unix.ICANON != 0, tio.Lflag&unix.ECHO != 0
		}
	})
	if terr != nil {
		t.Fatal(terr)
	}
	return canon, echo
}

// Ctrl-C at an open question interrupts the run as anywhere else (exit
// 130, nothing cleaned), and the terminal is left in its own mode, with
// the cursor shown.
func TestQuestionCtrlCRestoresTerminal(t *testing.T) {
	w := cachesWorld(t, "")
	tr := w.tty("--only=caches")
	tr.wait("Apply the cleanup plan: delete the 1 item marked goes (1.0 MiB)?")
	if canon, echo := lineMode(t, tr.f); canon || echo {
		t.Errorf("a question is open and the terminal reads lines (%v) or echoes (%v)", canon, echo)
	}
	if _, err := tr.f.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	if code := tr.exit(); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, tr.String())
	}
	if canon, echo := lineMode(t, tr.f); !canon || !echo {
		t.Errorf("after Ctrl-C the terminal is not back in line mode (%v) with echo (%v)", canon, echo)
	}
	raw := tr.raw()
	if strings.LastIndex(raw, "\x1b[?25h") < strings.LastIndex(raw, "\x1b[?25l") {
		t.Errorf("the cursor is left hidden")
	}
	if _, err := os.Stat(filepath.Join(w.home, ".cache", "alpha", "a.bin")); err != nil {
		t.Errorf("interrupted, yet the cache was cleaned: %v", err)
	}
}

// An interactive user task's command gets the terminal while a question
// is open: the question leaves the screen, what is typed goes to the
// command, and the question comes back after it, for its own answer.
func TestQuestionWaitsForCommandOnTerminal(t *testing.T) {
	answer := filepath.Join(t.TempDir(), "answer")
	w := cachesWorld(t, fmt.Sprintf(`[task.slow]
run = "sleep 1"
[task.ask]
run = "printf 'your name? '; read n; echo \"hello $n\" > %s"
interactive = true
needs = ["slow"]
`, answer))
	tr := w.tty("--only=caches,slow,ask")
	tr.wait("Apply the cleanup plan: delete the 1 item marked goes (1.0 MiB)?")
	tr.wait("your name? ")
	tr.answer("world")
	tr.wait("✔ ask")
	tr.wait("Apply the cleanup plan: delete the 1 item marked goes (1.0 MiB)?")
	tr.answer("y")
	if code := tr.exit(); code != 0 {
		t.Fatalf("exit %d\n%s", code, tr.String())
	}
	if b, err := os.ReadFile(answer); err != nil || string(b) != "hello world\n" {
		t.Errorf("the command read %q (%v), want hello world", b, err)
	}
	if left, _ := os.ReadDir(filepath.Join(w.home, ".cache", "alpha")); len(left) != 0 {
		t.Errorf("y to the caches, yet %d entries are left", len(left))
	}
}

// isCleanup reports whether label is one under which the one cleanup plan
// may be asked.
func isCleanup(label string) bool {
	return slices.Contains([]string{"cleanup", "caches", "sessions", "backups", "generations"}, label)
}
