package logcursor

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// Cursor says which bytes of which file a record covers. A log is read
// from Offset on only while it is still the same file (device, inode) no
// shorter than Offset, and a sample of the bytes before Offset still
// hashes to Sample; otherwise it was truncated or replaced and is read
// again from its start.
//
// The sample is not even looked at when the file is Unchanged: the same
// device, inode, size, modification and change times as when it was
// last read, and it had been left alone for a while by then (Settled).
// Any write since would have moved its change time, which no program can
// set back: this is how git trusts its index.
type Cursor struct {
	Dev, Ino     uint64
	Size         int64 // as last seen (the bytes past Offset are a line still being written)
	Offset       int64 // just after the last complete line read
	Mtime, Ctime int64 // as last seen, in nanoseconds
	// Settled: the file's change time was SettleTime before the reading
	// began, so a write after it could not share that change time.
	Settled bool
	Sample  [32]byte
}

// SettleTime is how long a file must have been left alone, when it is
// read, for its times to vouch for its content later: well above the
// granularity of any file system's clock.
const SettleTime = 2 * time.Second

// SampleSize is how many bytes at each end of the part read are hashed
// to tell the same file grown from another one of at least that size.
const SampleSize = 4 << 10

// Stat describes f as it is now: device, inode, size and times, nothing
// read. regular is false for a file that is not a regular one (a named
// pipe, say): it has no offsets to keep, and is read as a stream.
func Stat(f *os.File) (cur Cursor, regular bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return Cursor{}, false, err
	}
	return Of(fi), fi.Mode().IsRegular(), nil
}

// Of describes the file fi describes, as Stat does.
func Of(fi fs.FileInfo) Cursor {
	cur := Cursor{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		cur.Dev, cur.Ino = uint64(st.Dev), uint64(st.Ino)
		cur.Ctime = st.Ctim.Nano()
	}
	return cur
}

// Unchanged reports whether cur, a description of the file now, is what
// c saw of it, settled: then it holds the bytes c read, unlooked at.
func (c Cursor) Unchanged(cur Cursor) bool {
	return c.Settled && c.Dev == cur.Dev && c.Ino == cur.Ino && c.Size == cur.Size &&
		c.Mtime == cur.Mtime && c.Ctime == cur.Ctime
}

// Holds reports whether f, described now by cur, is still the file c was
// taken from, grown or not: unchanged, or the same device and inode, no
// shorter than the part read, and the bytes sampled from that part the
// same.
func (c Cursor) Holds(f *os.File, cur Cursor) bool {
	if c.Unchanged(cur) {
		return true
	}
	if c.Dev != cur.Dev || c.Ino != cur.Ino || cur.Size < c.Offset {
		return false
	}
	s, err := Sample(f, c.Offset)
	return err == nil && s == c.Sample
}

// Advance returns cur (f as it is now) read up to end, c being the
// cursor it was read from (zero: from the start), since the time (of
// the file system's clock: Store.Now) at which the reading began; zero
// settles nothing. The sample is taken again only when the offset moved:
// Holds hashed the same bytes already.
func (c Cursor) Advance(f *os.File, cur Cursor, end int64, since int64) (Cursor, error) {
	cur.Offset, cur.Sample = end, c.Sample
	cur.Settled = since != 0 && cur.Ctime != 0 && cur.Ctime < since-int64(SettleTime)
	if end != c.Offset || c.Offset == 0 {
		s, err := Sample(f, end)
		if err != nil {
			return Cursor{}, err
		}
		cur.Sample = s
	}
	return cur, nil
}

// Sample hashes the first and the last SampleSize bytes before off, and off.
func Sample(f *os.File, off int64) ([32]byte, error) {
	h := sha256.New()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(off))
	h.Write(n[:])
	buf := make([]byte, SampleSize)
	head := buf[:min(int64(SampleSize), off)]
	if _, err := f.ReadAt(head, 0); err != nil {
		return [32]byte{}, err
	}
	h.Write(head)
	if off > SampleSize {
		last := buf[:min(int64(SampleSize), off-SampleSize)]
		if _, err := f.ReadAt(last, off-int64(len(last))); err != nil {
			return [32]byte{}, err
		}
		h.Write(last)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// LineEnd returns the offset just after the last newline in [from, to),
// or from when there is none. It reads back from to, a few kilobytes
// first: the last line is mostly short, and the file mostly complete.
func LineEnd(f *os.File, from, to int64) (int64, error) {
	buf := make([]byte, 4<<10)
	for pos := to; pos > from; {
		if len(buf) < 64<<10 && pos < to {
			buf = make([]byte, 64<<10)
		}
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

// Append encodes c at the end of b.
func (c Cursor) Append(b []byte) []byte {
	for _, v := range []uint64{c.Dev, c.Ino, uint64(c.Size), uint64(c.Offset)} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendVarint(binary.AppendVarint(b, c.Mtime), c.Ctime)
	settled := byte(0)
	if c.Settled {
		settled = 1
	}
	return append(append(b, settled), c.Sample[:]...)
}

// Cursor reads what Cursor.Append wrote.
func (d *Decoder) Cursor() Cursor {
	var c Cursor
	c.Dev, c.Ino, c.Size, c.Offset = d.Uvarint(), d.Uvarint(), int64(d.Uvarint()), int64(d.Uvarint())
	c.Mtime, c.Ctime = d.Varint(), d.Varint()
	switch b := d.Bytes(1); {
	case len(b) == 1 && b[0] == 1:
		c.Settled = true
	case len(b) == 1 && b[0] != 0:
		d.fail()
	}
	copy(c.Sample[:], d.Bytes(32))
	return c
}
