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
	"slices"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonscan"
	"github.com/rebuild-nixos/rebuild/tasks/claude/logcursor"
)

// LedgerDir is the folder of the state directory where each analyzer
// keeps the ledger of its learning file: <analyzer>.rec, under the lock
// <analyzer>.lock.
const LedgerDir = "claude-learning"

// minRecordLine is a short learning record's line, in bytes.
const minRecordLine = 128

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
	strs    []string          // the string of index i+1 (0 is "")
	ids     map[string]uint32 // the index of each string, built on first use
	ranks   []uint32          // each index's place in the strings' order, built on first use
	order   []uint32          // the indexes in the strings' order
	// stored are the records read from the state directory, as they are
	// encoded there (n of them, the last at lastSec): a run walks them
	// (each) without making a struct of each, and writes them back as
	// they are. recs are the records read since, after them.
	stored  []byte
	nStored int
	lastSec int64
	recs    []record
	// journal: the state directory holds this ledger as it was read,
	// its first saved strings and the records in stored, so what was
	// read since can be appended to it (encodeDelta) rather than the
	// whole ledger written again. frames and journalBytes are what the
	// journal holds past its whole state, of baseBytes.
	journal                 bool
	saved                   int
	frames                  int
	baseBytes, journalBytes int

	// tail is the last line, still being written (no newline yet):
	// counted in this run, read again by the next.
	tail      []record
	tailStats jsonl.Stats
	changed   bool // to be saved
	read      int64
}

func newLedger(path string, maxLine int, horizon time.Time) *ledger {
	return &ledger{path: path, maxLine: maxLine, horizon: horizon, changed: true}
}

// str is the string of index id.
func (l *ledger) str(id uint32) string {
	if id == 0 {
		return ""
	}
	return l.strs[id-1]
}

// index returns the index of s, 0 when the ledger does not hold it.
func (l *ledger) index(s string) uint32 {
	l.buildIndex()
	return l.ids[s]
}

// buildIndex indexes the strings, once: a run that reads nothing new
// never needs it.
func (l *ledger) buildIndex() {
	if l.ids == nil {
		l.ids = make(map[string]uint32, len(l.strs))
		for i, s := range l.strs {
			l.ids[s] = uint32(i + 1)
		}
	}
}

// intern returns the index of s, adding it when new.
func (l *ledger) intern(s []byte) uint32 {
	if len(s) == 0 {
		return 0
	}
	l.buildIndex()
	if id, ok := l.ids[string(s)]; ok {
		return id
	}
	str := string(s)
	l.strs = append(l.strs, str)
	id := uint32(len(l.strs))
	l.ids[str] = id
	l.ranks, l.order = nil, nil
	return id
}

// allStats are the lines counted in this run: the ledger's and the tail's.
func (l *ledger) allStats() jsonl.Stats { return l.stats.Add(l.tailStats) }

// sorted returns the strings of ids (distinct indexes), sorted, ""
// left out. It sorts their ranks, not the strings: a run lists thousands
// of sessions, many times over.
func (l *ledger) sorted(ids []uint32) []string {
	if l.ranks == nil {
		l.order = make([]uint32, len(l.strs)+1)
		for i := range l.order {
			l.order[i] = uint32(i)
		}
		slices.SortFunc(l.order, func(a, b uint32) int { return strings.Compare(l.str(a), l.str(b)) })
		l.ranks = make([]uint32, len(l.order))
		for rank, id := range l.order {
			l.ranks[id] = uint32(rank)
		}
	}
	byRank := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if id != 0 {
			byRank = append(byRank, l.ranks[id])
		}
	}
	slices.Sort(byRank)
	out := make([]string, len(byRank))
	for i, r := range byRank {
		out[i] = l.str(l.order[r])
	}
	return out
}

// each calls fn with every record of the window (not before since), in
// file order, the tail last. fn must not keep r.
func (l *ledger) each(since time.Time, fn func(r *record)) {
	rr := recordReader{b: l.stored, strs: uint64(len(l.strs))}
	var r record
	for rr.next(&r) {
		if !r.before(since) {
			fn(&r)
		}
	}
	for _, rs := range [][]record{l.recs, l.tail} {
		for i := range rs {
			if !rs[i].before(since) {
				fn(&rs[i])
			}
		}
	}
}

// members gathers, for many groups at once, the distinct members of each
// (the sessions of a pattern, say): one set of (group, member) pairs, not
// a map per group.
type members map[uint64]struct{}

