package mcpusage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
)

// RecordFile is the file of the state directory that holds a record of
// each session log (see readRecord), and LockFile the lock taken while it
// is read and replaced.
const (
	RecordFile = "claude-sessions.rec"
	LockFile   = "claude-sessions.lock"
)

// sampleSize is how many bytes at each end of the part read are hashed to
// tell the same file grown from another one of at least that size.
const sampleSize = 4 << 10

// readRecord returns the record of the complete lines of the log at path
// and the bytes it read for it, and apart from it the record of a last
// line still being written (no newline yet), which is counted in this
// scan but read again by the next.
//
// The record kept (from the last scan; nil: none) is taken as it is when
// its cursor still holds (same device and inode, no shorter, the sampled
// bytes unchanged) and only the bytes after its offset are read. A log
// truncated or replaced is read from its start.
func readRecord(ctx context.Context, kept *logRecord, path string, o Options) (rec, tail *logRecord, read int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	cur := cursor{Size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		cur.Dev, cur.Ino = uint64(st.Dev), uint64(st.Ino)
	}
	if kept != nil && kept.holds(f, cur) {
		rec = kept.clone()
	} else {
		rec = &logRecord{Path: path, decoded: true}
	}
	old := rec.Cursor
	end, err := lineEnd(f, old.Offset, cur.Size)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if end > old.Offset {
		if _, err := rec.lines(); err != nil {
			return readRecord(ctx, nil, path, o) // a damaged record: read the log again
		}
		if err := readLines(ctx, f, old.Offset, end, o.MaxLine, rec); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		rec.Sum = summarize(rec)
	}
	tail = &logRecord{decoded: true}
	if cur.Size > end {
		if err := readLines(ctx, f, end, cur.Size, o.MaxLine, tail); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
		}
	}
	cur.Offset, cur.Sample = end, old.Sample
	if end != old.Offset || old.Offset == 0 { // else holds just hashed the same bytes
		if cur.Sample, err = sample(f, end); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
		}
	}
	rec.Cursor = cur
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
	dir     *safefile.Dir
	lock    *os.File
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
	dir, err := safefile.OpenDirAll(stateDir, 0o755)
	if err != nil {
		return nil, fmt.Errorf("session records in %s: %w", stateDir, err)
	}
	lock, err := lockFile(ctx, dir)
	if err != nil {
		dir.Close()
		return nil, err
	}
	st := &store{dir: dir, lock: lock, recs: map[string]*logRecord{}}
	if f, err := dir.OpenFile(RecordFile, os.O_RDONLY, 0); err == nil {
		var b []byte
		if fi, err := f.Stat(); err == nil {
			b = make([]byte, 0, fi.Size()+1) // read in one go, not grown
		}
		b, err = readAll(f, b)
		f.Close()
		if err == nil {
			if recs, err := decodeStore(b); err == nil {
				st.recs = recs
			}
		}
	}
	return st, nil
}

// readAll is io.ReadAll into b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func (st *store) close() {
	if st != nil {
		st.lock.Close() // releases the lock
		st.dir.Close()
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
	tmp := "." + RecordFile + ".tmp"
	f, err := st.dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		_, err = f.Write(out)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = st.dir.Rename(tmp, RecordFile)
	}
	if err != nil {
		_ = st.dir.Remove(tmp)
		return fmt.Errorf("keeping the session records in %s: %w", st.dir.Path(), err)
	}
	st.changed = false
	return nil
}

// storeMagic starts the record file; a file without it is no records.
const storeMagic = "rebuild session records 1\n"

// decodeStore reads the record file: each record prefixed with its length.
func decodeStore(b []byte) (map[string]*logRecord, error) {
	if len(b) < len(storeMagic) || string(b[:len(storeMagic)]) != storeMagic {
		return nil, errRecord
	}
	d := &decoder{b: b[len(storeMagic):]}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return nil, errRecord
	}
	recs := make(map[string]*logRecord, n)
	for range n {
		rec, err := decodeRecord(d.bytes(d.uvarint()))
		if err != nil || d.err != nil {
			return nil, errRecord
		}
		recs[rec.Path] = rec
	}
	if len(d.b) != 0 {
		return nil, errRecord
	}
	return recs, nil
}

// holds reports whether f is still the file rec was read from, grown or
// not: same device and inode, no shorter than the part read, and the
// bytes sampled from that part unchanged.
func (rec *logRecord) holds(f *os.File, cur cursor) bool {
	c := rec.Cursor
	if c.Dev != cur.Dev || c.Ino != cur.Ino || cur.Size < c.Offset {
		return false
	}
	s, err := sample(f, c.Offset)
	return err == nil && s == c.Sample
}

// sample hashes the first and the last sampleSize bytes before off, and off.
func sample(f *os.File, off int64) ([32]byte, error) {
	h := sha256.New()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(off))
	h.Write(n[:])
	buf := make([]byte, sampleSize)
	head := buf[:min(int64(sampleSize), off)]
	if _, err := f.ReadAt(head, 0); err != nil {
		return [32]byte{}, err
	}
	h.Write(head)
	if off > sampleSize {
		last := buf[:min(int64(sampleSize), off-sampleSize)]
		if _, err := f.ReadAt(last, off-int64(len(last))); err != nil {
			return [32]byte{}, err
		}
		h.Write(last)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// lineEnd returns the offset just after the last newline in [from, to),
// or from when there is none.
func lineEnd(f *os.File, from, to int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for pos := to; pos > from; {
		n := min(int64(len(buf)), pos-from)
		pos -= n
		b := buf[:n]
		if _, err := f.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
	}
	return from, nil
}

// readLines reads the lines of f in [from, to) into rec: each line is
// parsed (parseLine), those that cannot be placed in time are dropped,
// the others kept reduced to what the scan counts.
func readLines(ctx context.Context, f *os.File, from, to int64, maxLine int, rec *logRecord) error {
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
		rec.add(lineOf(&pl, ts, &lastCwd))
	}
	rec.Stats = rec.Stats.Add(sc.Stats())
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

// lockFile takes the records' lock in dir, waiting for ctx.
func lockFile(ctx context.Context, dir *safefile.Dir) (*os.File, error) {
	f, err := dir.OpenFile(LockFile, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("session records in %s: %w", dir.Path(), err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", dir.Path()+"/"+LockFile, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
