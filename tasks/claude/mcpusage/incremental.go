package mcpusage

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonscan"
	"github.com/rebuild-nixos/rebuild/tasks/claude/logcursor"
)

// RecordFile is the file of the state directory that holds a record of
// each session log (see readRecord), and LockFile the lock taken while it
// is read and replaced.
const (
	RecordFile = "claude-sessions.rec"
	LockFile   = "claude-sessions.lock"
)

// readRecord returns the record of the complete lines of the log at path
// and the bytes it read for it, and apart from it the record of a last
// line still being written (no newline yet), which is counted in this
// scan but read again by the next.
//
// The record kept (from the last scan; nil: none) is taken as it is when
// its cursor still holds (same device and inode, no shorter, the sampled
// bytes unchanged) and only the bytes after its offset are read. A log
// truncated or replaced is read from its start. When stat, the log as
// the listing saw it, shows it unchanged since (logcursor.Unchanged) and
// whole, it is not even opened. now is the time the scan began, by the
// file system's clock (0: unknown).
func readRecord(ctx context.Context, kept *logRecord, path string, stat cursor, now int64, o Options) (rec, tail *logRecord, read int64, err error) {
	if kept != nil && kept.Cursor.Unchanged(stat) && kept.Cursor.Offset == stat.Size {
		return kept.clone(), &logRecord{decoded: true}, 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	defer f.Close()
	cur, _, err := logcursor.Stat(f)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	fresh := kept == nil || !kept.Cursor.Holds(f, cur)
	if fresh {
		rec = &logRecord{Path: path, decoded: true, dirty: true}
	} else {
		rec = kept.clone()
	}
	old := rec.Cursor
	end, err := logcursor.LineEnd(f, old.Offset, cur.Size)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case end > old.Offset && fresh:
		if err := rec.readWhole(ctx, f, end, o.MaxLine); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
		}
	case end > old.Offset:
		if _, err := rec.lines(); err != nil {
			return readRecord(ctx, nil, path, stat, now, o) // a damaged record: read the log again
		}
		if err := readLines(ctx, f, old.Offset, end, o.MaxLine, &rec.Stats, rec.add); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		rec.Sum = summarize(rec)
	}
	tail = &logRecord{decoded: true}
	if cur.Size > end {
		if err := readLines(ctx, f, end, cur.Size, o.MaxLine, &tail.Stats, tail.add); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
		}
	}
	if rec.Cursor, err = old.Advance(f, cur, end, now); err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return rec, tail, cur.Size - old.Offset, nil
}

// readWhole reads the lines of f before end into rec, a record of no
// lines: they go straight into its encoding and its summary, never held
// one by one.
func (rec *logRecord) readWhole(ctx context.Context, f *os.File, end int64, maxLine int) error {
	var e lineEncoder
	e.reserve(end)
	sum := newLogScan(rec.Path, time.Time{})
	sum.all = true
	err := readLines(ctx, f, 0, end, maxLine, &rec.Stats, func(l lineRec) {
		e.add(l)
		sum.replay(&l)
	})
	if err != nil {
		return err
	}
	rec.First, rec.Sum = e.first, sum.summary()
	rec.Lines, rec.blob, rec.decoded, rec.dirty = nil, e.bytes(), false, false
	return nil
}

// clone copies the record, so that the one kept stays as it was (a
// record is only ever added to).
func (rec *logRecord) clone() *logRecord {
	c := *rec
	c.Lines = slices.Clip(rec.Lines)
	return &c
}

// store is the records kept in the state directory: a record file
// (RecordFile) holding each log's cursor, counts and summary, read whole
// at the start of a scan and replaced whole (through a temporary file)
// at its end when one changed, and a lines file (claude-sessions.<n>.lines)
// the records' lines are appended to, where each record finds its own.
// The record file stays small, the lines are read only for a log the
// window cuts through or that grew, and only a log's new lines are
// written: a scan after a few appends reads and writes kilobytes, not
// the lines of every log. When most of the lines file is lines no
// record refers to any more, it is written anew.
//
// Two files, not one per log, because creating hundreds of small files
// cost a first scan more than the rest of its writing. The lock is held
// from open to close, so two scans of one run (mcp-analytics and
// learn-mcp) do not both read the same new bytes: the second finds the
// records the first kept. A nil store keeps nothing.
type store struct {
	file    *logcursor.Store
	recs    map[string]*logRecord
	changed bool
	// lines is the lines file (nil: none yet), of size linesEnd, named
	// linesName.
	lines     *os.File
	linesName string
	linesEnd  int64
}

