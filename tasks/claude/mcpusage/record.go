package mcpusage

import (
	"encoding/binary"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
	"github.com/rebuild-nixos/rebuild/tasks/claude/logcursor"
)

// logRecord is what the complete lines of one session log left for the
// scan, independent of the window: every line that can be placed in time,
// reduced to what the scan counts, in file order. A scan replays it with
// its own window, so one record serves every window, and the window
// moving on between runs never needs the log again.
type logRecord struct {
	Path   string
	Cursor cursor
	Stats  jsonl.Stats // of the lines read (the whole log up to Cursor.Offset)
	// First is the earliest time of Lines: a window starting no later
	// counts them all, and Sum is what they count, so the lines need not
	// be decoded (most logs, most runs).
	First lineTime
	Sum   logSum
	// Lines are decoded on first use (lines()): the first kept of them
	// from segs of src, the store's lines file, the others from blob,
	// their encoding not in that file yet. A log appended to adds a
	// segment of its new lines, and is never encoded nor written whole
	// again (until it has maxSegs). dirty: lines were added since blob
	// was encoded.
	Lines   []lineRec
	decoded bool
	dirty   bool
	kept    int
	blob    []byte
	segs    []segment
	src     io.ReaderAt
}

// maxSegs is how many segments a record's lines may be in: the lines of
// one with more are written again as one.
const maxSegs = 16

// segment is where a record's encoded lines are in the store's lines file.
type segment struct{ Off, Len int64 }

// lineTime is a line's time, split so that any year fits.
type lineTime struct {
	Sec  int64
	Nsec int32
}

// logSum is what all the lines of a record count, whatever the window.
type logSum struct {
	Lines   int64
	Project string
	Servers map[string]int64 // invocations per server
	Use     map[string]*ServerUse
}

// cursor is the record's logcursor.Cursor.
type cursor = logcursor.Cursor

// lineRec is one line of a log that carried a time.
type lineRec struct {
	Sec  int64 // the line's time, split so that any year fits
	Nsec int32
	// Count is how many such lines in a row this stands for (plain lines
	// of the same time and folder are kept once).
	Count int64
	Cwd   string
	// Msg: the line belongs to a message that matters (it has usage, or
	// calls an MCP server); MsgID is its id ("" is a message of its own).
	Msg      bool
	MsgID    string
	HasUsage bool
	Usage    Usage
	Calls    []call
}

// call is one tool use of an MCP server.
type call struct{ ToolID, Server string }

func (r *lineRec) before(since time.Time) bool { return lineTime{r.Sec, r.Nsec}.before(since) }

func (t lineTime) before(since time.Time) bool {
	s := since.Unix()
	return t.Sec < s || t.Sec == s && int(t.Nsec) < since.Nanosecond()
}

// lines returns the record's lines, decoding them on first use.
func (rec *logRecord) lines() ([]lineRec, error) {
	if !rec.decoded {
		var lines []lineRec
		var b []byte
		for _, sg := range rec.segs {
			if rec.src == nil || sg.Len < 0 {
				return nil, errRecord
			}
			b = slices.Grow(b[:0], int(sg.Len))[:sg.Len]
			if _, err := rec.src.ReadAt(b, sg.Off); err != nil {
				return nil, errRecord
			}
			var err error
			if lines, err = decodeLines(b, lines); err != nil {
				return nil, err
			}
		}
		kept := len(lines)
		if rec.blob != nil {
			var err error
			if lines, err = decodeLines(rec.blob, lines); err != nil {
				return nil, err
			}
		}
		rec.Lines, rec.kept, rec.decoded = lines, kept, true
	}
	return rec.Lines, nil
}

// encoded returns the encoding of the record's lines the store does not
// hold yet (nil: none): those after its segments, or all of them when it
// has too many.
func (rec *logRecord) encoded() []byte {
	if rec.dirty {
		if len(rec.segs) >= maxSegs {
			rec.segs, rec.kept = nil, 0
		}
		rec.blob, rec.dirty = encodeLines(rec.Lines[rec.kept:]), false
	}
	return rec.blob
}

