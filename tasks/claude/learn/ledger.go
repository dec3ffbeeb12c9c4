package learn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonscan"
	"github.com/rebuild-nixos/rebuild/tasks/claude/logcursor"
)

// LedgerDir is the folder of the state directory where each analyzer
// keeps the ledger of its learning file: <analyzer>.rec, under the lock
// <analyzer>.lock.
const LedgerDir = "claude-learning"

// horizonSlack is how far before the window a ledger keeps records: a
// window that starts up to this much earlier (a clock set back, a few
// more days asked for) is still answered from it, not by a full read.
// Records older than the window by twice as much are pruned, so a ledger
// holds about the window's records, and is rewritten for pruning at most
// once a day.
const horizonSlack = 24 * time.Hour

// ledger is what the complete lines of one learning file left for its
// analyzer, independent of the window: every record not older than the
// horizon, reduced to what the analyzer counts (see record), in file
// order, with the cursor of the bytes read and the lines counted. A run
// reads only the bytes appended since the last, and folds the records of
// its window: the same records, in the same order, as a full read
// would, so the same report.
type ledger struct {
	path    string
	maxLine int
	cursor  logcursor.Cursor
	stats   jsonl.Stats // of the lines up to cursor.Offset
	// horizon: records older than this were dropped (or never kept), so
	// the ledger answers only windows starting at or after it.
	horizon time.Time
	strs    []string // the string of index i+1 (0 is "")
	ids     map[string]uint32
	recs    []record

	// tail is the last line, still being written (no newline yet):
	// counted in this run, read again by the next.
	tail      []record
	tailStats jsonl.Stats
	changed   bool // to be saved
	read      int64
}

func newLedger(path string, maxLine int, horizon time.Time) *ledger {
	return &ledger{path: path, maxLine: maxLine, horizon: horizon, ids: map[string]uint32{}, changed: true}
}

// str is the string of index id.
func (l *ledger) str(id uint32) string {
	if id == 0 {
		return ""
	}
	return l.strs[id-1]
}

// intern returns the index of s, adding it when new.
func (l *ledger) intern(s []byte) uint32 {
	if len(s) == 0 {
		return 0
	}
	if id, ok := l.ids[string(s)]; ok {
		return id
	}
	str := string(s)
	l.strs = append(l.strs, str)
	id := uint32(len(l.strs))
	l.ids[str] = id
	return id
}

// allStats are the lines counted in this run: the ledger's and the tail's.
func (l *ledger) allStats() jsonl.Stats { return l.stats.Add(l.tailStats) }

// idSet is a set of strings of the ledger, by index.
type idSet map[uint32]struct{}

// sessionList returns the strings of set, sorted, "" left out.
func (l *ledger) sessionList(set idSet) []string {
	out := make([]string, 0, len(set))
	for id := range set {
		if id != 0 {
			out = append(out, l.str(id))
		}
	}
	sort.Strings(out)
	return out
}

// each calls fn with every record of the window (not before since), in
// file order, the tail last.
func (l *ledger) each(since time.Time, fn func(r *record)) {
	for _, rs := range [][]record{l.recs, l.tail} {
		for i := range rs {
			if !rs[i].before(since) {
				fn(&rs[i])
			}
		}
	}
}

