package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRunLogsBothStreamsAndStatus(t *testing.T) {
	var log syncBuf
	var status []string
	r := &Runner{}
	err := r.Run(context.Background(), Cmd{
		Args:   []string{"sh", "-c", "echo one; echo two >&2; printf '\\033[1mthree\\033[0m\\n'; echo"},
		Log:    &log,
		Status: func(s string) { status = append(status, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"$ sh -c", "one\n", "two\n"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log %q lacks %q", log.String(), want)
		}
	}
	if got := status[len(status)-1]; got != "three" {
		t.Errorf("last status = %q, want three (ANSI stripped, blank line ignored)", got)
	}
}

func TestRunSeparateStdout(t *testing.T) {
	var log, out syncBuf
	err := (&Runner{}).Run(context.Background(), Cmd{
		Args: []string{"sh", "-c", `echo '{"a":1}'; echo progress >&2`},
		Log:  &log, Stdout: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "{\"a\":1}\n" {
		t.Errorf("stdout = %q", out.String())
	}
	if strings.Contains(log.String(), "\n{\"a\":1}\n") || !strings.Contains(log.String(), "progress") {
		t.Errorf("log = %q", log.String())
	}
}

func TestRunErrorCarriesCommandAndTail(t *testing.T) {
	r := &Runner{TailLines: 3}
	err := r.Run(context.Background(), Cmd{Args: []string{"sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; exit 7"}})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if e.Code != 7 || strings.Join(e.Tail, ",") != "line3,line4,line5" {
		t.Errorf("code %d tail %v", e.Code, e.Tail)
	}
	msg := err.Error()
	if !strings.Contains(msg, "sh -c 'for i in") || !strings.Contains(msg, "exit status 7") || !strings.Contains(msg, "line5") {
		t.Errorf("message %q", msg)
	}
}

func TestRunMissingProgram(t *testing.T) {
	err := (&Runner{}).Run(context.Background(), Cmd{Args: []string{"/nonexistent/prog", "x"}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/prog x") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunKilledBySignal(t *testing.T) {
	err := (&Runner{}).Run(context.Background(), Cmd{Args: []string{"sh", "-c", "kill -KILL $$"}})
	var e *Error
	if !errors.As(err, &e) || e.Signal != "SIGKILL" {
		t.Fatalf("err = %#v", err)
	}
}

// A canceled command's whole process group goes: the child that ignores
// SIGTERM is killed after the grace period, and so is its grandchild.
func TestRunCancelKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{Grace: 200 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, Cmd{Args: []string{"sh", "-c",
			"trap '' TERM; sleep 300 & echo $! > " + pidFile + "; wait"}})
	}()
	var grandchild int
	for i := 0; i < 500 && grandchild == 0; i++ {
		b, _ := os.ReadFile(pidFile)
		grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(10 * time.Millisecond)
	}
	if grandchild == 0 {
		t.Fatal("child never started")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	// SIGKILL is delivered asynchronously: the pipes close before the
	// process is a zombie. Give the kernel a moment.
	for i := 0; i < 200 && alive(grandchild); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(grandchild) {
		t.Errorf("grandchild %d still running", grandchild)
	}
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// A child writing far more than a pipe holds, with nobody reading its
// output but us, must finish: drains never stop.
func TestRunLargeOutputDoesNotBlock(t *testing.T) {
	var n countWriter
	err := (&Runner{}).Run(context.Background(), Cmd{
		Args: []string{"sh", "-c", "head -c 20000000 /dev/zero; head -c 3000000 /dev/zero >&2"},
		Log:  &n,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n.n < 23000000 {
		t.Errorf("logged %d bytes", n.n)
	}
}

type countWriter struct {
	mu sync.Mutex
	n  int
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n += len(p)
	c.mu.Unlock()
	return len(p), nil
}

func TestRunElevationPrefix(t *testing.T) {
	var log syncBuf
	r := &Runner{Elevate: []string{"env", "ELEVATED=1"}}
	if err := r.Run(context.Background(), Cmd{Args: []string{"sh", "-c", "echo $ELEVATED"}, Root: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "\n1\n") {
		t.Errorf("log = %q", log.String())
	}
}

// A bare program name is found on the PATH the command runs with.
func TestRunLooksUpProgramOnItsOwnPath(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "only-here")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho found me\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var log syncBuf
	r := &Runner{Environ: []string{"PATH=" + dir + ":/usr/bin:/bin"}}
	if err := r.Run(context.Background(), Cmd{Args: []string{"only-here"}, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "found me") {
		t.Errorf("log %q", log.String())
	}
}

// cmdLineLog records what came through WriteCommandLine apart from Write.
type cmdLineLog struct {
	syncBuf
	lines syncBuf
}

func (l *cmdLineLog) WriteCommandLine(p []byte) (int, error) { return l.lines.Write(p) }

// A log that takes command lines apart (render's task log, which makes no
// file for them alone) gets the "$ …" line that way, and the output
// through Write; a plain writer gets both through Write.
func TestRunHandsTheCommandLineApart(t *testing.T) {
	var log cmdLineLog
	r := &Runner{}
	if err := r.Run(context.Background(), Cmd{Args: []string{"sh", "-c", "echo out"}, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if got := log.lines.String(); got != "$ sh -c 'echo out'\n" {
		t.Errorf("command lines = %q", got)
	}
	if got := log.String(); got != "out\n" {
		t.Errorf("output = %q", got)
	}
	var plain syncBuf
	if err := r.Run(context.Background(), Cmd{Args: []string{"true"}, Log: &plain}); err != nil {
		t.Fatal(err)
	}
	if got := plain.String(); got != "$ true\n" {
		t.Errorf("plain log = %q", got)
	}
}

// The drains' buffers are reused from command to command: commands run
// side by side, and one after another, each log holds its own output,
// whole and in order.
func TestDrainBuffersReusedKeepEachOutput(t *testing.T) {
	r := &Runner{}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 3 {
				word := "w" + strconv.Itoa(i) + "r" + strconv.Itoa(round)
				var log syncBuf
				args := []string{"sh", "-c", "yes " + word + " | head -n 30000"}
				if err := r.Run(context.Background(), Cmd{Args: args, Log: &log}); err != nil {
					errs <- err
					return
				}
				want := "$ " + CommandLine(args) + "\n" + strings.Repeat(word+"\n", 30000)
				if got := log.String(); got != want {
					errs <- fmt.Errorf("%s: log of %d bytes, want %d", word, len(got), len(want))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
