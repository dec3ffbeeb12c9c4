package shell

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

func TestDirectArgv(t *testing.T) {
	direct := map[string][]string{
		"true":                     {"true"},
		"  make   check ":          {"make", "check"},
		`tool 'a b' "c d" e'f'g`:   {"tool", "a b", "c d", "efg"},
		`tool '' x`:                {"tool", "", "x"},
		"/bin/true --x=1 a,b @c%d": {"/bin/true", "--x=1", "a,b", "@c%d"},
	}
	for line, want := range direct {
		if got, ok := directArgv(line); !ok || !slices.Equal(got, want) {
			t.Errorf("directArgv(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
	for _, line := range []string{
		"", "   ", "echo $HOME", "a `b`", "a | b", "a && b", "a; b", "a < f", "a > f", "(a)",
		"ls *.go", "ls ?", "ls [ab]", "ls ~", "a\nb", `a\ b`, "a # c", "{ a; }", "! a",
		"FOO=1 make", "cd /", "exit 3", "echo hi", "read x", "if", "'unterminated", "test -f x", "'echo' x",
	} {
		if got, ok := directArgv(line); ok {
			t.Errorf("directArgv(%q) = %q: that line needs the shell", line, got)
		}
	}
}

func TestExecLine(t *testing.T) {
	for line, want := range map[string]string{
		"tool $ARG":          "exec tool $ARG",
		`nix build "$F" *.x`: `exec nix build "$F" *.x`,
		"a; b":               "a; b",
		"a | b":              "a | b",
		"a && b":             "a && b",
		"FOO=$X tool":        "FOO=$X tool",
		">f tool":            ">f tool",
		"cd $D":              "cd $D",
		"exit $N":            "exit $N",
		"(tool $X)":          "(tool $X)",
		"echo `date`":        "echo `date`",
	} {
		if got := execLine(line); got != want {
			t.Errorf("execLine(%q) = %q, want %q", line, got, want)
		}
	}
}

// wrapped is a folder put first on PATH with an `sh` that records each of
// its command lines in calls before it runs the real one, and a `tool` that
// prints its arguments one per line.
type wrapped struct {
	dir, calls string
	runner     *proc.Runner
}

func newWrapped(t *testing.T) wrapped {
	t.Helper()
	realSh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	w := wrapped{dir: dir, calls: filepath.Join(dir, "calls")}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("sh", "#!"+realSh+"\nprintf '%s\\n' \"$2\" >> "+w.calls+"\nexec "+realSh+" \"$@\"\n")
	write("tool", "#!"+realSh+"\nfor a; do printf '<%s>\\n' \"$a\"; done\n")
	w.runner = &proc.Runner{Environ: []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "ARG=x y"}}
	return w
}

func (w wrapped) run(t *testing.T, line string) (string, error) {
	t.Helper()
	env := tasks.NewEnv("user", nil, nil)
	var log bytes.Buffer
	env.Log = &log
	env.Runner = w.runner
	err := Task{Command: line, Dir: w.dir}.Run(context.Background(), env)
	return log.String(), err
}

func (w wrapped) shellCalls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(w.calls)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestPlainCommandRunsWithoutShell(t *testing.T) {
	w := newWrapped(t)
	if _, err := w.run(t, "true"); err != nil {
		t.Fatal(err)
	}
	log, err := w.run(t, `tool 'a  b' "c" d`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "<a  b>\n<c>\n<d>\n") {
		t.Errorf("tool's arguments: log %q", log)
	}
	if calls := w.shellCalls(t); calls != nil {
		t.Errorf("plain commands went through sh: %q", calls)
	}
	_, err = w.run(t, "false")
	if err == nil || !strings.Contains(err.Error(), "false: exit status 1") {
		t.Errorf("false: err = %v", err)
	}
}

// A line with shell syntax goes through sh and does what sh -c does with
// it; a single simple command has exec in front, but errors still name the
// line as written.
func TestShellSyntaxStillRunsWithShell(t *testing.T) {
	w := newWrapped(t)
	lines := []string{
		"tool $ARG",
		`tool "$ARG" | tr a-z A-Z`,
		"X=1; tool $X && tool two",
		"cd / && pwd",
		"tool calls* ~ 2>/dev/null",
		"echo -e 'a\\tb'",
		`tool a\ b`,
		"FOO=bar env | grep ^FOO=",
	}
	for _, line := range lines {
		log, err := w.run(t, line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		want := exec.Command("sh", "-c", line)
		want.Dir, want.Env = w.dir, w.runner.Environ
		out, err := want.CombinedOutput()
		if err != nil {
			t.Fatalf("sh -c %q: %v", line, err)
		}
		// The log starts with the command line; the output follows it.
		_, got, _ := strings.Cut(log, "\n")
		if got != string(out) {
			t.Errorf("%s: output %q, sh -c gives %q", line, got, out)
		}
	}
	// The sh -c for comparison was found on the test's own PATH: every
	// call the wrapper saw is the task's.
	ours := w.shellCalls(t)
	want := []string{"exec tool $ARG", lines[1], lines[2], lines[3], "exec tool calls* ~ 2>/dev/null", lines[5], lines[6], lines[7]}
	if !slices.Equal(ours, want) {
		t.Errorf("sh got %q, want %q", ours, want)
	}

	_, err := w.run(t, "tool $ARG >/dev/null; exit 4")
	if err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Errorf("exit 4: err = %v", err)
	}
	_, err = w.run(t, "false $ARG")
	if err == nil || !strings.Contains(err.Error(), "sh -c 'false $ARG': exit status 1") {
		t.Errorf("false $ARG: err = %v", err)
	}
}

// A script without #! is run by sh, as a shell would run it.
func TestScriptWithoutInterpreterLineRunsWithShell(t *testing.T) {
	w := newWrapped(t)
	if err := os.WriteFile(filepath.Join(w.dir, "script"), []byte("echo from-script\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	log, err := w.run(t, "./script")
	if err != nil || !strings.Contains(log, "from-script\n") {
		t.Errorf("./script: err = %v, log %q", err, log)
	}
}
