package mcpusage

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
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

// cursor says which bytes of which file the record covers. A log is read
// from Offset on only while it is still the same file (device, inode) no
// shorter than Offset, and a sample of the bytes before Offset still
// hashes to Sample; otherwise it was truncated or replaced and is read
// again from its start.
type cursor struct {
	Dev, Ino uint64
	Size     int64 // as last seen (the bytes past Offset are a line still being written)
	Offset   int64 // just after the last complete line read
	Sample   [32]byte
}

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
const recordMagic = "rebuild session record 2\n"

var errRecord = errors.New("not a session record")

// encode writes rec compactly: a header (cursor, stats, summary), then
// the lines as a blob of their own — a string table, then each line with
// its time as a delta from the previous one — copied as it is when the
// lines were not decoded.
func (rec *logRecord) encode() []byte {
	out := []byte(recordMagic)
	out = appendString(out, rec.Path)
	c := rec.Cursor
	for _, v := range []uint64{c.Dev, c.Ino, uint64(c.Size), uint64(c.Offset)} {
		out = binary.AppendUvarint(out, v)
	}
	out = append(out, c.Sample[:]...)
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

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decoder reads what encode wrote; the first malformed byte sets err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errRecord, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = errRecord, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if uint64(len(d.b)) < n {
		d.err, d.b = errRecord, nil
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes(d.uvarint())) }

func (d *decoder) index(table []string) string {
	i := d.uvarint()
	if i > uint64(len(table)) {
		d.err, d.b = errRecord, nil
		return ""
	}
	if i == 0 {
		return ""
	}
	return table[i-1]
}

// decodeRecord reads a record file's content; its lines are left
// undecoded (see lines()).
func decodeRecord(b []byte) (*logRecord, error) {
	if len(b) < len(recordMagic) || string(b[:len(recordMagic)]) != recordMagic {
		return nil, errRecord
	}
	d := &decoder{b: b[len(recordMagic):]}
	rec := &logRecord{Path: d.str()}
	c := &rec.Cursor
	c.Dev, c.Ino, c.Size, c.Offset = d.uvarint(), d.uvarint(), int64(d.uvarint()), int64(d.uvarint())
	copy(c.Sample[:], d.bytes(32))
	rec.Stats = jsonl.Stats{Lines: int64(d.uvarint()), Malformed: int64(d.uvarint()), TooLong: int64(d.uvarint())}
	rec.First = lineTime{Sec: d.varint(), Nsec: int32(d.uvarint())}
	rec.Sum = logSum{Lines: int64(d.uvarint()), Project: d.str(), Servers: map[string]int64{}, Use: map[string]*ServerUse{}}
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		name := d.str()
		rec.Sum.Servers[name] = d.varint()
	}
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		name := d.str()
		rec.Sum.Use[name] = &ServerUse{Invocations: d.varint(), Usage: Usage{d.varint(), d.varint(), d.varint(), d.varint()}}
	}
	rec.raw = d.bytes(d.uvarint())
	if d.err != nil || len(d.b) != 0 {
		return nil, errRecord
	}
	return rec, nil
}

// decodeLines reads what encodeLines wrote.
func decodeLines(b []byte) ([]lineRec, error) {
	d := &decoder{b: b}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return nil, errRecord
	}
	table := make([]string, n)
	for i := range table {
		table[i] = d.str()
	}
	n = d.uvarint()
	if n > uint64(len(d.b)) {
		return nil, errRecord
	}
	lines := make([]lineRec, 0, n)
	var prev int64
	for range n {
		flags := d.bytes(1)
		if d.err != nil {
			return nil, d.err
		}
		l := lineRec{Msg: flags[0]&1 != 0, HasUsage: flags[0]&2 != 0}
		l.Sec = prev + d.varint()
		prev = l.Sec
		l.Nsec, l.Count, l.Cwd = int32(d.uvarint()), int64(d.uvarint()), d.index(table)
		if l.Msg {
			l.MsgID = d.index(table)
			if l.HasUsage {
				l.Usage = Usage{d.varint(), d.varint(), d.varint(), d.varint()}
			}
			nc := d.uvarint()
			if nc > uint64(len(d.b)) {
				return nil, errRecord
			}
			if nc > 0 {
				l.Calls = make([]call, nc)
				for i := range l.Calls {
					l.Calls[i] = call{ToolID: d.index(table), Server: d.index(table)}
				}
			}
		}
		lines = append(lines, l)
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errRecord
	}
	return lines, nil
}