// add appends member to list, the group's, unless the group has it.
func (m members) add(group int, member uint32, list *[]uint32) {
	k := uint64(group)<<32 | uint64(member)
	if _, ok := m[k]; !ok {
		m[k] = struct{}{}
		*list = append(*list, member)
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
	maxLine := in.MaxLine
	if maxLine <= 0 {
		maxLine = jsonl.DefaultMaxLine
	}
	store, kept, err := openLedger(ctx, in.StateDir, analyzer)
	if err != nil {
		return nil, nil, fmt.Errorf("the ledger of %s: %w", sh.file, err)
	}
	defer store.Close()
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
	var now int64
	if store != nil {
		now = store.Now
	}
	if l, err = kept.update(ctx, f, path, maxLine, in.Since(), now, sh); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if store != nil && l.changed {
		warning = l.save(store)
		l.changed = false
	}
	return l, warning, nil
}

// Journal limits: past this many frames, or past half the bytes of the
// whole ledger they follow, the ledger is written whole again, so that
// reading it stays about reading its records once.
const maxFrames = 256

// save keeps the ledger in store: what was read since, appended, when
// the store holds the ledger as it was read; else the whole ledger.
func (l *ledger) save(store *logcursor.Store) error {
	if l.journal && l.frames < maxFrames && 2*l.journalBytes < l.baseBytes {
		return store.Append(l.encodeDelta())
	}
	return store.Replace(l.encode())
}

// openLedger opens, and locks, the ledger of analyzer in stateDir (none
// when stateDir is ""); kept is nil when there is none, or it is damaged.
func openLedger(ctx context.Context, stateDir, analyzer string) (store *logcursor.Store, kept *ledger, err error) {
	if stateDir == "" {
		return nil, nil, nil
	}
	store, frames, err := logcursor.Open(ctx, filepath.Join(stateDir, LedgerDir), analyzer+".rec", analyzer+".lock")
	if err != nil {
		return nil, nil, err
	}
	if frames != nil {
		kept, _ = decodeLedger(frames) // damaged: the file is read again
	}
	return store, kept, nil
}

// update returns the ledger of f (at path) brought up to date for a
// window from since: l (nil: none) read on when it still holds (the same
// file, only appended to, its horizon not after the window), else a new
// one read from the start. now is when the reading began, by the file
// system's clock (see logcursor.Cursor.Advance).
func (l *ledger) update(ctx context.Context, f *os.File, path string, maxLine int, since time.Time, now int64, sh *shape) (*ledger, error) {
	cur, regular, err := logcursor.Stat(f)
	if err != nil {
		return nil, err
	}
	if !regular {
		// A stream (a named pipe): no offsets to keep, read whole.
		l = newLedger(path, maxLine, since.Add(-horizonSlack))
		l.tailStats, err = l.readLines(ctx, f, -1, sh, &l.tail, jsonl.Stats{})
		return l, err
	}
	if l == nil || l.path != path || l.maxLine != maxLine || since.Before(l.horizon) || !l.cursor.Holds(f, cur) {
		l = newLedger(path, maxLine, since.Add(-horizonSlack))
	}
	old := l.cursor
	end, err := logcursor.LineEnd(f, old.Offset, cur.Size)
	if err != nil {
		return nil, err
	}
	if end > old.Offset {
		l.changed = true
		// Room for the new records at once: a learning record's line is
		// rarely shorter than this.
		l.recs = slices.Grow(l.recs, int(min((end-old.Offset)/minRecordLine, 1<<20)))
		if l.stats, err = l.readLines(ctx, io.NewSectionReader(f, old.Offset, end-old.Offset), end-old.Offset, sh, &l.recs, l.stats); err != nil {
			return nil, err
		}
	}
	if cur.Size > end {
		if l.tailStats, err = l.readLines(ctx, io.NewSectionReader(f, end, cur.Size-end), cur.Size-end, sh, &l.tail, jsonl.Stats{}); err != nil {
			return nil, err
		}
	}
	if l.cursor, err = old.Advance(f, cur, end, now); err != nil {
		return nil, err
	}
	l.read = cur.Size - old.Offset
	l.prune(since)
	return l, nil
}

// readLines decodes the lines of r (size bytes, -1: unknown) and appends
// to recs those the analyzer keeps and the horizon does not drop; it
// returns st plus what it counted.
func (l *ledger) readLines(ctx context.Context, r io.Reader, size int64, sh *shape, recs *[]record, st jsonl.Stats) (jsonl.Stats, error) {
	var sc *jsonl.Scanner
	if size >= 0 {
		sc = jsonl.NewScannerSize(r, size, l.maxLine)
	} else {
		sc = jsonl.NewScanner(r, l.maxLine)
	}
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
	var kept []record
	rr := recordReader{b: l.stored, strs: uint64(len(old))}
	var r record
	for rr.next(&r) {
		if !r.before(l.horizon) {
			kept = append(kept, r)
		}
	}
	for _, r := range l.recs {
		if !r.before(l.horizon) {
			kept = append(kept, r)
		}
	}
	l.strs, l.ids, l.ranks, l.order = nil, nil, nil, nil
	for k := range kept {
		for i, id := range kept[k].S {
			if id != 0 {
				kept[k].S[i] = l.intern([]byte(old[id-1]))
			}
		}
	}
	for k := range l.tail {
		for i, id := range l.tail[k].S {
			if id != 0 {
				l.tail[k].S[i] = l.intern([]byte(old[id-1]))
			}
		}
	}
	l.stored, l.nStored, l.lastSec, l.recs = nil, 0, 0, kept
	l.changed, l.journal = true, false
}

// ledgerMagic starts a ledger file; a file without it (or of another
// version) is not a ledger and the learning file is read again.
const ledgerMagic = "rebuild learning ledger 1\n"

// encode writes the ledger compactly: a header (path, line limit, cursor,
// counts, horizon), the string table, then each record with its time as
// a delta from the previous one and only the values it has: the records
// it was read with as they were, then the new ones.
func (l *ledger) encode() []byte {
	out := make([]byte, 0, 256+len(l.stored)+16*len(l.recs))
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
	out = binary.AppendUvarint(out, uint64(l.nStored+len(l.recs)))
	out = append(out, l.stored...)
	prev := l.lastSec
	for _, r := range l.recs {
		out = r.append(out, prev)
		prev = r.Sec
	}
	return out
}

// ledgerDelta starts a frame of what a run read after the ledger it
// follows: the cursor and counts now, the strings and the records added.
const ledgerDelta = "ledger delta 1\n"

// encodeDelta writes what was read since the ledger was read from the
// state directory: its records chained on from the last one kept.
func (l *ledger) encodeDelta() []byte {
	out := make([]byte, 0, 128+16*len(l.recs))
	out = append(out, ledgerDelta...)
	out = l.cursor.Append(out)
	for _, v := range []int64{l.stats.Lines, l.stats.Malformed, l.stats.TooLong} {
		out = binary.AppendUvarint(out, uint64(v))
	}
	out = binary.AppendUvarint(out, uint64(len(l.strs)-l.saved))
	for _, s := range l.strs[l.saved:] {
		out = logcursor.AppendString(out, s)
	}
	out = binary.AppendUvarint(out, uint64(len(l.recs)))
	prev := l.lastSec
	for _, r := range l.recs {
		out = r.append(out, prev)
		prev = r.Sec
	}
	return out
}

// append encodes r at the end of b, its time as a delta from prev (the
// time of the record before it): a mask of the values it has (strings in
// bits 0-4, I in 5, F in 6), its bits, then those values.
func (r *record) append(b []byte, prev int64) []byte {
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
	b = append(b, mask, r.Bits)
	b = binary.AppendVarint(b, r.Sec-prev)
	b = binary.AppendUvarint(b, uint64(r.Nsec))
	for _, id := range r.S {
		if id != 0 {
			b = binary.AppendUvarint(b, uint64(id))
		}
	}
	if mask&(1<<5) != 0 {
		b = binary.AppendVarint(b, r.I)
	}
	if mask&(1<<6) != 0 {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.F))
	}
	return b
}

