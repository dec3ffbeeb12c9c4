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
		// Room for the new lines at once, not the old ones copied as
		// they come: a session log's line is rarely shorter than this.
		rec.Lines = slices.Grow(rec.Lines, int(min((end-old.Offset)/minSessionLine, 1<<20)))
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

// minSessionLine is a short session log line, in bytes.
const minSessionLine = 256

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
	c.Lines, c.segs = slices.Clip(rec.Lines), slices.Clip(rec.segs)
	return &c
}

// store is the records kept in the state directory: a record file
// (RecordFile) holding each log's cursor, counts and summary, read whole
// at the start of a scan, to which its end appends the records that
// changed (a logcursor journal, written whole again once what was
// appended outweighs half of it), and a lines file
// (claude-sessions.<n>.lines) the records' lines are appended to, where
// each record finds its own, in a segment per scan that added some. The
// record file stays small, the lines are read only for a log the window
// cuts through or that grew, and only a log's new lines are written: a
// scan after a few appends writes kilobytes, not the lines of every log
// nor every record. When most of the lines file is lines no record
// refers to any more, it is written anew.
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
	// journal: the record file holds the records as they were read, so
	// the records put since (put) and those forgotten (gone) can be
	// appended to it rather than every record written again. frames
	// and journalBytes are what it holds past its whole state, of
	// baseBytes.
	journal                 bool
	put                     map[string]bool
	gone                    map[string]bool
	frames                  int
	baseBytes, journalBytes int
}

