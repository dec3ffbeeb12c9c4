package proc

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func needSetsid(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
}

// state is a process's state letter from /proc (R, S, Z, …); "" when
// there is no such process.
func state(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+3 > len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// running reports whether pid is a process that is not a zombie.
func running(pid int) bool { s := state(pid); return s != "" && s != "Z" }

func readPid(t *testing.T, path string) int {
	t.Helper()
	for i := 0; i < 500; i++ {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

// escape is a shell command that starts sleep 1000 in a session of its
// own and writes its pid to pidFile once it runs.
func escape(pidFile string) string {
	return "setsid sh -c 'echo $$ > " + pidFile + ".tmp; mv " + pidFile + ".tmp " + pidFile + "; exec sleep 1000' & " +
		"while [ ! -s " + pidFile + " ]; do sleep 0.01; done"
}

// procStat reads a process's parent and state letter from /proc.
func procStat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	return parseStat(b)
}

// zombieChildren lists this process's children that are zombies.
func zombieChildren() []int {
	entries, _ := os.ReadDir("/proc")
	var z []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, st, ok := procStat(pid); ok && ppid == os.Getpid() && st == 'Z' {
			z = append(z, pid)
		}
	}
	return z
}

func killLater(t *testing.T, pid *int) {
	t.Cleanup(func() {
		if *pid > 0 && running(*pid) {
			syscall.Kill(*pid, syscall.SIGKILL)
		}
	})
}

// A process that left the command's group and session (setsid) is gone
// once Run returns: when the command exits, and when it is canceled (as a
// timeout does).
func TestRunKillsWhatLeftTheGroup(t *testing.T) {
	needSetsid(t)
	for _, how := range []string{"exits", "times out"} {
		t.Run(how, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			var pid int
			killLater(t, &pid)
			script := escape(pidFile) + "; echo started"
			ctx := context.Background()
			if how == "times out" {
				script += "; sleep 1000"
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Second)
				defer cancel()
			}
			r := &Runner{Grace: 200 * time.Millisecond}
			err := r.Run(ctx, Cmd{Args: []string{"sh", "-c", script}, Log: &syncBuf{}})
			if (how == "exits") != (err == nil) {
				t.Errorf("Run: %v", err)
			}
			pid = readPid(t, pidFile)
			for i := 0; i < 100 && running(pid); i++ {
				time.Sleep(10 * time.Millisecond) // SIGKILL lands asynchronously
			}
			if running(pid) {
				t.Errorf("setsid sleep (pid %d) survived its command", pid)
			}
		})
	}
}

// Another command's processes, and processes that never had the token,
// are left alone.
func TestRunKillsOnlyItsOwn(t *testing.T) {
	needSetsid(t)
	dir := t.TempDir()
	other := exec.Command("sleep", "1000")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()

	pidFile := filepath.Join(dir, "pid")
	var pid int
	killLater(t, &pid)
	r := &Runner{Grace: 200 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, Cmd{Args: []string{"sh", "-c", escape(pidFile) + "; sleep 1000"}, Log: &syncBuf{}})
	}()
	pid = readPid(t, pidFile)
	// A second command ends meanwhile: the first one's escaped sleep is
	// not its to kill.
	if err := r.Run(context.Background(), Cmd{Args: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	if !running(pid) {
		t.Errorf("a command's process was killed when another command ended")
	}
	cancel()
	<-done
	if !running(other.Process.Pid) {
		t.Errorf("a process that was never a command's was killed")
	}
}

// As a subreaper, the process reaps what it killed: no zombie is left.
func TestRunReapsWhatItKillsAsSubreaper(t *testing.T) {
	needSetsid(t)
	if err := BecomeSubreaper(); err != nil {
		t.Skipf("not a subreaper: %v", err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	var pid int
	killLater(t, &pid)
	r := &Runner{Grace: 200 * time.Millisecond, Subreaper: true}
	if err := r.Run(context.Background(), Cmd{Args: []string{"sh", "-c", escape(pidFile)}}); err != nil {
		t.Fatal(err)
	}
	pid = readPid(t, pidFile)
	if s := state(pid); s != "" {
		t.Errorf("pid %d is still there, state %q", pid, s)
	}
	// setsid forked: its own process, an orphan that exited by itself,
	// is not left a zombie either.
	if z := zombieChildren(); len(z) > 0 {
		t.Errorf("zombie children left: %v", z)
	}
}

// When the process running the commands is killed with SIGKILL, a command
// gets SIGTERM (PR_SET_PDEATHSIG) — unless it needs root: activation must
// finish whatever happens to rebuild.
func TestCommandsLearnThatRebuildDied(t *testing.T) {
	for _, root := range []bool{false, true} {
		name := "user command"
		if root {
			name = "root command"
		}
		t.Run(name, func(t *testing.T) {
			helper := exec.Command(os.Args[0], "-test.run=^TestHelperRunsSleep$")
			helper.Env = append(os.Environ(), "PROC_TEST_HELPER=1", "PROC_TEST_ROOT="+strconv.FormatBool(root))
			out, err := helper.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := helper.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				helper.Process.Kill()
				helper.Wait()
				t.Fatalf("helper: %v", err)
			}
			pid, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "child "))
			killLater(t, &pid)
			helper.Process.Signal(syscall.SIGKILL)
			helper.Wait()
			gone := false
			for i := 0; i < 300 && !gone; i++ {
				gone = !running(pid)
				time.Sleep(10 * time.Millisecond)
			}
			if gone == root {
				t.Errorf("pid %d gone: %v", pid, gone)
			}
		})
	}
}

// TestHelperRunsSleep is the process TestCommandsLearnThatRebuildDied
// kills: it runs `sleep` through a Runner and prints its pid.
func TestHelperRunsSleep(t *testing.T) {
	if os.Getenv("PROC_TEST_HELPER") != "1" {
		t.Skip("run by TestCommandsLearnThatRebuildDied")
	}
	r := &Runner{}
	started := make(chan struct{})
	go func() {
		// The status line is the command's first output: its own pid.
		r.Run(context.Background(), Cmd{Args: []string{"sh", "-c", "echo $$; exec sleep 1000"},
			Root: os.Getenv("PROC_TEST_ROOT") == "true", Log: &syncBuf{},
			Status: func(line string) {
				select {
				case <-started:
				default:
					os.Stdout.WriteString("child " + line + "\n")
					close(started)
				}
			}})
	}()
	<-started
	time.Sleep(time.Hour)
}
