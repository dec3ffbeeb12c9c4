package proc

import (
	"context"
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
	"golang.org/x/sys/unix"
)

// A grandchild that left the command's process group (setsid, a daemon)
// keeps a copy of the output pipe; the group kill cannot reach it. Run
// must still return once the command is done, not wait for its EOF.
func TestRunReturnsWhenEscapedGrandchildHoldsPipe(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	for _, cancelIt := range []bool{false, true} {
		name := "exits"
		if cancelIt {
			name = "canceled"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &Runner{Grace: 200 * time.Millisecond}
			script := "setsid sh -c 'echo $$ > " + pidFile + "; exec sleep 30' & " +
				"while [ ! -s " + pidFile + " ]; do sleep 0.01; done; echo ready"
			if cancelIt {
				script += "; sleep 30"
			}
			log := &syncBuf{}
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx, Cmd{Args: []string{"sh", "-c", script}, Log: log}) }()
			if cancelIt {
				for i := 0; i < 500 && !strings.Contains(log.String(), "ready"); i++ {
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
			}
			select {
			case err := <-done:
				if cancelIt != (err != nil) {
					t.Errorf("err = %v", err)
				}
				if !strings.Contains(log.String(), "ready") {
					t.Errorf("output lost: %q", log.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return: it waits for EOF from a process it does not own")
			}
			if b, err := os.ReadFile(pidFile); err == nil {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				_ = syscall.Kill(pid, syscall.SIGKILL)
				_ = os.Remove(pidFile)
			}
		})
	}
}

// An interactive command killed on cancel (it ignored SIGTERM) cannot
// restore the terminal it changed: Run puts the terminal's mode back.
func TestRunTerminalCancelRestoresTerminalMode(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skip("no pty:", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	go func() { _, _ = io.Copy(io.Discard, ptmx) }()
	echo := func() bool {
		var on bool
		rc, _ := tty.SyscallConn()
		_ = rc.Control(func(fd uintptr) {
			tio, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
			on = err == nil && tio.Lflag&unix.ECHO != 0
		})
		return on
	}
	if !echo() {
		t.Fatal("a new pty should echo")
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{Grace: 100 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, Cmd{Args: []string{"sh", "-c", "stty -echo; trap '' TERM; sleep 30"},
			Terminal: &Terminal{In: tty, Out: tty, Err: tty}})
	}()
	for i := 0; i < 500 && echo(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if echo() {
		t.Fatal("the command never turned echo off")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !echo() {
		t.Error("the terminal was left without echo")
	}
}
