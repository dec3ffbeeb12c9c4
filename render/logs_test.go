package render

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewRunIDSortsByTime(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 17, 15, 2, 123e6, time.UTC)
	if got := NewRunID(t0); got != "20261125-171502.123" {
		t.Errorf("NewRunID = %q", got)
	}
	var ids []string
	for _, d := range []time.Duration{0, time.Millisecond, time.Second, time.Hour, 24 * time.Hour, 400 * 24 * time.Hour} {
		ids = append(ids, NewRunID(t0.Add(d).In(time.FixedZone("X", -7*3600))))
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("run IDs do not sort by time: %v", ids)
	}
	for _, id := range ids {
		if !runIDRE.MatchString(id) {
			t.Errorf("%q does not look like a run ID", id)
		}
	}
}

func TestLogsWriteTaskLogAndRunLog(t *testing.T) {
	root := t.TempDir()
	var verbose syncBuf
	l, err := OpenLogs(root, "20261125-171502.123", 5, &verbose)
	if err != nil {
		t.Fatal(err)
	}
	if l.Dir() != filepath.Join(root, "20261125-171502.123") {
		t.Errorf("Dir = %s", l.Dir())
	}
	w, path, err := l.Open("build")
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(l.Dir(), "build.log") {
		t.Errorf("path = %s", path)
	}
	fmt.Fprint(w, "one\ntw")
	fmt.Fprint(w, "o\nunfinished")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(path); got != "one\ntwo\nunfinished" {
		t.Errorf("build.log = %q", got)
	}
	want := "[build] one\n[build] two\n[build] unfinished\n"
	if got := read(filepath.Join(l.Dir(), "run.log")); got != want {
		t.Errorf("run.log = %q", got)
	}
	if got := verbose.String(); got != want {
		t.Errorf("verbose = %q", got)
	}
	for _, bad := range []string{"", "run", "../x", "a/b"} {
		if _, _, err := l.Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if _, err := OpenLogs(root, "../evil", 5, nil); err == nil {
		t.Error("OpenLogs accepted a run ID that is a path")
	}
}

func TestLogsRunLogLinesNeverInterleave(t *testing.T) {
	l, err := OpenLogs(t.TempDir(), NewRunID(time.Now()), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	const writers, perWriter = 8, 400
	var wg sync.WaitGroup
	for i := range writers {
		name := fmt.Sprintf("task-%d", i)
		w, _, err := l.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Close()
			rng := rand.New(rand.NewSource(int64(i)))
			var all strings.Builder
			for j := range perWriter {
				fmt.Fprintf(&all, "%s line %d %s end\n", name, j, strings.Repeat(string(rune('a'+i)), rng.Intn(300)))
			}
			// Cut the text at random places, so lines span many writes.
			s := all.String()
			for len(s) > 0 {
				n := min(len(s), 1+rng.Intn(97))
				if _, err := io.WriteString(w, s[:n]); err != nil {
					t.Error(err)
					return
				}
				s = s[n:]
			}
		}()
	}
	wg.Wait()
	_ = l.Close()
	f, err := os.Open(filepath.Join(l.Dir(), "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`^\[(task-(\d))\] (task-(\d)) line (\d+) ([a-h]*) end$`)
	next := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		m := re.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != m[3] || (m[6] != "" && m[6][0] != 'a'+m[2][0]-'0') {
			t.Fatalf("line %d is mixed: %q", n, sc.Text())
		}
		if want := fmt.Sprint(next[m[1]]); m[5] != want {
			t.Fatalf("line %d: %s line %s, want %s", n, m[1], m[5], want)
		}
		next[m[1]]++
	}
	if n != writers*perWriter {
		t.Errorf("%d lines in run.log, want %d", n, writers*perWriter)
	}
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func TestLogsHugeLineKeepsMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 400 MB")
	}
	l, err := OpenLogs(t.TempDir(), NewRunID(time.Now()), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, path, err := l.Open("huge")
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("x", 32<<10))
	const total = 200 << 20
	before := heapInuse()
	var peak uint64
	for written := 0; written < total; written += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if written%(20<<20) == 0 {
			peak = max(peak, heapInuse())
		}
	}
	w.Write([]byte("\n"))
	after := heapInuse()
	_ = w.Close()
	_ = l.Close()
	const limit = 50 << 20
	if after > before+limit || peak > before+limit {
		t.Errorf("heap grew from %d MB to %d MB (peak %d MB) for a 200 MB line",
			before>>20, after>>20, peak>>20)
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != total+1 {
		t.Fatalf("huge.log: %v, %d bytes", err, st.Size())
	}
	rl, err := os.Stat(filepath.Join(l.Dir(), "run.log"))
	pieces := int64(total / maxLogLine)
	if err != nil || rl.Size() != total+pieces*int64(len("[huge] ")+1) {
		t.Errorf("run.log: %v, %d bytes, want %d", err, rl.Size(), total+pieces*int64(len("[huge] ")+1))
	}
}

func TestLogsPrune(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "logs")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var old []string
	for i := range 6 {
		id := NewRunID(t0.Add(time.Duration(i) * time.Hour))
		old = append(old, id)
		if err := os.MkdirAll(filepath.Join(root, id, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The oldest name of all is a symlink to a directory outside, and
	// there are a directory and a file that are not runs.
	link := NewRunID(t0.Add(-time.Hour))
	if err := os.Symlink(outside, filepath.Join(root, link)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"not-a-run", "2026"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, NewRunID(t0.Add(-2*time.Hour))), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	l, err := OpenLogs(root, NewRunID(t0.Add(24*time.Hour)), 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Prune(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{NewRunID(t0.Add(-2 * time.Hour)), link, old[4], old[5], filepath.Base(l.Dir()), "2026", "not-a-run"}
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after Prune:\n got %v\nwant %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(outside, "precious")); err != nil {
		t.Errorf("the symlink's target was touched: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, link)); err != nil {
		t.Errorf("the symlink was removed: %v", err)
	}
}

func TestLogsSameMillisecond(t *testing.T) {
	root := t.TempDir()
	id := NewRunID(time.Now())
	a, err := OpenLogs(root, id, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenLogs(root, id, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Dir() == b.Dir() || !runIDRE.MatchString(filepath.Base(b.Dir())) {
		t.Errorf("dirs %s and %s", a.Dir(), b.Dir())
	}
}

// A capped task log keeps its first and last half of the cap, byte for
// byte, with a line between them saying how much was cut; run.log gets
// the head's lines, a note, and the tail's lines. Checked with the ring
// part-filled, exactly full and wrapped many times, in chunks of every
// size.
func TestLogsCapKeepsHeadAndTail(t *testing.T) {
	const limit = 1000
	for _, total := range []int{limit, limit + 1, limit/2 + 300, limit/2 + limit/2, 100_000, 100_003} {
		t.Run(fmt.Sprint(total), func(t *testing.T) {
			l, err := OpenLogs(t.TempDir(), NewRunID(time.Now()), 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			l.CapTasks(limit)
			w, path, err := l.Open("loud")
			if err != nil {
				t.Fatal(err)
			}
			var all strings.Builder
			for i := 0; all.Len() < total; i++ {
				fmt.Fprintf(&all, "line %05d\n", i)
			}
			out := all.String()[:total]
			rng := rand.New(rand.NewSource(int64(total)))
			for rest := out; len(rest) > 0; {
				k := min(len(rest), 1+rng.Intn(700))
				if n, err := io.WriteString(w, rest[:k]); n != k || err != nil {
					t.Fatalf("Write: %d, %v", n, err)
				}
				rest = rest[k:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			l.Close()
			b, _ := os.ReadFile(path)
			got := string(b)
			if total <= limit {
				if got != out || len(l.Cuts()) != 0 {
					t.Fatalf("under the cap the log changed: %d bytes, cuts %v", len(got), l.Cuts())
				}
				return
			}
			head, tail := out[:limit/2], out[len(out)-min(limit/2, total-limit/2):]
			if !strings.HasPrefix(got, head) || !strings.HasSuffix(got, tail) {
				t.Fatalf("log is not head + note + tail:\n%q", got)
			}
			note := got[len(head) : len(got)-len(tail)]
			if !strings.Contains(note, formatSize(int64(total-len(head)-len(tail)))+" of output cut here") || strings.Count(note, "\n") != 2 {
				t.Errorf("note %q", note)
			}
			cuts := l.Cuts()
			if len(cuts) != 1 || cuts[0].Task != "loud" || cuts[0].Total != int64(total) || cuts[0].Kept != int64(len(head)+len(tail)) {
				t.Errorf("Cuts = %+v", cuts)
			}
			run, _ := os.ReadFile(filepath.Join(l.Dir(), "run.log"))
			runLog := string(run)
			lastLine := strings.TrimSuffix(tail, "\n")
			lastLine = lastLine[strings.LastIndexByte(lastLine, '\n')+1:]
			for _, want := range []string{"[loud] line 00000\n", "[loud] " + lastLine + "\n", "[loud] [rebuild: ",
				" of this task's output left out of run.log here (log_max = 1000 B); loud.log has its first and last part]\n"} {
				if !strings.Contains(runLog, want) {
					t.Errorf("run.log lacks %q:\n%s", want, runLog)
				}
			}
			if !strings.HasSuffix(runLog, "[loud] "+lastLine+"\n") {
				t.Errorf("run.log does not end with the last line:\n%s", runLog)
			}
			if strings.Count(runLog, "[loud] line 00000") != 1 {
				t.Errorf("run.log has the first line more than once")
			}
			if len(runLog) > limit+300 {
				t.Errorf("run.log has %d bytes for a log capped at %d:\n%s", len(runLog), limit, runLog)
			}
		})
	}
}

// logs as a link is refused: a root run with a user's state directory
// must not write its logs, or prune, wherever the link points.
func TestLogsRootLinkRefused(t *testing.T) {
	state, outside := t.TempDir(), t.TempDir()
	os.Symlink(outside, filepath.Join(state, "logs"))
	if l, err := OpenLogs(filepath.Join(state, "logs"), NewRunID(time.Now()), 1, nil); err == nil {
		l.Close()
		t.Fatal("logs opened through a link")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("created through the link: %v", entries)
	}
	// Missing: created with its parent.
	l, err := OpenLogs(filepath.Join(state, "new", "logs"), NewRunID(time.Now()), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

// Short lines grow with their prefix in run.log: its share is capped in
// its own bytes, even when the task log itself is under the cap.
func TestLogsRunLogShareCappedInItsOwnBytes(t *testing.T) {
	l, err := OpenLogs(t.TempDir(), NewRunID(time.Now()), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.CapTasks(1000)
	w, path, _ := l.Open("loud")
	out := strings.Repeat("y\n", 400) + "last\n"
	io.WriteString(w, out)
	w.Close()
	l.Close()
	if b, _ := os.ReadFile(path); string(b) != out || len(l.Cuts()) != 0 {
		t.Fatalf("the task log under its cap changed (%d bytes), cuts %v", len(b), l.Cuts())
	}
	b, _ := os.ReadFile(filepath.Join(l.Dir(), "run.log"))
	runLog := string(b)
	if len(runLog) > 1300 || !strings.Contains(runLog, "left out of run.log here (log_max = 1000 B); loud.log has all of it]") ||
		!strings.HasPrefix(runLog, "[loud] y\n") || !strings.HasSuffix(runLog, "[loud] y\n[loud] last\n") {
		t.Errorf("run.log (%d bytes):\n%s", len(runLog), runLog)
	}
}

// A task that prints nothing costs no file; one that prints gets its log
// on the first write.
func TestTaskLogIsCreatedAtFirstWrite(t *testing.T) {
	l, err := OpenLogs(t.TempDir(), "20261125-171502.123", 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	silent, spath, err := l.Open("silent")
	if err != nil {
		t.Fatal(err)
	}
	loud, lpath, err := l.Open("loud")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lpath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("loud.log exists before its first write: %v", err)
	}
	fmt.Fprint(loud, "hello")
	for _, w := range []io.WriteCloser{silent, loud} {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(spath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("silent.log: %v, want no file", err)
	}
	if !silent.(interface{ Empty() bool }).Empty() || loud.(interface{ Empty() bool }).Empty() {
		t.Error("Empty: want silent true, loud false")
	}
	if b, err := os.ReadFile(lpath); err != nil || string(b) != "hello" {
		t.Errorf("loud.log = %q, %v", b, err)
	}
}

// commandLines is the method proc.Runner looks for on a log.
type commandLines interface {
	WriteCommandLine(p []byte) (int, error)
}

// A command line alone makes no file: run.log has it, in its place among
// the other lines. Output after it, or a line of rebuild's (a failure),
// makes the file, which starts with every command line held until then;
// command lines after that go straight to the file.
func TestTaskLogHoldsCommandLinesUntilOutput(t *testing.T) {
	l, err := OpenLogs(t.TempDir(), "20261125-171502.123", 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	open := func(task string) (io.WriteCloser, commandLines, string) {
		w, path, err := l.Open(task)
		if err != nil {
			t.Fatal(err)
		}
		cl, ok := w.(commandLines)
		if !ok {
			t.Fatalf("%s's log has no WriteCommandLine", task)
		}
		return w, cl, path
	}
	quiet, quietCL, quietPath := open("quiet")
	quietCL.WriteCommandLine([]byte("$ true\n"))
	quietCL.WriteCommandLine([]byte("$ true again\n"))
	loud, loudCL, loudPath := open("loud")
	loudCL.WriteCommandLine([]byte("$ first\n"))
	loudCL.WriteCommandLine([]byte("$ second\n"))
	fmt.Fprint(loud, "out\n")
	loudCL.WriteCommandLine([]byte("$ third\n"))
	failed, failedCL, failedPath := open("failed")
	failedCL.WriteCommandLine([]byte("$ false\n"))
	fmt.Fprint(failed, "failed failed: false: exit status 1\n")
	for _, w := range []io.WriteCloser{quiet, loud, failed} {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(quietPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("quiet.log: %v, want no file", err)
	}
	if !quiet.(interface{ Empty() bool }).Empty() || loud.(interface{ Empty() bool }).Empty() || failed.(interface{ Empty() bool }).Empty() {
		t.Error("Empty: want quiet true, loud and failed false")
	}
	for path, want := range map[string]string{
		loudPath:   "$ first\n$ second\nout\n$ third\n",
		failedPath: "$ false\nfailed failed: false: exit status 1\n",
	} {
		if b, err := os.ReadFile(path); err != nil || string(b) != want {
			t.Errorf("%s = %q (%v), want %q", filepath.Base(path), b, err, want)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(l.Dir(), "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if strings.HasPrefix(line, "[loud] ") || strings.HasPrefix(line, "[quiet] ") {
			got = append(got, line)
		}
	}
	want := []string{"[quiet] $ true\n", "[quiet] $ true again\n", "[loud] $ first\n", "[loud] $ second\n", "[loud] out\n", "[loud] $ third\n"}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("run.log's lines = %q, want %q", got, want)
	}
}

// A task running many commands that print nothing holds no more than
// holdMax of their lines: past that its file is made, with all of them.
func TestTaskLogHeldCommandLinesAreBounded(t *testing.T) {
	l, err := OpenLogs(t.TempDir(), "20261125-171502.123", 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	w, path, err := l.Open("many")
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 0; want.Len() <= 3*holdMax; i++ {
		line := fmt.Sprintf("$ step %d\n", i)
		want.WriteString(line)
		w.(commandLines).WriteCommandLine([]byte(line))
	}
	// The writer has taken them all once a Close returns; the file was
	// made before that, while the task still ran.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != want.String() {
		t.Errorf("many.log = %d bytes (%v), want the %d bytes of its command lines", len(b), err, want.Len())
	}
	if w.(interface{ Empty() bool }).Empty() {
		t.Error("Empty, with a file")
	}
}

// A capped log counts held command lines as its first bytes.
func TestTaskLogHeldCommandLinesUnderCap(t *testing.T) {
	l, err := OpenLogs(t.TempDir(), "20261125-171502.123", 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.CapTasks(64)
	w, path, err := l.Open("capped")
	if err != nil {
		t.Fatal(err)
	}
	w.(commandLines).WriteCommandLine([]byte("$ cmd\n"))
	fmt.Fprint(w, strings.Repeat("x", 200)+"\nend\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if log := string(b); !strings.HasPrefix(log, "$ cmd\nxxx") || !strings.HasSuffix(log, "x\nend\n") || !strings.Contains(log, "cut here") {
		t.Errorf("capped.log = %q", log)
	}
}

// A task log already there (the same task logged twice in a run) is
// written on after its end; a link planted in its place is refused, not
// followed: its task's lines still reach run.log, and Close says why.
func TestTaskLogExistingFileAndLink(t *testing.T) {
	l, err := OpenLogs(t.TempDir(), "20261125-171502.123", 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, text := range []string{"first\n", "second\n"} {
		w, _, err := l.Open("twice")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(w, text)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(l.Dir(), "twice.log")); err != nil || string(b) != "first\nsecond\n" {
		t.Errorf("twice.log = %q, %v", b, err)
	}
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte("keep"), 0o644)
	if err := os.Symlink(target, filepath.Join(l.Dir(), "linked.log")); err != nil {
		t.Fatal(err)
	}
	w, _, err := l.Open("linked")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "output\n")
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "linked.log") {
		t.Errorf("Close = %v, want the link refused", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target = %q", b)
	}
	l.Close()
	if b, _ := os.ReadFile(filepath.Join(l.Dir(), "run.log")); !strings.Contains(string(b), "[linked] output\n") {
		t.Errorf("run.log lacks the task's line:\n%s", b)
	}
}