// add appends l (the lines must be decoded), folding it into the
// previous line when both are plain and alike, and that line is not in
// the store yet.
func (rec *logRecord) add(l lineRec) {
	rec.dirty = true
	if len(rec.Lines) == 0 || (lineTime{l.Sec, l.Nsec}).less(rec.First) {
		rec.First = lineTime{l.Sec, l.Nsec}
	}
	if n := len(rec.Lines); n > rec.kept && !l.Msg {
		p := &rec.Lines[n-1]
		if !p.Msg && p.Sec == l.Sec && p.Nsec == l.Nsec && p.Cwd == l.Cwd {
			p.Count += l.Count
			return
		}
	}
	rec.Lines = append(rec.Lines, l)
}

func (t lineTime) less(u lineTime) bool { return t.Sec < u.Sec || t.Sec == u.Sec && t.Nsec < u.Nsec }

// recordMagic starts a record file; a file without it (or of another
// version) is not a record and the log is read again.
const recordMagic = "rebuild session record 5\n"

var errRecord = logcursor.ErrRecord

// encode writes rec compactly: its header (cursor, stats, summary) and
// where its lines are in the store's lines file (segs). The lines are
// blobs of their own (encodeLines: a string table, then each line with
// its time as a delta from the previous one), kept apart so that a scan
// reads only those it replays and writes only those that are new.
func (rec *logRecord) encode() []byte {
	out := []byte(recordMagic)
	out = appendString(out, rec.Path)
	out = rec.Cursor.Append(out)
	for _, v := range []int64{rec.Stats.Lines, rec.Stats.Malformed, rec.Stats.TooLong} {
		out = binary.AppendUvarint(out, uint64(v))
	}
	out = binary.AppendVarint(out, rec.First.Sec)
	out = binary.AppendUvarint(out, uint64(rec.First.Nsec))
	out = binary.AppendUvarint(out, uint64(rec.Sum.Lines))
	out = appendString(out, rec.Sum.Project)
	out = binary.AppendUvarint(out, uint64(len(rec.Sum.Servers)))
	for _, name := range slices.Sorted(maps.Keys(rec.Sum.Servers)) {
		out = appendString(out, name)
		out = binary.AppendVarint(out, rec.Sum.Servers[name])
	}
	out = binary.AppendUvarint(out, uint64(len(rec.Sum.Use)))
	for _, name := range slices.Sorted(maps.Keys(rec.Sum.Use)) {
		u := rec.Sum.Use[name]
		out = appendString(out, name)
		out = binary.AppendVarint(out, u.Invocations)
		for _, v := range [4]int64{u.Usage.Input, u.Usage.Output, u.Usage.CacheRead, u.Usage.CacheWrite} {
			out = binary.AppendVarint(out, v)
		}
	}
	out = binary.AppendUvarint(out, uint64(len(rec.segs)))
	for _, sg := range rec.segs {
		out = binary.AppendUvarint(out, uint64(sg.Off))
		out = binary.AppendUvarint(out, uint64(sg.Len))
	}
	return out
}

func encodeLines(lines []lineRec) []byte {
	var e lineEncoder
	for _, l := range lines {
		e.put(l)
	}
	return e.bytes()
}

// lineEncoder writes lines in encodeLines' format as they come: the
// string table and the body grow side by side and are joined at the end,
// so a log read whole is never held as a slice of lines.
type lineEncoder struct {
	strs  map[string]uint64 // of the folders and servers, each once
	table []byte            // the strings, in the order first used
	n     uint64            // strings in table
	body  []byte            // the lines, without their count
	lines uint64            // lines in body
	// cwd and msg are the folder and the message of the last line put,
	// and their indexes: a log's lines mostly share their folder, and
	// the lines of a message mostly follow each other.
	cwd, msg       string
	cwdIdx, msgIdx uint64
	prev           int64 // the time of the last line in body
	// last is the line added last, not in body yet: the next one may
	// fold into it (add); has says whether there is one.
	last  lineRec
	has   bool
	first lineTime // the earliest time of the lines added
	any   bool     // whether a line was added
}

