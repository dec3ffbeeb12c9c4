package logcursor

import (
	"encoding/binary"
	"errors"
)

// ErrRecord is a state file, or a part of one, that is not what its
// writer wrote: its log is read again.
var ErrRecord = errors.New("not a record")

// AppendString encodes s, prefixed with its length.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Decoder reads what the Append functions and encoding/binary's varints
// wrote; the first malformed byte sets Err and every read after it
// returns zero.
type Decoder struct {
	B   []byte
	Err error
}

func (d *Decoder) fail() {
	d.Err, d.B = ErrRecord, nil
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 {
	v, n := binary.Varint(d.B)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Count reads a length that at most len(d.B) things can follow: a larger
// one is damage, not an allocation to make.
func (d *Decoder) Count() int {
	n := d.Uvarint()
	if n > uint64(len(d.B)) {
		d.fail()
		return 0
	}
	return int(n)
}

// Bytes reads the next n bytes (aliasing the input).
func (d *Decoder) Bytes(n uint64) []byte {
	if uint64(len(d.B)) < n {
		d.fail()
		return nil
	}
	v := d.B[:n]
	d.B = d.B[n:]
	return v
}

// Strings reads n strings as AppendString wrote them, one after another,
// sharing one allocation: the bytes as they are stored. nil after damage
// (d.Err set).
func (d *Decoder) Strings(n int) []string {
	start := d.B
	ends := make([]int, 2*n) // of each string in start
	for i := range n {
		size := d.Uvarint()
		ends[2*i] = len(start) - len(d.B)
		d.Bytes(size)
		ends[2*i+1] = len(start) - len(d.B)
	}
	if d.Err != nil {
		return nil
	}
	all := string(start[:len(start)-len(d.B)])
	out := make([]string, n)
	for i := range out {
		out[i] = all[ends[2*i]:ends[2*i+1]]
	}
	return out
}

// Str reads what AppendString wrote.
func (d *Decoder) Str() string { return string(d.Bytes(d.Uvarint())) }

// Index reads an index into table, 0 standing for "" and i for table[i-1].
func (d *Decoder) Index(table []string) string {
	i := d.Uvarint()
	if i > uint64(len(table)) {
		d.fail()
		return ""
	}
	if i == 0 {
		return ""
	}
	return table[i-1]
}

// Done reports the first error, or ErrRecord when bytes are left over.
func (d *Decoder) Done() error {
	if d.Err == nil && len(d.B) != 0 {
		return ErrRecord
	}
	return d.Err
}
