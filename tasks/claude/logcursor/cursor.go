package logcursor

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"syscall"
)

// Cursor says which bytes of which file a record covers. A log is read
// from Offset on only while it is still the same file (device, inode) no
// shorter than Offset, and a sample of the bytes before Offset still
// hashes to Sample; otherwise it was truncated or replaced and is read
// again from its start.
type Cursor struct {
	Dev, Ino uint64
	Size     int64 // as last seen (the bytes past Offset are a line still being written)
	Offset   int64 // just after the last complete line read
	Sample   [32]byte
}

// SampleSize is how many bytes at each end of the part read are hashed
// to tell the same file grown from another one of at least that size.
const SampleSize = 4 << 10

// Stat describes f as it is now: device, inode and size, nothing read.
// regular is false for a file that is not a regular one (a named pipe,
// say): it has no offsets to keep, and is read as a stream.
func Stat(f *os.File) (cur Cursor, regular bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return Cursor{}, false, err
	}
	cur = Cursor{Size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		cur.Dev, cur.Ino = uint64(st.Dev), uint64(st.Ino)
	}
	return cur, fi.Mode().IsRegular(), nil
}

// Holds reports whether f, described now by cur, is still the file c was
// taken from, grown or not: same device and inode, no shorter than the
// part read, and the bytes sampled from that part unchanged.
func (c Cursor) Holds(f *os.File, cur Cursor) bool {
	if c.Dev != cur.Dev || c.Ino != cur.Ino || cur.Size < c.Offset {
		return false
	}
	s, err := Sample(f, c.Offset)
	return err == nil && s == c.Sample
}

// Advance returns cur (f as it is now) read up to end, c being the
// cursor it was read from (zero: from the start). The sample is taken
// again only when the offset moved: Holds hashed the same bytes already.
func (c Cursor) Advance(f *os.File, cur Cursor, end int64) (Cursor, error) {
	cur.Offset, cur.Sample = end, c.Sample
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
// or from when there is none.
func LineEnd(f *os.File, from, to int64) (int64, error) {
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

// Append encodes c at the end of b.
func (c Cursor) Append(b []byte) []byte {
	for _, v := range []uint64{c.Dev, c.Ino, uint64(c.Size), uint64(c.Offset)} {
		b = binary.AppendUvarint(b, v)
	}
	return append(b, c.Sample[:]...)
}

// Cursor reads what Cursor.Append wrote.
func (d *Decoder) Cursor() Cursor {
	var c Cursor
	c.Dev, c.Ino, c.Size, c.Offset = d.Uvarint(), d.Uvarint(), int64(d.Uvarint()), int64(d.Uvarint())
	copy(c.Sample[:], d.Bytes(32))
	return c
}