// openStore opens the records of stateDir ("": nil, no records), waiting
// for ctx to take the lock. Records that cannot be read are none: every
// log is read again.
func openStore(ctx context.Context, stateDir string) (*store, error) {
	if stateDir == "" {
		return nil, nil
	}
	file, b, err := logcursor.Open(ctx, stateDir, RecordFile, LockFile)
	if err != nil {
		return nil, fmt.Errorf("session records: %w", err)
	}
	st := &store{file: file, recs: map[string]*logRecord{}}
	if b == nil {
		return st, nil
	}
	recs, linesName, err := decodeStore(b)
	if err != nil || !isLinesFile(linesName) {
		return st, nil
	}
	lines, err := file.Dir().OpenFile(linesName, os.O_RDWR, 0)
	if err != nil {
		return st, nil
	}
	fi, err := lines.Stat()
	if err != nil {
		lines.Close()
		return st, nil
	}
	st.recs, st.lines, st.linesName, st.linesEnd = recs, lines, linesName, fi.Size()
	for _, rec := range recs {
		rec.src = lines
	}
	return st, nil
}

// linesPrefix and linesSuffix frame the name of a lines file, a number
// between them.
const (
	linesPrefix = "claude-sessions."
	linesSuffix = ".lines"
)

func isLinesFile(name string) bool {
	n, ok := strings.CutPrefix(name, linesPrefix)
	if !ok {
		return false
	}
	n, ok = strings.CutSuffix(n, linesSuffix)
	_, err := strconv.ParseUint(n, 10, 64)
	return ok && err == nil
}

// now is the time the scan began, by the file system's clock (0: unknown).
func (st *store) now() int64 {
	if st == nil {
		return 0
	}
	return st.file.Now
}

func (st *store) close() {
	if st != nil {
		if st.lines != nil {
			st.lines.Close()
		}
		st.file.Close()
	}
}

func (st *store) get(path string) *logRecord {
	if st == nil {
		return nil
	}
	return st.recs[path]
}

// put keeps rec as the record of path; nil forgets it.
func (st *store) put(path string, rec *logRecord) {
	if st == nil {
		return
	}
	old, had := st.recs[path]
	switch {
	case rec == nil && had:
		delete(st.recs, path)
		st.changed = true
	case rec != nil && (!had || old.Cursor != rec.Cursor):
		st.recs[path] = rec
		st.changed = true
	}
}

// prune forgets the records of logs not in logs (deleted, or moved away).
func (st *store) prune(logs []string) {
	keep := make(map[string]bool, len(logs))
	for _, p := range logs {
		keep[p] = true
	}
	for p := range st.recs {
		if !keep[p] {
			delete(st.recs, p)
			st.changed = true
		}
	}
}

// save writes the lines no file holds yet to the lines file (a new one
// when there is none, or when it is mostly lines no record refers to),
// then replaces the record file when a record changed. One that cannot
// be kept costs the next scan a full read, never a wrong count.
func (st *store) save() error {
	if st == nil || !st.changed {
		return nil
	}
	paths := slices.Sorted(maps.Keys(st.recs))
	var live, fresh int64 // bytes of lines kept in the lines file, and to add
	for _, p := range paths {
		rec := st.recs[p]
		if b := rec.encoded(); b != nil {
			fresh += int64(len(b))
		} else {
			live += rec.seg.Len
		}
	}
	old := st.linesName
	if st.lines == nil || st.linesEnd > 2*(live+fresh)+linesSlack {
		if err := st.newLinesFile(paths); err != nil {
			return err
		}
	}
	if err := st.appendLines(paths); err != nil {
		return err
	}
	out := append([]byte(storeMagic), logcursor.AppendString(nil, st.linesName)...)
	out = binary.AppendUvarint(out, uint64(len(paths)))
	for _, p := range paths {
		b := st.recs[p].encode()
		out = append(binary.AppendUvarint(out, uint64(len(b))), b...)
	}
	if err := st.file.Replace(out); err != nil {
		return err
	}
	st.changed = false
	if old != st.linesName {
		st.removeOtherLinesFiles()
	}
	return nil
}

// linesSlack is how many bytes of lines no record refers to a lines file
// may hold beyond as many as it holds live before it is written anew.
const linesSlack = 4 << 20

// newLinesFile starts a lines file of the next number and copies into it
// the lines the records keep in the old one.
func (st *store) newLinesFile(paths []string) error {
	dir := st.file.Dir()
	next := uint64(1)
	if names, err := dir.Names(); err == nil {
		for _, name := range names {
			if isLinesFile(name) {
				n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, linesPrefix), linesSuffix), 10, 64)
				next = max(next, n+1)
			}
		}
	}
	name := linesPrefix + strconv.FormatUint(next, 10) + linesSuffix
	f, err := dir.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("keeping the session records: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var end int64
	for _, p := range paths {
		rec := st.recs[p]
		if rec.blob != nil {
			continue // written by appendLines
		}
		if _, err := io.Copy(w, io.NewSectionReader(rec.src, rec.seg.Off, rec.seg.Len)); err != nil {
			f.Close()
			_ = dir.Remove(name)
			return fmt.Errorf("keeping the session records: %w", err)
		}
		rec.seg.Off, rec.src = end, f
		end += rec.seg.Len
	}
	if err := w.Flush(); err != nil {
		f.Close()
		_ = dir.Remove(name)
		return fmt.Errorf("keeping the session records: %w", err)
	}
	if st.lines != nil {
		st.lines.Close()
	}
	st.lines, st.linesName, st.linesEnd = f, name, end
	return nil
}