// reserve makes room for the lines of about n bytes of a log, so that
// the encoding of a large one is not copied over and over as it grows:
// session logs encode into about a fiftieth of their size, a third of it
// strings.
func (e *lineEncoder) reserve(n int64) {
	e.body = slices.Grow(e.body, int(min(n/64, 16<<20)))
	e.table = slices.Grow(e.table, int(min(n/128, 8<<20)))
}

// idx is the index of s in the table, adding it when new: a folder or a
// server, of which a log holds few.
func (e *lineEncoder) idx(s string) uint64 {
	if s == "" {
		return 0
	}
	if i, ok := e.strs[s]; ok {
		return i
	}
	if e.strs == nil {
		e.strs = map[string]uint64{}
	}
	i := e.str(s)
	e.strs[s] = i
	return i
}

// str appends s to the table and returns its index. A message id or a
// tool use id is added as it comes, not looked up: each is of one
// message, and a map of them cost a first scan more than the rest of
// the encoding (a message's lines apart cost its id twice in the table).
func (e *lineEncoder) str(s string) uint64 {
	if s == "" {
		return 0
	}
	e.table = appendString(e.table, s)
	e.n++
	return e.n
}

// cwdIndex and msgIndex are idx and str for the folder and the message
// of a line, asked once for a run of lines that share them.
func (e *lineEncoder) cwdIndex(s string) uint64 {
	if s != e.cwd || e.cwdIdx == 0 {
		e.cwd, e.cwdIdx = s, e.idx(s)
	}
	return e.cwdIdx
}

func (e *lineEncoder) msgIndex(s string) uint64 {
	if s != e.msg || e.msgIdx == 0 {
		e.msg, e.msgIdx = s, e.str(s)
	}
	return e.msgIdx
}

// add takes the next line of a log, folding it into the one before when
// both are plain and alike, as logRecord.add does.
func (e *lineEncoder) add(l lineRec) {
	if t := (lineTime{l.Sec, l.Nsec}); !e.any || t.less(e.first) {
		e.first = t
	}
	e.any = true
	if e.has && !l.Msg && !e.last.Msg && e.last.Sec == l.Sec && e.last.Nsec == l.Nsec && e.last.Cwd == l.Cwd {
		e.last.Count += l.Count
		return
	}
	if e.has {
		e.put(e.last)
	}
	e.last, e.has = l, true
}

// put writes l into the body as it is.
func (e *lineEncoder) put(l lineRec) {
	flags := byte(0)
	if l.Msg {
		flags |= 1
	}
	if l.HasUsage {
		flags |= 2
	}
	b := append(e.body, flags)
	b = binary.AppendVarint(b, l.Sec-e.prev)
	e.prev = l.Sec
	b = binary.AppendUvarint(b, uint64(l.Nsec))
	b = binary.AppendUvarint(b, uint64(l.Count))
	b = binary.AppendUvarint(b, e.cwdIndex(l.Cwd))
	if l.Msg {
		b = binary.AppendUvarint(b, e.msgIndex(l.MsgID))
		if l.HasUsage {
			for _, v := range [4]int64{l.Usage.Input, l.Usage.Output, l.Usage.CacheRead, l.Usage.CacheWrite} {
				b = binary.AppendVarint(b, v)
			}
		}
		b = binary.AppendUvarint(b, uint64(len(l.Calls)))
		for _, c := range l.Calls {
			b = binary.AppendUvarint(b, e.str(c.ToolID))
			b = binary.AppendUvarint(b, e.idx(c.Server))
		}
	}
	e.body = b
	e.lines++
}

// bytes returns the blob of every line added.
func (e *lineEncoder) bytes() []byte {
	if e.has {
		e.put(e.last)
		e.has = false
	}
	out := make([]byte, 0, 2*binary.MaxVarintLen64+len(e.table)+len(e.body))
	out = binary.AppendUvarint(out, e.n)
	out = append(out, e.table...)
	out = binary.AppendUvarint(out, e.lines)
	return append(out, e.body...)
}

