package mcpusage

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/logcursor"
)

// sessionLines writes n blocks of a session in Claude Code's shape (a text
// line and a tool-use line of one message, then the tool result), the
// i-th block an hour after the (i-1)-th from start, plus one malformed
// line and one without a time.
func sessionLines(seed, n int, start time.Time, cwd string) string {
	var b strings.Builder
	servers := []string{"github", "nixos", "memory"}
	for i := range n {
		ts := start.Add(time.Duration(i) * time.Hour).Format(time.RFC3339Nano)
		u := fmt.Sprintf(`"usage":{"input_tokens":%d,"output_tokens":%d,"cache_read_input_tokens":%d}`, 100+seed*7+i, 10+i, 1000*seed)
		id := fmt.Sprintf("msg_%d_%d", seed, i)
		fmt.Fprintf(&b, `{"type":"assistant","timestamp":%q,"cwd":%q,"message":{"id":%q,"content":[{"type":"text","text":"look"}],%s}}`+"\n", ts, cwd, id, u)
		fmt.Fprintf(&b, `{"type":"assistant","timestamp":%q,"cwd":%q,"message":{"id":%q,"content":[{"type":"tool_use","id":"t%d_%d","name":"mcp__%s__q","input":{}}],%s}}`+"\n",
			ts, cwd, id, seed, i, servers[(seed+i)%len(servers)], u)
		fmt.Fprintf(&b, `{"type":"user","timestamp":%q,"cwd":%q,"message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t%d_%d","content":"%s"}]}}`+"\n",
			ts, cwd, seed, i, strings.Repeat("r", 50+i%7))
	}
	b.WriteString(`{"type":"summary","summary":"no time"}` + "\n")
	b.WriteString(`{"type":"user","timestamp":"` + start.Format(time.RFC3339) + `","oops` + "\n")
	return b.String()
}

// scanBoth scans dir incrementally (records in state) and whole, and
// fails unless both give the same scan and the same report, byte for
// byte. It returns the incremental scan.
func scanBoth(t *testing.T, dir, state string, now time.Time, days int) *Scan {
	t.Helper()
	o := Options{Since: now.AddDate(0, 0, -days)}
	full, err := ScanDir(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	o.StateDir = state
	inc, err := ScanDir(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Errors) > 0 {
		t.Fatalf("errors: %v", inc.Errors)
	}
	fullRep := Report{Home: "/home/u", Days: days, Scan: full, Now: now}
	incRep := Report{Home: "/home/u", Days: days, Scan: inc, Now: now}
	if a, b := fullRep.Markdown(), incRep.Markdown(); !bytes.Equal(a, b) {
		t.Fatalf("incremental report differs from a full read:\n--- full\n%s\n--- incremental\n%s", a, b)
	}
	a, b := *full, *inc
	a.Read, b.Read = 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("incremental scan differs from a full read:\nfull        %+v\nincremental %+v", a, b)
	}
	return inc
}

