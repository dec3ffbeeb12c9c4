package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A diamond plus an independent branch, in json: independent tasks
// overlapped and dependent ones did not. Overlap is forced, not timed: b, c
// and e each wait until all three have started, so a scheduler that
// serialised them would fail the run.
func TestJSONDiamondOverlap(t *testing.T) {
	dir := t.TempDir()
	meet := func(me string) string {
		return `touch ` + me + `.started; i=0; while [ ! -f b.started ] || [ ! -f c.started ] || [ ! -f e.started ]; do sleep 0.02; i=$((i+1)); [ $i -lt 1500 ] || exit 9; done; echo met`
	}
	writeFile(t, filepath.Join(dir, "cfg.toml"), `
flake = "`+dir+`"
[task.a]
groups = ["mine"]
run = "echo a"
[task.b]
groups = ["mine"]
run = "`+meet("b")+`"
needs = ["a"]
[task.c]
groups = ["mine"]
run = "`+meet("c")+`"
needs = ["a"]
[task.d]
groups = ["mine"]
run = "echo d"
needs = ["b", "c"]
[task.e]
groups = ["mine"]
run = "`+meet("e")+`"
`)
	cmd := rebuildCmd(t, dir, "--config", "cfg.toml", "--only=a,b,c,d,e", "--output", "json", "--strict")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	evs := parseJSON(t, string(out))
	last := evs.events[len(evs.events)-1]
	if last.Event != "summary" {
		t.Fatalf("last event %+v", last)
	}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if evs.summary.Tasks[n] != "succeeded" {
			t.Errorf("%s: %s", n, evs.summary.Tasks[n])
		}
	}
	// Independent: b, c and e all started before any of them finished.
	for _, s := range []string{"b", "c", "e"} {
		for _, f := range []string{"b", "c", "e"} {
			if evs.index(s, "start") > evs.index(f, "finish") {
				t.Errorf("%s started after %s finished", s, f)
			}
		}
	}
	// Dependent: b and c after a; d after b and c.
	for _, pair := range [][2]string{{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}} {
		if evs.index(pair[0], "finish") > evs.index(pair[1], "start") {
			t.Errorf("%s started before %s finished", pair[1], pair[0])
		}
	}
}

// A second run while one holds the lock exits 3 and names the holder.
func TestSecondConcurrentRunExitsThree(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cfg.toml"), `
[task.wait]
groups = ["mine"]
run = "touch started; i=0; while [ ! -f release ]; do sleep 0.02; i=$((i+1)); [ $i -lt 1500 ] || exit 9; done"
`)
	first := rebuildCmd(t, dir, "--config", "cfg.toml", "--only=mine", "--output", "plain")
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, filepath.Join(dir, "started"))
	second := rebuildCmd(t, dir, "--config", "cfg.toml", "--only=mine", "--output", "plain")
	out, err := second.CombinedOutput()
	if code := exitOf(err); code != 3 {
		t.Errorf("second run exit %d, want 3\n%s", code, out)
	}
	want := "another rebuild is running: pid " + strconv.Itoa(first.Process.Pid) + ", started "
	if !strings.Contains(string(out), want) {
		t.Errorf("second run said %q, want %q", out, want)
	}
	writeFile(t, filepath.Join(dir, "release"), "")
	if err := first.Wait(); err != nil {
		t.Errorf("first run: %v\n%s", err, firstOut.String())
	}
}

// Ctrl-C: exit 130 and no child process left behind.
func TestInterruptLeavesNoChild(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cfg.toml"), `
[task.long]
groups = ["mine"]
run = "sleep 300 & echo $! > child.pid; wait"
[task.later]
groups = ["mine"]
run = "echo never"
needs = ["long"]
`)
	cmd := rebuildCmd(t, dir, "--config", "cfg.toml", "--only=mine", "--output", "plain")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The shell creates child.pid before it writes the pid into it: read
	// until the whole line is there.
	child := 0
	for i := 0; i < 3000 && child == 0; i++ {
		if b, err := os.ReadFile(filepath.Join(dir, "child.pid")); err == nil && strings.HasSuffix(string(b), "\n") {
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if child == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if child == 0 {
		t.Fatal("the task never wrote its child's pid")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := exitOf(err); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, out.String())
	}
	for i := 0; i < 200 && processAlive(child); i++ {
		time.Sleep(10 * time.Millisecond) // SIGKILL lands asynchronously
	}
	if child == 0 || processAlive(child) {
		t.Errorf("child %d still running after Ctrl-C", child)
	}
	if !strings.Contains(out.String(), "canceled later: interrupted") {
		t.Errorf("output:\n%s", out.String())
	}
}

// A task printing a gigabyte: the run succeeds and rebuild's memory stays
// flat (its peak RSS is reported in the test log).
func TestGigabyteOutputKeepsMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2 GB of logs (task log + run.log)")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cfg.toml"), `
[task.loud]
groups = ["mine"]
run = "yes 'a line of output that goes on and on' | head -c 1000000000; echo; echo finished"
`)
	cmd := rebuildCmd(t, dir, "--config", "cfg.toml", "--only=mine", "--output", "plain")
	// The rebuild here is the -race test binary: its garbage (a status
	// line per output line) is collected late when the machine is loaded,
	// and the race runtime's shadow memory grows with the uncollected heap
	// (302 MB once, under load, with nothing kept). A soft limit makes the
	// collector keep up; memory the process keeps — the fault this test is
	// for: 1 GB went by — still goes over the limit and the threshold.
	cmd.Env = append(cmd.Env, "GOMEMLIMIT=64MiB")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	peakMB := ru.Maxrss / 1024
	t.Logf("peak RSS of rebuild while a task printed 1 GB: %d MB", peakMB)
	if peakMB > 150 {
		t.Errorf("peak RSS %d MB: memory is not flat", peakMB)
	}
	if !strings.Contains(string(out), "loud: finished") {
		t.Errorf("last line not the status:\n%s", out)
	}
}