// openStore opens the records of stateDir ("": nil, no records), waiting
// for ctx to take the lock. Records that cannot be read are none: every
// log is read again.
func openStore(ctx context.Context, stateDir string) (*store, error) {
	if stateDir == "" {
		return nil, nil
	}
	file, frames, err := logcursor.Open(ctx, stateDir, RecordFile, LockFile)
	if err != nil {
		return nil, fmt.Errorf("session records: %w", err)
	}
	st := &store{file: file, recs: map[string]*logRecord{}, put: map[string]bool{}, gone: map[string]bool{}}
	if frames == nil {
		return st, nil
	}
	recs, linesName, err := decodeStore(frames)
	if err != nil || !isLinesFile(linesName) {
		return st, nil
	}
	st.journal, st.frames, st.baseBytes = true, len(frames), len(frames[0])
	for _, f := range frames[1:] {
		st.journalBytes += len(f)
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

// keep keeps rec as the record of path; nil forgets it.
func (st *store) keep(path string, rec *logRecord) {
	if st == nil {
		return
	}
	old, had := st.recs[path]
	switch {
	case rec == nil && had:
		st.forget(path)
	case rec != nil && (!had || old.Cursor != rec.Cursor):
		st.recs[path] = rec
		st.changed, st.put[path] = true, true
		delete(st.gone, path)
	}
}

// forget drops the record of path.
func (st *store) forget(path string) {
	delete(st.recs, path)
	delete(st.put, path)
	st.changed, st.gone[path] = true, true
}

// prune forgets the records of logs not in logs (deleted, or moved away).
func (st *store) prune(logs []string) {
	keep := make(map[string]bool, len(logs))
	for _, p := range logs {
		keep[p] = true
	}
	for p := range st.recs {
		if !keep[p] {
			st.forget(p)
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
		fresh += int64(len(rec.encoded()))
		for _, sg := range rec.segs {
			live += sg.Len
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
	if st.journal && old == st.linesName && st.frames < maxFrames && 2*st.journalBytes < st.baseBytes {
		delta := st.encodeDelta()
		if err := st.file.Append(delta); err != nil {
			return err
		}
		st.frames, st.journalBytes = st.frames+1, st.journalBytes+len(delta)
	} else {
		whole := st.encode(paths)
		if err := st.file.Replace(whole); err != nil {
			return err
		}
		st.journal, st.frames, st.baseBytes, st.journalBytes = true, 1, len(whole), 0
	}
	clear(st.put)
	clear(st.gone)
	st.changed = false
	if old != st.linesName {
		st.removeOtherLinesFiles()
	}
	return nil
}

// Journal limits: past this many frames, or past half the bytes of the
// whole record file they follow, the records are written whole again.
const maxFrames = 256

// encode writes every record: the whole state of the record file.
func (st *store) encode(paths []string) []byte {
	out := append([]byte(storeMagic), logcursor.AppendString(nil, st.linesName)...)
	out = binary.AppendUvarint(out, uint64(len(paths)))
	for _, p := range paths {
		b := st.recs[p].encode()
		out = append(binary.AppendUvarint(out, uint64(len(b))), b...)
	}
	return out
}

// storeDelta starts a frame of the records a scan changed after the
// record file's last frame: the lines file they are in, the records put,
// the paths forgotten.
const storeDelta = "session records delta 1\n"

// encodeDelta writes the records put and forgotten since the record file
// was read.
func (st *store) encodeDelta() []byte {
	out := append([]byte(storeDelta), logcursor.AppendString(nil, st.linesName)...)
	put := slices.Sorted(maps.Keys(st.put))
	out = binary.AppendUvarint(out, uint64(len(put)))
	for _, p := range put {
		b := st.recs[p].encode()
		out = append(binary.AppendUvarint(out, uint64(len(b))), b...)
	}
	gone := slices.Sorted(maps.Keys(st.gone))
	out = binary.AppendUvarint(out, uint64(len(gone)))
	for _, p := range gone {
		out = logcursor.AppendString(out, p)
	}
	return out
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
		rec.segs = slices.Clone(rec.segs) // the kept record's, maybe
		for i, sg := range rec.segs {
			if _, err := io.Copy(w, io.NewSectionReader(rec.src, sg.Off, sg.Len)); err != nil {
				f.Close()
				_ = dir.Remove(name)
				return fmt.Errorf("keeping the session records: %w", err)
			}
			rec.segs[i].Off = end
			end += sg.Len
		}
		if len(rec.segs) > 0 {
			rec.src = f
		}
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
		rec.segs = append(rec.segs, segment{end, int64(len(b))})
		rec.src, rec.blob, rec.kept = st.lines, nil, len(rec.Lines)
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

// decodeStore reads the record file's frames: the name of the lines
// file, then each record prefixed with its length; then what each
// encodeDelta after it changed.
func decodeStore(frames [][]byte) (map[string]*logRecord, string, error) {
	b := frames[0]
	if len(b) < len(storeMagic) || string(b[:len(storeMagic)]) != storeMagic {
		return nil, "", errRecord
	}
	d := &decoder{B: b[len(storeMagic):]}
	linesName := d.Str()
	recs := map[string]*logRecord{}
	if !decodeRecords(d, recs) || d.Done() != nil {
		return nil, "", errRecord
	}
	for _, b := range frames[1:] {
		if len(b) < len(storeDelta) || string(b[:len(storeDelta)]) != storeDelta {
			return nil, "", errRecord
		}
		d := &decoder{B: b[len(storeDelta):]}
		if d.Str() != linesName || !decodeRecords(d, recs) {
			return nil, "", errRecord
		}
		for n := d.Count(); n > 0 && d.Err == nil; n-- {
			delete(recs, d.Str())
		}
		if d.Done() != nil {
			return nil, "", errRecord
		}
	}
	return recs, linesName, nil
}

// decodeRecords reads a count, then that many records each prefixed with
// its length, into recs.
func decodeRecords(d *decoder, recs map[string]*logRecord) bool {
	for n := d.Count(); n > 0; n-- {
		rec, err := decodeRecord(d.Bytes(d.Uvarint()))
		if err != nil || d.Err != nil {
			return false
		}
		recs[rec.Path] = rec
	}
	return d.Err == nil
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
