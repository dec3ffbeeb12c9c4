package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// TestHelperReport is the program the tests below run, both directly and
// through sh: it prints what it was given (arguments, environment,
// working directory, whether it leads its process group) and exits with
// SHELL_TEST_EXIT.
func TestHelperReport(t *testing.T) {
	if os.Getenv("SHELL_TEST_HELPER") != "1" {
		t.Skip("run by TestDirectExecIsTheShellsExec")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		// The runner's token differs per command; SHLVL and _ are a
		// shell's own bookkeeping, which bash sets and dash does not.
		if k, _, _ := strings.Cut(kv, "="); k != "_REBUILD_PROC" && k != "SHLVL" && k != "_" {
			env = append(env, kv)
		}
	}
	slices.Sort(env)
	wd, _ := unix.Getwd()
	fmt.Printf("args %q\ncwd %s\nleader %v\nenv %q\n", args, wd, unix.Getpgrp() == os.Getpid(), env)
	code, _ := strconv.Atoi(os.Getenv("SHELL_TEST_EXIT"))
	os.Exit(code)
}

// A plain line executed directly gives its program what `sh -c 'exec …'`
// gives it — arguments (quotes included), environment (PWD as the shell
// sets it: the inherited one when it names the folder, else the folder
// through no links), working directory, its own process group — and ends
// with the same exit code and last lines. Only the command an error
// names differs: the program and its arguments, or sh -c and the line.
func TestDirectExecIsTheShellsExec(t *testing.T) {
	self, err := os.Executable()
	if err != nil || strings.ContainsAny(self, shellChars+" '\"") {
		t.Skipf("test binary at %q", self)
	}
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	for _, tc := range []struct {
		name, dir, pwd string
		exit           int
	}{
		{"folder, rebuild's PWD", real, wd, 0},
		{"link to a folder, rebuild's PWD", link, wd, 0},
		{"link to a folder, PWD naming it", link, link, 0},
		{"no folder, PWD naming it", "", wd, 3},
		{"no folder, PWD elsewhere", "", real, 5},
		{"no PWD", real, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			environ := []string{"PATH=" + os.Getenv("PATH"), "SHELL_TEST_HELPER=1", "HELPER=" + self,
				"SHELL_TEST_EXIT=" + strconv.Itoa(tc.exit), "HOME=/nowhere", "A=x y"}
			if tc.pwd != "" {
				environ = append(environ, "PWD="+tc.pwd)
			}
			calls := filepath.Join(t.TempDir(), "calls")
			bin := t.TempDir()
			realSh, err := exec.LookPath("sh")
			if err != nil {
				t.Skip("no sh")
			}
			if err := os.WriteFile(filepath.Join(bin, "sh"), []byte("#!"+realSh+"\nprintf '%s\\n' \"$2\" >> "+calls+"\nexec "+realSh+" \"$@\"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			environ[0] = "PATH=" + bin + ":" + os.Getenv("PATH")
			r := &proc.Runner{Environ: environ}
			run := func(line string) (string, error) {
				env := tasks.NewEnv("user", nil, nil)
				var log bytes.Buffer
				env.Log = &log
				env.Runner = r
				err := Task{Command: line, Dir: tc.dir}.Run(context.Background(), env)
				_, out, _ := strings.Cut(log.String(), "\n") // the log's first line is the command
				return out, err
			}
			args := ` -test.run=TestHelperReport -- plain 'two  words' "double q" e'f'g`
			direct, derr := run(self + args)
			viaSh, serr := run(`"$HELPER"` + args)
			b, _ := os.ReadFile(calls)
			if got := strings.Split(strings.TrimSpace(string(b)), "\n"); !slices.Equal(got, []string{`exec "$HELPER"` + args}) {
				t.Fatalf("sh ran %q: the direct line went through sh, or the other did not", got)
			}
			if direct != viaSh {
				t.Errorf("directly:\n%s\nthrough sh:\n%s", direct, viaSh)
			}
			if !strings.Contains(direct, `args ["plain" "two  words" "double q" "efg"]`) {
				t.Errorf("arguments: %s", direct)
			}
			if tc.exit == 0 {
				if derr != nil || serr != nil {
					t.Errorf("errors: %v; %v", derr, serr)
				}
				return
			}
			var de, se *proc.Error
			if !errors.As(derr, &de) || !errors.As(serr, &se) {
				t.Fatalf("errors: %v; %v", derr, serr)
			}
			if de.Code != tc.exit || se.Code != tc.exit || !slices.Equal(de.Tail, se.Tail) {
				t.Errorf("directly: exit %d, tail %q; through sh: exit %d, tail %q", de.Code, de.Tail, se.Code, se.Tail)
			}
			wantD := proc.CommandLine(append([]string{self}, "-test.run=TestHelperReport", "--", "plain", "two  words", "double q", "efg")) +
				": exit status " + strconv.Itoa(tc.exit)
			wantS := "sh -c '\"$HELPER\"" + strings.ReplaceAll(args, "'", `'\''`) + "': exit status " + strconv.Itoa(tc.exit)
			if got := strings.SplitN(derr.Error(), "\n", 2)[0]; got != wantD {
				t.Errorf("direct error %q, want %q", got, wantD)
			}
			if got := strings.SplitN(serr.Error(), "\n", 2)[0]; got != wantS {
				t.Errorf("sh error %q, want %q", got, wantS)
			}
		})
	}
}

// A plain line whose program the shell would not run — not on the PATH,
// a path to nothing, a file without the execute bit, a folder — goes to
// the shell, and the user gets the shell's answer: its message and 127 or
// 126, as for any other line.
func TestUnrunnableProgramGoesToTheShell(t *testing.T) {
	w := newWrapped(t)
	if err := os.WriteFile(filepath.Join(w.dir, "notexec"), []byte("#!/bin/sh\necho never\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string
		code int
	}{
		{"no-such-tool-here arg", 127},
		{"/no/such/tool arg", 127},
		{"./notexec", 126},
		{"/ arg", 126},
	} {
		log, err := w.run(t, tc.line)
		var pe *proc.Error
		if !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("%s: err %v (log %q), want exit status %d", tc.line, err, log, tc.code)
			continue
		}
		if !strings.HasPrefix(err.Error(), proc.CommandLine([]string{"sh", "-c", tc.line})+": exit status "+strconv.Itoa(tc.code)) {
			t.Errorf("%s: error %q", tc.line, err)
		}
	}
	want := []string{"exec no-such-tool-here arg", "exec /no/such/tool arg", "exec ./notexec", "exec / arg"}
	if got := w.shellCalls(t); !slices.Equal(got, want) {
		t.Errorf("sh got %q, want %q", got, want)
	}
}