// appendLines writes the records' lines not in the lines file yet at its
// end.
func (st *store) appendLines(paths []string) error {
	w := bufio.NewWriterSize(io.NewOffsetWriter(st.lines, st.linesEnd), 1<<20)
	end := st.linesEnd
	for _, p := range paths {
		rec := st.recs[p]
		b := rec.encoded()
		if b == nil {
			continue
		}
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("keeping the session records in %s: %w", st.linesName, err)
		}
		rec.seg, rec.src, rec.blob = segment{end, int64(len(b))}, st.lines, nil
		end += int64(len(b))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("keeping the session records in %s: %w", st.linesName, err)
	}
	st.linesEnd = end
	return nil
}

// removeOtherLinesFiles removes the lines files the record file does not
// name: replaced, or left by a scan that stopped half-way.
func (st *store) removeOtherLinesFiles() {
	names, err := st.file.Dir().Names()
	if err != nil {
		return
	}
	for _, name := range names {
		if isLinesFile(name) && name != st.linesName {
			_ = st.file.Dir().Remove(name)
		}
	}
}

// storeMagic starts the record file; a file without it is no records.
const storeMagic = "rebuild session records 3\n"

// decodeStore reads the record file: the name of the lines file, then
// each record prefixed with its length.
func decodeStore(b []byte) (map[string]*logRecord, string, error) {
	if len(b) < len(storeMagic) || string(b[:len(storeMagic)]) != storeMagic {
		return nil, "", errRecord
	}
	d := &decoder{B: b[len(storeMagic):]}
	linesName := d.Str()
	n := d.Count()
	recs := make(map[string]*logRecord, n)
	for range n {
		rec, err := decodeRecord(d.Bytes(d.Uvarint()))
		if err != nil || d.Err != nil {
			return nil, "", errRecord
		}
		recs[rec.Path] = rec
	}
	if d.Done() != nil {
		return nil, "", errRecord
	}
	return recs, linesName, nil
}

// readLines reads the lines of f in [from, to) into add: each line is
// parsed (parseLine), those that cannot be placed in time are dropped,
// the others reduced to what the scan counts. What it counted is added
// to stats.
func readLines(ctx context.Context, f *os.File, from, to int64, maxLine int, stats *jsonl.Stats, add func(lineRec)) error {
	sc := scanners.Get().(*jsonl.Scanner)
	defer scanners.Put(sc)
	sc.Reset(io.NewSectionReader(f, from, to-from), maxLine)
	var pl parsedLine
	var lastCwd string // a log's lines mostly share their folder: kept once
	n := 0
	for sc.Scan() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if parseLine(sc.Bytes(), &pl) != nil {
			sc.Malformed()
			continue
		}
		if len(pl.Timestamp) == 0 {
			continue // summaries and snapshots carry no time
		}
		ts, ok := jsonscan.Time(pl.Timestamp)
		if !ok {
			var err error
			if ts, err = time.Parse(time.RFC3339Nano, string(pl.Timestamp)); err != nil {
				sc.Malformed()
				continue
			}
		}
		add(lineOf(&pl, ts, &lastCwd))
	}
	*stats = stats.Add(sc.Stats())
	return sc.Err()
}

// scanners lends readLines a Scanner, and with it a read buffer: a scan
// reads hundreds of logs, and a buffer each cost a first scan a third of
// what it allocated.
var scanners = sync.Pool{New: func() any { return new(jsonl.Scanner) }}

// lineOf reduces a parsed line to what the scan counts: a message line is
// kept as one only when it has usage or calls an MCP server.
func lineOf(pl *parsedLine, ts time.Time, lastCwd *string) lineRec {
	if string(pl.Cwd) != *lastCwd {
		*lastCwd = string(pl.Cwd)
	}
	l := lineRec{Sec: ts.Unix(), Nsec: int32(ts.Nanosecond()), Count: 1, Cwd: *lastCwd}
	if !pl.HasMessage {
		return l
	}
	for _, it := range pl.Content {
		if string(it.Type) != "tool_use" {
			continue
		}
		if server, ok := serverOf(it.Name); ok {
			l.Calls = append(l.Calls, call{ToolID: string(it.ID), Server: string(server)})
		}
	}
	if pl.HasUsage || len(l.Calls) > 0 {
		l.Msg, l.MsgID, l.HasUsage, l.Usage = true, string(pl.ID), pl.HasUsage, pl.Usage
	}
	return l
}
