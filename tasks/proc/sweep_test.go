package proc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// Commands that end while a pass runs share the next one; none is answered
// by a pass that began before it asked.
func TestSweepsShareThePassThatBeginsAfterThem(t *testing.T) {
	var s sweeps
	var mu sync.Mutex
	var passes [][]string
	entered := make(chan int, 3)
	release := []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	pass := func(tokens []string) {
		mu.Lock()
		n := len(passes)
		passes = append(passes, slices.Sorted(slices.Values(tokens)))
		mu.Unlock()
		entered <- n
		<-release[n]
	}
	returned := map[string]chan struct{}{}
	sweep := func(tok string) {
		returned[tok] = make(chan struct{})
		go func() { s.sweep(tok, pass); close(returned[tok]) }()
	}
	waitGathered := func(n int) {
		t.Helper()
		for i := 0; ; i++ {
			s.mu.Lock()
			k := 0
			if s.next != nil {
				k = len(s.next.tokens)
			}
			s.mu.Unlock()
			if k == n {
				return
			}
			if i > 1000 {
				t.Fatalf("%d tokens waiting, want %d", k, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	notYet := func(toks ...string) {
		t.Helper()
		for _, tok := range toks {
			select {
			case <-returned[tok]:
				t.Fatalf("sweep(%s) returned before a pass that began after it", tok)
			default:
			}
		}
	}

	sweep("a")
	if n := <-entered; n != 0 {
		t.Fatalf("first pass is number %d", n)
	}
	sweep("b")
	sweep("c")
	sweep("d")
	waitGathered(3)
	notYet("a", "b", "c", "d")
	close(release[0])
	<-returned["a"]
	if n := <-entered; n != 1 {
		t.Fatalf("second pass is number %d", n)
	}
	// One that comes during the second pass waits for a third.
	sweep("e")
	waitGathered(1)
	notYet("b", "c", "d", "e")
	close(release[1])
	for _, tok := range []string{"b", "c", "d"} {
		<-returned[tok]
	}
	<-entered
	notYet("e")
	close(release[2])
	<-returned["e"]

	want := [][]string{{"a"}, {"b", "c", "d"}, {"e"}}
	if !slices.EqualFunc(passes, want, slices.Equal) {
		t.Errorf("passes %q, want %q", passes, want)
	}
}

// As a subreaper, a command that left nothing behind costs no pass over
// every process, and an orphan of its that exited by itself is reaped all
// the same; one that left something running gets the pass, and what it
// left is killed, whether it sits right under rebuild or under another
// process it left.
func TestSubreaperPassOnlyWhenSomethingIsLeft(t *testing.T) {
	needSetsid(t)
	if err := BecomeSubreaper(); err != nil {
		t.Skipf("not a subreaper: %v", err)
	}
	r := &Runner{Grace: 200 * time.Millisecond, Subreaper: true}
	run := func(script string) {
		t.Helper()
		if err := r.Run(context.Background(), Cmd{Args: []string{"sh", "-c", script}, Log: &syncBuf{}}); err != nil {
			t.Fatal(err)
		}
	}
	run("true")
	run("(true &); sleep 0.2")
	if r.passes != (passCounts{skipped: 2}) {
		t.Errorf("after commands that left nothing: %+v, want 2 passes skipped", r.passes)
	}
	if z := zombieChildren(); len(z) > 0 {
		t.Errorf("zombie children left: %v", z)
	}

	dir := t.TempDir()
	for i, script := range []string{
		escape(filepath.Join(dir, "pid0")),
		// The escaped sleep's parent, a shell in a session of its own,
		// outlives the command and waits for it.
		"setsid sh -c 'sleep 1000 & echo $! > " + filepath.Join(dir, "pid1.tmp") + "; mv " + filepath.Join(dir, "pid1.tmp") + " " + filepath.Join(dir, "pid1") + "; wait' & " +
			"while [ ! -s " + filepath.Join(dir, "pid1") + " ]; do sleep 0.01; done",
	} {
		var pid int
		killLater(t, &pid)
		before := r.passes.full
		run(script)
		pid = readPid(t, filepath.Join(dir, "pid"+string(rune('0'+i))))
		for k := 0; k < 100 && running(pid); k++ {
			time.Sleep(10 * time.Millisecond)
		}
		if running(pid) {
			t.Errorf("script %d: the sleep it left (pid %d) survived", i, pid)
		}
		if r.passes.full != before+1 {
			t.Errorf("script %d: %d full passes, want 1", i, r.passes.full-before)
		}
	}
}

// The environ reader finds a token wherever it sits in the environment,
// and only whole: a longer token with the same start is another's.
func TestCarries(t *testing.T) {
	needles := tokenNeedles([]string{"abc"})
	for env, want := range map[string]bool{
		"_REBUILD_PROC=abc\x00":                    true,
		"A=1\x00_REBUILD_PROC=abc\x00B=2\x00":      true,
		"A=1\x00_REBUILD_PROC=abcd\x00":            false,
		"A=1\x00X_REBUILD_PROC=abc\x00":            false,
		"":                                         false,
		"A=1\x00_REBUILD_PROC=ab\x00c\x00":         false,
		"A=_REBUILD_PROC=abc\x00":                  false,
		"_REBUILD_PROC=x\x00_REBUILD_PROC=abc\x00": true,
	} {
		if got := carries([]byte(env), needles); got != want {
			t.Errorf("carries(%q) = %v, want %v", env, got, want)
		}
	}
}

// The /proc reader lists this process among the pids, reads its own
// environment whole (however long), and lists a child it started.
func TestProcDirReadsPidsEnvironAndChildren(t *testing.T) {
	p, err := openProc()
	if err != nil {
		t.Skip(err)
	}
	defer p.close()
	pids, err := p.pids()
	if err != nil || !slices.Contains(pids, os.Getpid()) {
		t.Fatalf("pids: %v, ours (%d) among %d", err, os.Getpid(), len(pids))
	}
	want, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		t.Skip(err)
	}
	p.buf = make([]byte, 7) // grows as it reads
	got, err := p.readFile(os.Getpid(), "environ")
	if err != nil || string(got) != string(want) {
		t.Errorf("environ: %v, %d bytes, want %d", err, len(got), len(want))
	}
	if _, err := p.readFile(1<<30, "environ"); err == nil {
		t.Errorf("a pid that does not exist was read")
	}

	r := &Runner{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, Cmd{Args: []string{"sleep", "1000"}}) }()
	defer func() { cancel(); <-done }()
	for i := 0; ; i++ {
		r.kids.mu.Lock()
		var child int
		for pid := range r.kids.live {
			child = pid
		}
		r.kids.mu.Unlock()
		if child != 0 {
			kids, ok := p.children(os.Getpid())
			if !ok {
				t.Skip("this kernel lists no children")
			}
			if !slices.Contains(kids, child) {
				t.Errorf("children %v lack the command's pid %d", kids, child)
			}
			return
		}
		if i > 500 {
			t.Fatal("the command did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The children lists kept open between passes are read anew each time: a
// command that started since is in them, one that ended is not.
func TestChildListsFollowTheChildren(t *testing.T) {
	p, err := openProc()
	if err != nil {
		t.Skip(err)
	}
	defer p.close()
	var l childLists
	defer l.close()
	me := os.Getpid()
	if _, ok := l.read(p, me); !ok {
		t.Skip("this kernel lists no children")
	}
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	kids, ok := l.read(p, me)
	if !ok || !slices.Contains(kids, pid) {
		t.Errorf("children %v (ok %v) lack sleep (%d)", kids, ok, pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	kids, ok = l.read(p, me)
	if !ok || slices.Contains(kids, pid) {
		t.Errorf("children %v (ok %v) still hold sleep (%d), waited for", kids, ok, pid)
	}
}

// readAll reads a kernel list longer than a page whole, however its
// reads are cut.
func TestReadAllReadsLongKernelLists(t *testing.T) {
	for _, path := range []string{"/proc/kallsyms", "/proc/self/mountinfo"} {
		want, err := os.ReadFile(path)
		if err != nil || len(want) < 8192 {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		defer f.Close()
		l := childLists{buf: make([]byte, 100)}
		for range 2 { // and again from the start
			got, err := l.readAll(f)
			if err != nil || string(got) != string(want) {
				t.Fatalf("%s: %v, %d bytes, want %d", path, err, len(got), len(want))
			}
		}
		return
	}
	t.Skip("no kernel list of more than a page to read")
}

// A process can hide its environment — here it replaced itself with one
// started without the token, as a program writing its title over its
// environment does — while a process it started carries the token. As a
// subreaper, what is under such a child is looked at too: the pass runs,
// and the process carrying the token is killed.
func TestSubreaperPassLooksUnderAChildWithoutTheToken(t *testing.T) {
	needSetsid(t)
	if err := BecomeSubreaper(); err != nil {
		t.Skipf("not a subreaper: %v", err)
	}
	dir := t.TempDir()
	x, y := filepath.Join(dir, "x"), filepath.Join(dir, "y")
	var xpid, ypid int
	killLater(t, &xpid)
	killLater(t, &ypid)
	script := "setsid sh -c 'sleep 1000 & echo $! > " + y + ".tmp; mv " + y + ".tmp " + y + "; echo $$ > " + x + ".tmp; mv " + x + ".tmp " + x +
		"; exec env -i FOO=bar sleep 1001' & " +
		"while [ ! -s " + x + " ]; do sleep 0.01; done; " +
		"while tr '\\0' '\\n' < /proc/$(cat " + x + ")/environ | grep -q _REBUILD_PROC; do sleep 0.01; done"
	r := &Runner{Grace: 200 * time.Millisecond, Subreaper: true}
	if err := r.Run(context.Background(), Cmd{Args: []string{"sh", "-c", script}, Log: &syncBuf{}}); err != nil {
		t.Fatal(err)
	}
	xpid, ypid = readPid(t, x), readPid(t, y)
	for k := 0; k < 100 && running(ypid); k++ {
		time.Sleep(10 * time.Millisecond)
	}
	if running(ypid) || r.passes.full != 1 {
		t.Errorf("the sleep carrying the token (pid %d) running: %v; %d full passes, want 1", ypid, running(ypid), r.passes.full)
	}
	if !running(xpid) {
		t.Errorf("the process without the token (pid %d) was killed: no pass can tell it is the command's", xpid)
	}
}