// readLedger returns the ledger of the analyzer's learning file, up to
// date: from the state directory when one is set and what it kept still
// holds (same file, only appended to, its horizon not after the window),
// reading only the bytes appended since; otherwise read whole. A missing
// file is a NoDataError (and its ledger is dropped). A ledger that could
// not be kept is a warning: the next run reads the file whole.
func readLedger(ctx context.Context, in Input, analyzer string, sh *shape) (l *ledger, warning error, err error) {
	path := filepath.Join(in.LearningDir, sh.file)
	in.status("reading %s", sh.file)
	since := in.Since()
	maxLine := in.MaxLine
	if maxLine <= 0 {
		maxLine = jsonl.DefaultMaxLine
	}
	var store *logcursor.Store
	var kept *ledger
	if in.StateDir != "" {
		var b []byte
		store, b, err = logcursor.Open(ctx, filepath.Join(in.StateDir, LedgerDir), analyzer+".rec", analyzer+".lock")
		if err != nil {
			return nil, nil, fmt.Errorf("the ledger of %s: %w", sh.file, err)
		}
		defer store.Close()
		if b != nil {
			kept, _ = decodeLedger(b) // damaged: read the file again
		}
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if store != nil {
			warning = store.Remove()
		}
		return nil, warning, noData("no %s in %s", sh.file, in.tilde(in.LearningDir))
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	cur, regular, err := logcursor.Stat(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if !regular {
		// A stream (a named pipe): no offsets to keep, read whole.
		l = newLedger(path, maxLine, since.Add(-horizonSlack))
		if l.tailStats, err = l.readLines(ctx, f, sh, &l.tail, jsonl.Stats{}); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return l, warning, nil
	}
	l = kept
	if l == nil || l.path != path || l.maxLine != maxLine || since.Before(l.horizon) || !l.cursor.Holds(f, cur) {
		l = newLedger(path, maxLine, since.Add(-horizonSlack))
	}
	old := l.cursor
	end, err := logcursor.LineEnd(f, old.Offset, cur.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if end > old.Offset {
		l.changed = true
		if l.stats, err = l.readLines(ctx, io.NewSectionReader(f, old.Offset, end-old.Offset), sh, &l.recs, l.stats); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if cur.Size > end {
		if l.tailStats, err = l.readLines(ctx, io.NewSectionReader(f, end, cur.Size-end), sh, &l.tail, jsonl.Stats{}); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if l.cursor, err = old.Advance(f, cur, end); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	l.read = cur.Size - old.Offset
	l.prune(since)
	if store != nil && l.changed {
		warning = store.Replace(l.encode())
		l.changed = false
	}
	return l, warning, nil
}

// readLines decodes the lines of r and appends to recs those the analyzer
// keeps and the horizon does not drop; it returns st plus what it
// counted.
func (l *ledger) readLines(ctx context.Context, r io.Reader, sh *shape, recs *[]record, st jsonl.Stats) (jsonl.Stats, error) {
	sc := jsonl.NewScanner(r, l.maxLine)
	var p jsonscan.Parser
	var v values
	n := 0
	for sc.Scan() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		if sh.decode(&p, sc.Bytes(), &v) != nil {
			sc.Malformed()
			continue
		}
		if (sh.keep != nil && !sh.keep(&v)) || v.t.Before(l.horizon) {
			continue
		}
		rec := record{Sec: v.t.Unix(), Nsec: int32(v.t.Nanosecond()), I: v.i, F: v.f}
		for i := range v.s {
			rec.S[i] = l.intern(v.s[i])
		}
		if v.fset {
			rec.Bits |= hasF
		}
		if v.bset {
			rec.Bits |= hasB
			if v.b {
				rec.Bits |= valB
			}
		}
		*recs = append(*recs, rec)
	}
	return st.Add(sc.Stats()), sc.Err()
}

// prune drops the records older than the window by more than twice the
// slack, and the strings only they used.
func (l *ledger) prune(since time.Time) {
	if since.Sub(l.horizon) < 2*horizonSlack {
		return
	}
	l.horizon = since.Add(-horizonSlack)
	old := l.strs
	l.strs, l.ids = nil, map[string]uint32{}
	kept := l.recs[:0]
	for _, r := range l.recs {
		if r.before(l.horizon) {
			continue
		}
		for i, id := range r.S {
			if id != 0 {
				r.S[i] = l.intern([]byte(old[id-1]))
			}
		}
		kept = append(kept, r)
	}
	clear(l.recs[len(kept):])
	l.recs = kept
	l.changed = true
}

// ledgerMagic starts a ledger file; a file without it (or of another
// version) is not a ledger and the learning file is read again.
const ledgerMagic = "rebuild learning ledger 1\n"

// encode writes the ledger compactly: a header (path, line limit, cursor,
// counts, horizon), the string table, then each record with its time as
// a delta from the previous one and only the values it has.
func (l *ledger) encode() []byte {
	out := make([]byte, 0, 256+16*len(l.recs))
	out = append(out, ledgerMagic...)
	out = logcursor.AppendString(out, l.path)
	out = binary.AppendUvarint(out, uint64(l.maxLine))
	out = l.cursor.Append(out)
	for _, v := range []int64{l.stats.Lines, l.stats.Malformed, l.stats.TooLong} {
		out = binary.AppendUvarint(out, uint64(v))
	}
	out = binary.AppendVarint(out, l.horizon.Unix())
	out = binary.AppendUvarint(out, uint64(l.horizon.Nanosecond()))
	out = binary.AppendUvarint(out, uint64(len(l.strs)))
	for _, s := range l.strs {
		out = logcursor.AppendString(out, s)
	}
	out = binary.AppendUvarint(out, uint64(len(l.recs)))
	var prev int64
	for _, r := range l.recs {
		// mask: which strings are set (bits 0-4), I set (5), F set (6).
		var mask byte
		for i, id := range r.S {
			if id != 0 {
				mask |= 1 << i
			}
		}
		if r.I != 0 {
			mask |= 1 << 5
		}
		if r.F != 0 || math.Signbit(r.F) {
			mask |= 1 << 6
		}
		out = append(out, mask, r.Bits)
		out = binary.AppendVarint(out, r.Sec-prev)
		prev = r.Sec
		out = binary.AppendUvarint(out, uint64(r.Nsec))
		for _, id := range r.S {
			if id != 0 {
				out = binary.AppendUvarint(out, uint64(id))
			}
		}
		if mask&(1<<5) != 0 {
			out = binary.AppendVarint(out, r.I)
		}
		if mask&(1<<6) != 0 {
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(r.F))
		}
	}
	return out
}

// decodeLedger reads what encode wrote.
func decodeLedger(b []byte) (*ledger, error) {
	if len(b) < len(ledgerMagic) || string(b[:len(ledgerMagic)]) != ledgerMagic {
		return nil, logcursor.ErrRecord
	}
	d := &logcursor.Decoder{B: b[len(ledgerMagic):]}
	l := &ledger{path: d.Str(), maxLine: int(d.Uvarint()), ids: map[string]uint32{}}
	l.cursor = d.Cursor()
	l.stats = jsonl.Stats{Lines: int64(d.Uvarint()), Malformed: int64(d.Uvarint()), TooLong: int64(d.Uvarint())}
	sec := d.Varint()
	l.horizon = time.Unix(sec, int64(d.Uvarint()))
	n := d.Count()
	l.strs = make([]string, n)
	for i := range l.strs {
		l.strs[i] = d.Str()
		l.ids[l.strs[i]] = uint32(i + 1)
	}
	n = d.Count()
	l.recs = make([]record, n)
	var prev int64
	for i := range l.recs {
		r := &l.recs[i]
		head := d.Bytes(2)
		if d.Err != nil {
			return nil, d.Err
		}
		mask := head[0]
		r.Bits = head[1]
		r.Sec = prev + d.Varint()
		prev = r.Sec
		r.Nsec = int32(d.Uvarint())
		for j := range r.S {
			if mask&(1<<j) != 0 {
				id := d.Uvarint()
				if id == 0 || id > uint64(len(l.strs)) {
					return nil, logcursor.ErrRecord
				}
				r.S[j] = uint32(id)
			}
		}
		if mask&(1<<5) != 0 {
			r.I = d.Varint()
		}
		if mask&(1<<6) != 0 {
			if f := d.Bytes(8); d.Err == nil {
				r.F = math.Float64frombits(binary.LittleEndian.Uint64(f))
			}
		}
	}
	if err := d.Done(); err != nil {
		return nil, err
	}
	return l, nil
}
