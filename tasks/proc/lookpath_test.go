package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeProgram writes an executable shell script that appends what to
// the file marker.
func writeProgram(t *testing.T, path, marker, what string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	body := "#!" + sh + "\necho " + what + " >> " + marker + "\n"
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// An empty PATH entry means "." to a shell; a program planted in the
// folder rebuild was started in (and that its commands run in) must never
// be what runs, however PATH is written. The real program further along
// PATH runs instead.
func TestRunNeverRunsAProgramFromTheWorkingDirectory(t *testing.T) {
	for _, tc := range []struct{ name, entry string }{
		{"empty entry", ""},
		{"dot", "."},
		{"relative folder", "bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work, real := t.TempDir(), t.TempDir()
			marker := filepath.Join(t.TempDir(), "ran")
			planted := filepath.Join(work, "probe")
			if tc.entry == "bin" {
				if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
					t.Fatal(err)
				}
				planted = filepath.Join(work, "bin", "probe")
			}
			writeProgram(t, planted, marker, "planted")
			writeProgram(t, filepath.Join(real, "probe"), marker, "real")
			t.Chdir(work)
			r := &Runner{Environ: []string{"PATH=" + tc.entry + ":" + real}}
			if err := r.Run(context.Background(), Cmd{Args: []string{"probe"}}); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(marker)
			if string(got) != "real\n" {
				t.Errorf("ran %q, want only the program on the absolute PATH entry", got)
			}
		})
	}
}

// Found only through a relative entry: the command is not run, and the
// error says why, as exec.LookPath's ErrDot does.
func TestRunRefusesAProgramFoundOnlyInTheWorkingDirectory(t *testing.T) {
	work := t.TempDir()
	marker := filepath.Join(t.TempDir(), "ran")
	writeProgram(t, filepath.Join(work, "probe-only-here"), marker, "planted")
	t.Chdir(work)
	r := &Runner{Environ: []string{"PATH=:" + t.TempDir()}}
	err := r.Run(context.Background(), Cmd{Args: []string{"probe-only-here"}})
	if err == nil {
		t.Fatal("ran a program found only in the working directory")
	}
	if !errors.Is(err, exec.ErrDot) || !strings.Contains(err.Error(), "probe-only-here") {
		t.Errorf("error %v: want one naming the program and wrapping exec.ErrDot", err)
	}
	if _, serr := os.Stat(marker); serr == nil {
		t.Error("the planted program ran")
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	writeProgram(t, filepath.Join(dir, "prog"), filepath.Join(dir, "m"), "x")
	if err := os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := LookPath("prog", "/nonexistent::"+dir); err != nil || p != filepath.Join(dir, "prog") {
		t.Errorf("LookPath(prog) = %q, %v", p, err)
	}
	for _, name := range []string{"plain", "folder", "missing"} {
		if p, err := LookPath(name, dir); !errors.Is(err, exec.ErrNotFound) {
			t.Errorf("LookPath(%s) = %q, %v; want exec.ErrNotFound", name, p, err)
		}
	}
	if _, err := LookPath("prog", ""); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("empty PATH: %v", err)
	}
}