// decodeLedger reads a ledger's journal: what encode wrote, then what
// each encodeDelta after it added. Its records are checked, every one,
// and kept encoded (see ledger.stored), in one piece.
func decodeLedger(frames [][]byte) (*ledger, error) {
	l, err := decodeWhole(frames[0])
	if err != nil {
		return nil, err
	}
	l.journal, l.saved, l.frames, l.baseBytes = true, len(l.strs), len(frames), len(frames[0])
	if len(frames) == 1 {
		return l, nil
	}
	size := len(l.stored)
	for _, f := range frames[1:] {
		size += len(f)
		l.journalBytes += len(f)
	}
	stored := append(make([]byte, 0, size), l.stored...)
	for _, f := range frames[1:] {
		if len(f) < len(ledgerDelta) || string(f[:len(ledgerDelta)]) != ledgerDelta {
			return nil, logcursor.ErrRecord
		}
		d := &logcursor.Decoder{B: f[len(ledgerDelta):]}
		l.cursor = d.Cursor()
		l.stats = jsonl.Stats{Lines: int64(d.Uvarint()), Malformed: int64(d.Uvarint()), TooLong: int64(d.Uvarint())}
		for n := d.Count(); n > 0 && d.Err == nil; n-- {
			l.strs = append(l.strs, d.Str())
		}
		n := d.Count()
		if d.Err != nil {
			return nil, d.Err
		}
		rr := recordReader{b: d.B, prev: l.lastSec, strs: uint64(len(l.strs))}
		var r record
		for range n {
			if !rr.next(&r) {
				return nil, logcursor.ErrRecord
			}
		}
		if rr.bad || rr.pos != len(d.B) {
			return nil, logcursor.ErrRecord
		}
		stored = append(stored, d.B...)
		l.nStored += n
		l.lastSec = rr.prev
	}
	l.stored, l.saved = stored, len(l.strs)
	return l, nil
}

