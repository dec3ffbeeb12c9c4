package mcpusage

import (
	"encoding/binary"
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
	// Lines are decoded from raw on first use (lines()).
	Lines   []lineRec
	raw     []byte
	decoded bool
}

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
		lines, err := decodeLines(rec.raw)
		if err != nil {
			return nil, err
		}
		rec.Lines, rec.raw, rec.decoded = lines, nil, true
	}
	return rec.Lines, nil
}

// add appends l (the lines must be decoded), folding it into the
// previous line when both are plain and alike.
func (rec *logRecord) add(l lineRec) {
	if len(rec.Lines) == 0 || (lineTime{l.Sec, l.Nsec}).less(rec.First) {
		rec.First = lineTime{l.Sec, l.Nsec}
	}
	if n := len(rec.Lines); n > 0 && !l.Msg {
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
const recordMagic = "rebuild session record 3\n"

var errRecord = logcursor.ErrRecord

// encode writes rec compactly: a header (cursor, stats, summary), then
// the lines as a blob of their own — a string table, then each line with
// its time as a delta from the previous one — copied as it is when the
// lines were not decoded.
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
	blob := rec.raw
	if rec.decoded || blob == nil {
		blob = encodeLines(rec.Lines)
	}
	out = slices.Grow(out, binary.MaxVarintLen64+len(blob))
	return append(binary.AppendUvarint(out, uint64(len(blob))), blob...)
}

func encodeLines(lines []lineRec) []byte {
	strs := map[string]uint64{"": 0}
	var table []string
	idx := func(s string) uint64 {
		if i, ok := strs[s]; ok {
			return i
		}
		table = append(table, s)
		strs[s] = uint64(len(table))
		return uint64(len(table))
	}
	body := make([]byte, 0, 16*len(lines)) // a plain line takes about 8
	body = binary.AppendUvarint(body, uint64(len(lines)))
	var prev int64
	for _, l := range lines {
		flags := byte(0)
		if l.Msg {
			flags |= 1
		}
		if l.HasUsage {
			flags |= 2
		}
		body = append(body, flags)
		body = binary.AppendVarint(body, l.Sec-prev)
		prev = l.Sec
		body = binary.AppendUvarint(body, uint64(l.Nsec))
		body = binary.AppendUvarint(body, uint64(l.Count))
		body = binary.AppendUvarint(body, idx(l.Cwd))
		if !l.Msg {
			continue
		}
		body = binary.AppendUvarint(body, idx(l.MsgID))
		if l.HasUsage {
			for _, v := range [4]int64{l.Usage.Input, l.Usage.Output, l.Usage.CacheRead, l.Usage.CacheWrite} {
				body = binary.AppendVarint(body, v)
			}
		}
		body = binary.AppendUvarint(body, uint64(len(l.Calls)))
		for _, c := range l.Calls {
			body = binary.AppendUvarint(body, idx(c.ToolID))
			body = binary.AppendUvarint(body, idx(c.Server))
		}
	}
	var out []byte
	out = binary.AppendUvarint(out, uint64(len(table)))
	for _, s := range table {
		out = appendString(out, s)
	}
	return append(out, body...)
}

func appendString(b []byte, s string) []byte { return logcursor.AppendString(b, s) }

// decoder reads what encode wrote.
type decoder = logcursor.Decoder

// decodeRecord reads a record file's content; its lines are left
// undecoded (see lines()).
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
	rec.raw = d.Bytes(d.Uvarint())
	if d.Err != nil || len(d.B) != 0 {
		return nil, errRecord
	}
	return rec, nil
}

// decodeLines reads what encodeLines wrote.
func decodeLines(b []byte) ([]lineRec, error) {
	d := &decoder{B: b}
	n := d.Uvarint()
	if n > uint64(len(d.B)) {
		return nil, errRecord
	}
	table := make([]string, n)
	for i := range table {
		table[i] = d.Str()
	}
	n = d.Uvarint()
	if n > uint64(len(d.B)) {
		return nil, errRecord
	}
	lines := make([]lineRec, 0, n)
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
				l.Calls = make([]call, nc)
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
