package mcpusage

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
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
		rec = &logRecord{Path: path, decoded: true}
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
		// Read whole: the lines go straight into the record's encoding
		// and its summary, never held one by one.
		var e lineEncoder
		sum := newLogScan(path, time.Time{})
		sum.all = true
		err := readLines(ctx, f, 0, end, o.MaxLine, &rec.Stats, func(l lineRec) {
			e.add(l)
			sum.replay(&l)
		})
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		rec.First, rec.Sum = e.first, sum.summary()
		rec.Lines, rec.raw, rec.decoded = nil, e.bytes(), false
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

// clone copies the record, so that the one kept stays as it was (a
// record is only ever added to).
func (rec *logRecord) clone() *logRecord {
	c := *rec
	c.Lines = slices.Clip(rec.Lines)
	return &c
}

// store is the records kept in the state directory, read whole at the
// start of a scan and replaced whole (through a temporary file) at its end
// when one changed: one file, not one per log, because creating hundreds
// of small files cost a first scan more than the rest of its writing.
// The lock is held from open to close, so two scans of one run
// (mcp-analytics and learn-mcp) do not both read the same new bytes: the
// second finds the records the first kept. A nil store keeps nothing.
type store struct {
	file    *logcursor.Store
	recs    map[string]*logRecord
	changed bool
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
	if b != nil {
		if recs, err := decodeStore(b); err == nil {
			st.recs = recs
		}
	}
	return st, nil
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

// save replaces the record file when a record changed. One that cannot be
// kept costs the next scan a full read, never a wrong count.
func (st *store) save() error {
	if st == nil || !st.changed {
		return nil
	}
	paths := slices.Sorted(maps.Keys(st.recs))
	encoded := make([][]byte, len(paths))
	size := len(storeMagic) + binary.MaxVarintLen64
	for i, p := range paths {
		encoded[i] = st.recs[p].encode()
		size += binary.MaxVarintLen64 + len(encoded[i])
	}
	out := append(make([]byte, 0, size), storeMagic...)
	out = binary.AppendUvarint(out, uint64(len(paths)))
	for _, b := range encoded {
		out = append(binary.AppendUvarint(out, uint64(len(b))), b...)
	}
	if err := st.file.Replace(out); err != nil {
		return err
	}
	st.changed = false
	return nil
}

// storeMagic starts the record file; a file without it is no records.
const storeMagic = "rebuild session records 2\n"

// decodeStore reads the record file: each record prefixed with its length.
func decodeStore(b []byte) (map[string]*logRecord, error) {
	if len(b) < len(storeMagic) || string(b[:len(storeMagic)]) != storeMagic {
		return nil, errRecord
	}
	d := &decoder{B: b[len(storeMagic):]}
	n := d.Count()
	recs := make(map[string]*logRecord, n)
	for range n {
		rec, err := decodeRecord(d.Bytes(d.Uvarint()))
		if err != nil || d.Err != nil {
			return nil, errRecord
		}
		recs[rec.Path] = rec
	}
	if d.Done() != nil {
		return nil, errRecord
	}
	return recs, nil
}

// readLines reads the lines of f in [from, to) into add: each line is
// parsed (parseLine), those that cannot be placed in time are dropped,
// the others reduced to what the scan counts. What it counted is added
// to stats.
func readLines(ctx context.Context, f *os.File, from, to int64, maxLine int, stats *jsonl.Stats, add func(lineRec)) error {
	sc := jsonl.NewScanner(io.NewSectionReader(f, from, to-from), maxLine)
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
		ts, err := time.Parse(time.RFC3339Nano, string(pl.Timestamp))
		if err != nil {
			sc.Malformed()
			continue
		}
		add(lineOf(&pl, ts, &lastCwd))
	}
	*stats = stats.Add(sc.Stats())
	return sc.Err()
}

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
		if it.Type != "tool_use" {
			continue
		}
		if server, ok := ServerOf(it.Name); ok {
			l.Calls = append(l.Calls, call{ToolID: it.ID, Server: server})
		}
	}
	if pl.HasUsage || len(l.Calls) > 0 {
		l.Msg, l.MsgID, l.HasUsage, l.Usage = true, string(pl.ID), pl.HasUsage, pl.Usage
	}
	return l
}
