package mcpusage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
)

// RecordDir is the folder of the state directory that holds one record
// per session log (see readRecord).
const RecordDir = "claude-sessions"

// sampleSize is how many bytes at each end of the part read are hashed to
// tell the same file grown from another one of at least that size.
const sampleSize = 4 << 10

// readRecord returns the record of the complete lines of the log at path
// and the bytes it read for it, and apart from it the record of a last line still being written (no
// newline yet), which is counted in this scan but read again by the next.
//
// With o.StateDir set, the record kept there by the last scan is taken as
// it is when its cursor still holds (same device and inode, no shorter,
// the sampled bytes unchanged) and only the bytes after its offset are
// read; the new record is kept for the next scan. A log truncated or
// replaced is read from its start. A record that cannot be kept costs the
// next scan a full read, never a wrong count.
func readRecord(ctx context.Context, dir *safefile.Dir, path string, o Options, fresh bool) (rec, tail *logRecord, read int64, err error) {
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
	if dir != nil && !fresh {
		rec = loadRecord(dir, path)
	}
	if rec != nil && !rec.holds(f, cur) {
		rec = nil
	}
	if rec == nil {
		rec = &logRecord{Path: path, decoded: true}
	}
	old := rec.Cursor
	end, err := lineEnd(f, old.Offset, cur.Size)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if end > old.Offset {
		if _, err := rec.lines(); err != nil {
			return readRecord(ctx, dir, path, o, true) // a damaged record: read the log again
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
	cur.Offset = end
	if cur.Sample, err = sample(f, end); err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	rec.Cursor = cur
	if dir != nil && rec.Cursor != old {
		// Kept for the next scan; one that cannot be kept is read again.
		_ = saveRecord(dir, rec)
	}
	return rec, tail, cur.Size - old.Offset, nil
}

// openRecords opens (creating it) the record folder of stateDir.
func openRecords(stateDir string) (*safefile.Dir, error) {
	dir, err := safefile.OpenDirAll(stateDir+"/"+RecordDir, 0o755)
	if err != nil {
		return nil, fmt.Errorf("session records in %s: %w", stateDir, err)
	}
	return dir, nil
}

// recordName is the record file of the log at path.
func recordName(path string) string {
	h := sha256.Sum256([]byte(path))
	return hex.EncodeToString(h[:12]) + ".rec"
}

// loadRecord returns the kept record of path, or nil when there is none
// usable (missing, damaged, of another version, of another path).
func loadRecord(dir *safefile.Dir, path string) *logRecord {
	f, err := dir.OpenFile(recordName(path), os.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil
	}
	rec, err := decodeRecord(b)
	if err != nil || rec.Path != path {
		return nil
	}
	return rec
}

// saveRecord replaces the record of rec.Path through a temporary file.
func saveRecord(dir *safefile.Dir, rec *logRecord) error {
	name := recordName(rec.Path)
	tmp := fmt.Sprintf(".%s.%d-%d", name, os.Getpid(), time.Now().UnixNano())
	f, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(rec.encode())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = dir.Rename(tmp, name)
	}
	if err != nil {
		_ = dir.Remove(tmp)
	}
	return err
}

// pruneRecords removes from the record folder the records of logs not in
// logs (deleted, or moved away), and temporary files left by a crash.
// Only names of the folder's own shape are touched, never through a link
// (package safefile).
func pruneRecords(dir *safefile.Dir, logs []string) error {
	keep := make(map[string]bool, len(logs))
	for _, p := range logs {
		keep[recordName(p)] = true
	}
	names, err := dir.Names()
	if err != nil {
		return err
	}
	for _, n := range names {
		if !strings.HasSuffix(n, ".rec") && !strings.Contains(n, ".rec.") || keep[n] {
			continue
		}
		if err := dir.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
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
		rec.add(lineOf(&pl, ts))
	}
	rec.Stats = rec.Stats.Add(sc.Stats())
	return sc.Err()
}

// lineOf reduces a parsed line to what the scan counts: a message line is
// kept as one only when it has usage or calls an MCP server.
func lineOf(pl *parsedLine, ts time.Time) lineRec {
	l := lineRec{Sec: ts.Unix(), Nsec: int32(ts.Nanosecond()), Count: 1, Cwd: string(pl.Cwd)}
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

// lockRecords takes the record folder's lock, so that two scans of one run
// (mcp-analytics and learn-mcp) do not both read the same new bytes: the
// second finds the records the first kept. It waits for ctx.
func lockRecords(ctx context.Context, dir *safefile.Dir) (unlock func(), err error) {
	f, err := dir.OpenFile("lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("session records in %s: %w", dir.Path(), err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", dir.Path()+"/lock", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