func TestIncrementalScanEqualsAFullRead(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	root := t.TempDir()
	dir, state := filepath.Join(root, "projects"), filepath.Join(root, "state")
	logA := filepath.Join(dir, "-p-a", "a.jsonl")
	logB := filepath.Join(dir, "-p-b", "b.jsonl")
	logC := filepath.Join(dir, "-p-b", "c.jsonl")
	for _, p := range []string{logA, logB, logC} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	appendTo := func(p, s string) {
		t.Helper()
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// Spread over 40 days, so a 30-day window cuts through each log.
	start := now.AddDate(0, 0, -40)
	write(logA, sessionLines(1, 500, start, "/p/a"))
	write(logB, sessionLines(2, 300, start.Add(5*time.Hour), "/p/b"))
	write(logC, sessionLines(3, 200, start.Add(9*time.Hour), "/p/b"))

	first := scanBoth(t, dir, state, now, 30)
	if total := size(logA) + size(logB) + size(logC); first.Read != total {
		t.Errorf("first scan read %d bytes, want all %d", first.Read, total)
	}
	if again := scanBoth(t, dir, state, now, 30); again.Read != 0 {
		t.Errorf("a scan with nothing new read %d bytes", again.Read)
	}

	// Appended: only the new bytes are read, and a line still being
	// written (no newline) is counted now and read again once complete.
	more := sessionLines(4, 20, now.Add(-2*time.Hour), "/p/a")
	half := len(more) - 40
	appendTo(logA, more[:half])
	if s := scanBoth(t, dir, state, now, 30); s.Read != int64(half) {
		t.Errorf("after appending %d bytes the scan read %d", half, s.Read)
	}
	appendTo(logA, more[half:])
	scanBoth(t, dir, state, now, 30)

	// The window moving on needs no log read again.
	if s := scanBoth(t, dir, state, now.AddDate(0, 0, 3), 30); s.Read != 0 {
		t.Errorf("a later window read %d bytes", s.Read)
	}
	scanBoth(t, dir, state, now, 7)

	// Truncated, then grown again past its old size.
	write(logB, sessionLines(5, 10, now.AddDate(0, 0, -1), "/p/b"))
	scanBoth(t, dir, state, now, 30)
	write(logB, sessionLines(6, 400, now.AddDate(0, 0, -20), "/p/b"))
	scanBoth(t, dir, state, now, 30)

	// Replaced by another file of the same size: in place, and renamed over.
	old := size(logC)
	other := sessionLines(7, 200, start.Add(11*time.Hour), "/p/c")
	if int64(len(other)) != old {
		t.Fatalf("replacement is %d bytes, want %d", len(other), old)
	}
	f, err := os.OpenFile(logC, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(other), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if s := scanBoth(t, dir, state, now, 30); s.Read < old {
		t.Errorf("a log rewritten in place was not read again (%d bytes read)", s.Read)
	}
	tmp := filepath.Join(root, "c.tmp")
	write(tmp, sessionLines(8, 200, start.Add(11*time.Hour), "/p/c"))
	if err := os.Rename(tmp, logC); err != nil {
		t.Fatal(err)
	}
	if s := scanBoth(t, dir, state, now, 30); s.Read < old {
		t.Errorf("a log replaced by another was not read again (%d bytes read)", s.Read)
	}

	// Deleted: gone from the scan, and its record from the state.
	if err := os.Remove(logB); err != nil {
		t.Fatal(err)
	}
	scanBoth(t, dir, state, now, 30)
	if recs := storedRecords(t, state); recs[logB] != nil || recs[logA] == nil || len(recs) != 2 {
		t.Errorf("records kept after a log was deleted: %v", slices.Sorted(maps.Keys(recs)))
	}

	// A record file cut short in its last frame (a scan stopped while
	// appending to it) loses that frame only: the logs are read on from
	// what the frames before it kept.
	recFile := filepath.Join(state, RecordFile)
	b, err := os.ReadFile(recFile)
	if err != nil {
		t.Fatal(err)
	}
	write(recFile, string(b[:len(b)-1]))
	scanBoth(t, dir, state, now, 30)

	// A damaged record file is not trusted: every log is read again.
	write(recFile, string(b[:40]))
	if s := scanBoth(t, dir, state, now, 30); s.Read != size(logA)+size(logC) {
		t.Errorf("with the record file damaged, %d bytes of %d were read", s.Read, size(logA)+size(logC))
	}
}

func storedRecords(t *testing.T, state string) map[string]*logRecord {
	t.Helper()
	st, frames, err := logcursor.Open(context.Background(), state, RecordFile, LockFile)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if frames == nil {
		t.Fatal("no records kept")
	}
	recs, _, err := decodeStore(frames)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// A record survives encoding whole.
func TestRecordRoundTrip(t *testing.T) {
	rec := &logRecord{Path: "/x/y.jsonl", Cursor: cursor{Dev: 3, Ino: 99, Size: 1 << 40, Offset: 12345, Sample: [32]byte{1, 2, 3}}, decoded: true}
	rec.Stats.Lines, rec.Stats.Malformed, rec.Stats.TooLong = 10, 2, 1
	rec.add(lineRec{Sec: -62135596800, Nsec: 5, Count: 1, Cwd: "/p"})
	rec.add(lineRec{Sec: -62135596800, Nsec: 5, Count: 1, Cwd: "/p"}) // folded
	rec.add(lineRec{Sec: 253402300799, Nsec: 999999999, Count: 1, Msg: true, MsgID: "m", HasUsage: true,
		Usage: Usage{1, -2, 3, 1 << 50}, Calls: []call{{"t1", "github"}, {"", "nixos"}}})
	rec.add(lineRec{Sec: 1, Count: 1, Msg: true, Calls: []call{{"t2", "github"}}})
	// A message's lines apart, and folders coming back: message and
	// tool use ids are written as they come, folders and servers once.
	rec.add(lineRec{Sec: 2, Count: 1, Cwd: "/q", Msg: true, MsgID: "m2", HasUsage: true, Usage: Usage{Input: 7}})
	rec.add(lineRec{Sec: 3, Count: 1, Cwd: "/p", Msg: true, MsgID: "m", Calls: []call{{"t1", "github"}, {"t3", "memory"}}})
	rec.add(lineRec{Sec: 3, Count: 1, Cwd: "/p", Msg: true, MsgID: "m", Calls: []call{{"t3", "memory"}}})
	rec.add(lineRec{Sec: 4, Count: 1, Cwd: "/q"})
	if len(rec.Lines) != 7 || rec.Lines[0].Count != 2 || rec.First != (lineTime{-62135596800, 5}) {
		t.Fatalf("lines %+v first %+v", rec.Lines, rec.First)
	}
	rec.Sum = summarize(rec)
	if g := rec.Sum.Use["github"]; rec.Sum.Lines != 8 || rec.Sum.Servers["memory"] != 1 || rec.Sum.Project != "/p" || rec.Sum.Servers["github"] != 2 || g == nil || g.Usage.CacheWrite != (1<<50)/3 { // shared with nixos and memory
		t.Fatalf("summary %+v", rec.Sum)
	}
	// The lines are kept apart, in the store's lines file: here, after
	// seven other bytes.
	blob := rec.encoded()
	rec.segs, rec.blob, rec.kept = []segment{{7, int64(len(blob))}}, nil, len(rec.Lines)
	got, err := decodeRecord(rec.encode())
	if err != nil {
		t.Fatal(err)
	}
	got.src = bytes.NewReader(append([]byte("lines: "), blob...))
	if _, err := got.lines(); err != nil {
		t.Fatal(err)
	}
	got.src, rec.src = nil, nil
	if !reflect.DeepEqual(got, rec) {
		t.Fatalf("decoded %+v\nwant    %+v", got, rec)
	}
	b := rec.encode()
	for i := len(recordMagic); i < len(b); i++ {
		if _, err := decodeRecord(b[:i]); err == nil {
			t.Fatalf("a record cut at %d of %d bytes decoded", i, len(b))
		}
	}
}

// A log read whole is encoded and summed as it is read: the record is the
// one its lines, added one by one, make.
func TestRecordReadWholeEqualsLineByLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Two sessions' lines interleaved, plain lines of one time and
	// folder in a row, and a last line without its newline.
	content := sessionLines(1, 40, start, "/p/a") + sessionLines(2, 30, start, "/p/b") +
		strings.Repeat(`{"type":"user","timestamp":"2025-01-01T00:00:00Z","cwd":"/p/a"}`+"\n", 3) + `{"timestamp":"2025-01-02T00:00:00Z"`
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, tail, _, err := readRecord(context.Background(), nil, p, cursor{}, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := &logRecord{Path: p, Cursor: got.Cursor, decoded: true}
	if err := readLines(context.Background(), f, 0, got.Cursor.Offset, 0, &want.Stats, want.add); err != nil {
		t.Fatal(err)
	}
	want.Sum = summarize(want)
	if !bytes.Equal(got.encode(), want.encode()) {
		t.Fatal("the record of a log read whole differs from its lines added one by one")
	}
	if _, err := got.lines(); err != nil || !reflect.DeepEqual(got.Lines, want.Lines) || got.First != want.First {
		t.Fatalf("lines: %v", err)
	}
	if tail.Stats.Malformed != 1 || got.Stats != want.Stats {
		t.Fatalf("stats %+v, tail %+v", got.Stats, tail.Stats)
	}
}

// linesFiles returns the lines files of state and their sizes.
func linesFiles(t *testing.T, state string) map[string]int64 {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(state, linesPrefix+"*"+linesSuffix))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, n := range names {
		fi, err := os.Stat(n)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(n)] = fi.Size()
	}
	return out
}

// sessionLogs writes n session logs of 300 lines each, five days before
// now, in a projects folder, and returns it, a state folder beside it and
// the logs' paths.
func sessionLogs(t *testing.T, n int, now time.Time) (dir, state string, logs []string) {
	t.Helper()
	root := t.TempDir()
	dir, state = filepath.Join(root, "projects"), filepath.Join(root, "state")
	for i := range n {
		p := filepath.Join(dir, "-p", fmt.Sprintf("%d.jsonl", i))
		logs = append(logs, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(sessionLines(i, 300, now.AddDate(0, 0, -5), "/p")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, state, logs
}

// Records keep their lines in a lines file: a scan after an append writes
// that log's lines there and nothing else; the record file stays small;
// once the lines file is mostly lines no record refers to, it is written
// anew and the old one removed.
func TestLinesFileGrowsByWhatChangedAndIsRewrittenWhenMostlyStale(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	dir, state, logs := sessionLogs(t, 4, now)
	scanBoth(t, dir, state, now, 30)
	first := linesFiles(t, state)
	if len(first) != 1 {
		t.Fatalf("lines files %v", first)
	}
	recFile, err := os.Stat(filepath.Join(state, RecordFile))
	if err != nil {
		t.Fatal(err)
	}
	var name string
	var size int64
	for name, size = range first {
	}
	if recFile.Size() > size/4 {
		t.Errorf("the record file (%d bytes) is not small beside the lines (%d)", recFile.Size(), size)
	}

	// One log grows: its lines are written again, the others' not.
	f, err := os.OpenFile(logs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(sessionLines(9, 5, now.Add(-time.Hour), "/p"))
	f.Close()
	scanBoth(t, dir, state, now, 30)
	grown := linesFiles(t, state)[name] - size
	if grown <= 0 || grown > size/3 {
		t.Errorf("after one log of four grew, the lines file grew by %d bytes of %d", grown, size)
	}

	// Mostly stale: written anew, the old file removed, the counts the same.
	lf, err := os.OpenFile(filepath.Join(state, name), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	lf.Write(make([]byte, 2*linesSlack))
	lf.Close()
	f, _ = os.OpenFile(logs[1], os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(sessionLines(10, 5, now.Add(-time.Hour), "/p"))
	f.Close()
	scanBoth(t, dir, state, now, 30)
	after := linesFiles(t, state)
	if _, old := after[name]; old || len(after) != 1 {
		t.Fatalf("lines files after a rewrite: %v (was %s)", after, name)
	}
	for _, n := range after {
		if n >= linesSlack {
			t.Errorf("the rewritten lines file holds %d bytes", n)
		}
	}
	scanBoth(t, dir, state, now.AddDate(0, 0, 26), 30) // the window cuts the logs: lines read back
}

// A log appended to, scan after scan, adds a segment of its new lines to
// the lines file, never its old lines again, and a frame of its record
// to the record file, never every record again; past maxSegs segments
// its lines are written again as one. Every scan equals a full read.
func TestAnAppendWritesOnlyTheNewLines(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	dir, state, logs := sessionLogs(t, 3, now)
	scanBoth(t, dir, state, now, 30)
	linesSize := func() (n int64) {
		for _, size := range linesFiles(t, state) {
			n += size
		}
		return n
	}
	whole := storedRecords(t, state)[logs[0]].segs[0].Len
	appended := false
	for i := 1; i <= maxSegs+3; i++ {
		before := linesSize()
		f, err := os.OpenFile(logs[0], os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		// A message whose lines are apart, across two scans; plain lines
		// alike at the end of one scan's lines and the start of the
		// next (those of a segment are not folded into).
		plain := `{"type":"user","timestamp":"2025-03-01T11:30:00Z","cwd":"/p"}` + "\n"
		f.WriteString(plain + sessionLines(10+i, 2, now.Add(-time.Duration(i)*time.Minute), "/p") +
			`{"type":"assistant","timestamp":"2025-03-01T11:00:00Z","message":{"id":"msg_` + fmt.Sprint(9+i) + `_1","content":[{"type":"tool_use","id":"x","name":"mcp__late__q"}],"usage":{"input_tokens":5}}}` + "\n" + plain)
		f.Close()
		scanBoth(t, dir, state, now, 30)
		scanBoth(t, dir, state, now.AddDate(0, 0, 25), 30) // the window cuts the log: its lines read back
		rec := storedRecords(t, state)[logs[0]]
		if want := i%maxSegs + 1; len(rec.segs) != want {
			t.Fatalf("after %d appends: %d segments, want %d", i, len(rec.segs), want)
		}
		if grown := linesSize() - before; i%maxSegs != 0 && grown > whole/10 {
			t.Errorf("append %d: the lines file grew by %d bytes, the log's lines are %d", i, grown, whole)
		}
		st, frames, err := logcursor.Open(context.Background(), state, RecordFile, LockFile)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		appended = appended || len(frames) > 1
	}
	if !appended {
		t.Error("the record file was written whole after every scan")
	}
}