// decodeWhole reads what encode wrote.
func decodeWhole(b []byte) (*ledger, error) {
	if len(b) < len(ledgerMagic) || string(b[:len(ledgerMagic)]) != ledgerMagic {
		return nil, logcursor.ErrRecord
	}
	d := &logcursor.Decoder{B: b[len(ledgerMagic):]}
	l := &ledger{path: d.Str(), maxLine: int(d.Uvarint())}
	l.cursor = d.Cursor()
	l.stats = jsonl.Stats{Lines: int64(d.Uvarint()), Malformed: int64(d.Uvarint()), TooLong: int64(d.Uvarint())}
	sec := d.Varint()
	l.horizon = time.Unix(sec, int64(d.Uvarint()))
	// The strings share one allocation: the table as it is stored.
	n := d.Count()
	l.strs = d.Strings(n)
	if d.Err != nil {
		return nil, d.Err
	}
	n = d.Count()
	if d.Err != nil {
		return nil, d.Err
	}
	rr := recordReader{b: d.B, strs: uint64(len(l.strs))}
	var r record
	for range n {
		if !rr.next(&r) {
			return nil, logcursor.ErrRecord
		}
	}
	if rr.bad || rr.pos != len(d.B) {
		return nil, logcursor.ErrRecord
	}
	l.stored, l.nStored, l.lastSec = d.B, n, rr.prev
	return l, nil
}

// recordReader walks records as encode wrote them, each string index at
// most strs. It reads into one record, not a slice of them: tens of
// thousands a run, every run.
type recordReader struct {
	b    []byte
	pos  int
	prev int64 // the time of the last record read
	strs uint64
	bad  bool // a record was malformed: the walk stopped there
}

// next reads the next record into r; false at the end, or at a
// malformed record (bad).
func (rr *recordReader) next(r *record) bool {
	b := rr.b
	if rr.bad || rr.pos >= len(b) {
		return false
	}
	pos, bad := rr.pos, false
	uvarint := func() uint64 {
		v, k := binary.Uvarint(b[pos:])
		if k <= 0 {
			bad = true
			return 0
		}
		pos += k
		return v
	}
	varint := func() int64 {
		v, k := binary.Varint(b[pos:])
		if k <= 0 {
			bad = true
			return 0
		}
		pos += k
		return v
	}
	if len(b)-pos < 2 {
		rr.bad = true
		return false
	}
	*r = record{}
	mask := b[pos]
	r.Bits = b[pos+1]
	pos += 2
	r.Sec = rr.prev + varint()
	r.Nsec = int32(uvarint())
	for j := range r.S {
		if mask&(1<<j) != 0 {
			id := uvarint()
			if id == 0 || id > rr.strs {
				bad = true
			}
			r.S[j] = uint32(id)
		}
	}
	if mask&(1<<5) != 0 {
		r.I = varint()
	}
	if mask&(1<<6) != 0 {
		if len(b)-pos < 8 {
			bad = true
		} else {
			r.F = math.Float64frombits(binary.LittleEndian.Uint64(b[pos:]))
			pos += 8
		}
	}
	if bad {
		rr.bad = true
		return false
	}
	rr.pos, rr.prev = pos, r.Sec
	return true
}