func appendString(b []byte, s string) []byte { return logcursor.AppendString(b, s) }

// decoder reads what encode wrote.
type decoder = logcursor.Decoder

// decodeRecord reads what encode wrote; its lines are left where they
// are (see lines()).
func decodeRecord(b []byte) (*logRecord, error) {
	if len(b) < len(recordMagic) || string(b[:len(recordMagic)]) != recordMagic {
		return nil, errRecord
	}
	d := &decoder{B: b[len(recordMagic):]}
	rec := &logRecord{Path: d.Str()}
	rec.Cursor = d.Cursor()
	rec.Stats = jsonl.Stats{Lines: int64(d.Uvarint()), Malformed: int64(d.Uvarint()), TooLong: int64(d.Uvarint())}
	rec.First = lineTime{Sec: d.Varint(), Nsec: int32(d.Uvarint())}
	rec.Sum = logSum{Lines: int64(d.Uvarint()), Project: d.Str(), Servers: map[string]int64{}, Use: map[string]*ServerUse{}}
	for n := d.Uvarint(); n > 0 && d.Err == nil; n-- {
		name := d.Str()
		rec.Sum.Servers[name] = d.Varint()
	}
	for n := d.Uvarint(); n > 0 && d.Err == nil; n-- {
		name := d.Str()
		rec.Sum.Use[name] = &ServerUse{Invocations: d.Varint(), Usage: Usage{d.Varint(), d.Varint(), d.Varint(), d.Varint()}}
	}
	n := d.Count()
	rec.segs = make([]segment, 0, n)
	for range n {
		sg := segment{int64(d.Uvarint()), int64(d.Uvarint())}
		if sg.Off < 0 || sg.Len < 0 {
			return nil, errRecord
		}
		rec.segs = append(rec.segs, sg)
	}
	if d.Err != nil || len(d.B) != 0 {
		return nil, errRecord
	}
	return rec, nil
}

// decodeLines reads what encodeLines wrote, after lines.
func decodeLines(b []byte, lines []lineRec) ([]lineRec, error) {
	d := &decoder{B: b}
	n := d.Uvarint()
	if n > uint64(len(d.B)) {
		return nil, errRecord
	}
	// The strings share one allocation, the table as it is stored, and
	// the calls a few.
	table := d.Strings(int(n))
	if d.Err != nil {
		return nil, d.Err
	}
	var calls []call
	n = d.Uvarint()
	if n > uint64(len(d.B)) {
		return nil, errRecord
	}
	lines = slices.Grow(lines, int(n))
	var prev int64
	for range n {
		flags := d.Bytes(1)
		if d.Err != nil {
			return nil, d.Err
		}
		l := lineRec{Msg: flags[0]&1 != 0, HasUsage: flags[0]&2 != 0}
		l.Sec = prev + d.Varint()
		prev = l.Sec
		l.Nsec, l.Count, l.Cwd = int32(d.Uvarint()), int64(d.Uvarint()), d.Index(table)
		if l.Msg {
			l.MsgID = d.Index(table)
			if l.HasUsage {
				l.Usage = Usage{d.Varint(), d.Varint(), d.Varint(), d.Varint()}
			}
			nc := d.Uvarint()
			if nc > uint64(len(d.B)) {
				return nil, errRecord
			}
			if nc > 0 {
				if uint64(cap(calls)-len(calls)) < nc {
					calls = make([]call, 0, max(nc, 256))
				}
				calls = calls[:len(calls)+int(nc)]
				l.Calls = calls[len(calls)-int(nc) : len(calls) : len(calls)]
				for i := range l.Calls {
					l.Calls[i] = call{ToolID: d.Index(table), Server: d.Index(table)}
				}
			}
		}
		lines = append(lines, l)
	}
	if d.Err != nil || len(d.B) != 0 {
		return nil, errRecord
	}
	return lines, nil
}
