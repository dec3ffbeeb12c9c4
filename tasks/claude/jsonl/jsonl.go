// Package jsonl streams JSON Lines files one line at a time with a bounded
// buffer, so a session log of a gigabyte costs as much memory as its
// longest accepted line, never the whole file.
//
// A line that is not valid JSON is counted as malformed and skipped; a
// line longer than the limit is counted as too long and skipped without
// being held in memory. Neither ends the read: a log being appended to
// while it is read, or a single corrupt line, must not hide the rest.
//
// jsonl imports nothing of this project's but the leaf internal/safefile
// (so a file it creates as root in a user's home stays the user's), and
// never prints.
package jsonl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/rebuild-nixos/rebuild/internal/safefile"
	"github.com/rebuild-nixos/rebuild/internal/text"
)

// DefaultMaxLine is the longest line decoded by default. Claude Code
// writes whole tool results (file contents, screenshots in base64) on one
// line; anything longer than this is skipped and counted.
const DefaultMaxLine = 8 << 20

// readSize is the fixed read buffer; a longer line is assembled in a
// separate slice that grows only up to the limit.
const readSize = 64 << 10

// Stats counts what a read saw.
type Stats struct {
	Lines     int64 // non-blank lines, including the skipped ones
	Malformed int64 // lines that were not valid JSON (or not the expected shape)
	TooLong   int64 // lines longer than the limit, skipped unread
}

// Skipped is the number of lines that were not used.
func (s Stats) Skipped() int64 { return s.Malformed + s.TooLong }

// Add sums two Stats.
func (s Stats) Add(o Stats) Stats {
	return Stats{Lines: s.Lines + o.Lines, Malformed: s.Malformed + o.Malformed, TooLong: s.TooLong + o.TooLong}
}

// Describe returns "" when nothing was skipped, else a line such as
// "2 malformed lines skipped in permission_approvals.jsonl".
func (s Stats) Describe(where string) string {
	var parts []string
	if s.Malformed > 0 {
		parts = append(parts, text.Plural(s.Malformed, "malformed line", "malformed lines"))
	}
	if s.TooLong > 0 {
		parts = append(parts, text.Plural(s.TooLong, "over-long line", "over-long lines"))
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0] + " skipped in " + where
	default:
		return parts[0] + " and " + parts[1] + " skipped in " + where
	}
}

// Scanner yields the non-blank lines of a stream, each at most max bytes.
// The slice returned by Bytes is valid until the next call to Scan.
type Scanner struct {
	r     *bufio.Reader
	max   int
	long  []byte // a line longer than the read buffer, assembled
	line  []byte
	stats Stats
	err   error
}

// NewScanner returns a Scanner over r accepting lines of at most maxLine
// bytes (DefaultMaxLine when maxLine ≤ 0).
func NewScanner(r io.Reader, maxLine int) *Scanner {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	size := readSize
	if maxLine < size {
		size = max(16, maxLine)
	}
	return &Scanner{r: bufio.NewReaderSize(r, size), max: maxLine}
}

// NewScannerSize is NewScanner for a reader of at most size bytes: its
// read buffer is no larger than they need. A run reading the few lines
// appended to a file since the last one allocates a few kilobytes, not
// the buffer of a whole read.
func NewScannerSize(r io.Reader, size int64, maxLine int) *Scanner {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	buf := int64(min(readSize, maxLine))
	if size+1 < buf {
		buf = size + 1
	}
	return &Scanner{r: bufio.NewReaderSize(r, int(max(16, buf))), max: maxLine}
}

// Reset makes s a Scanner over r, as NewScanner(r, maxLine) would, keeping
// its read buffer when it is of the size needed: a reader of hundreds of
// files allocates one, not one per file.
func (s *Scanner) Reset(r io.Reader, maxLine int) {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	size := readSize
	if maxLine < size {
		size = max(16, maxLine)
	}
	br := s.r
	if br == nil || br.Size() != size {
		br = bufio.NewReaderSize(r, size)
	} else {
		br.Reset(r)
	}
	long := s.long[:0]
	if cap(long) > 4*readSize {
		long = nil
	}
	*s = Scanner{r: br, max: maxLine, long: long}
}

// Scan advances to the next non-blank line that is not too long. It
// returns false at the end of the stream or on a read error (see Err).
func (s *Scanner) Scan() bool {
	if s.err != nil {
		return false
	}
	if cap(s.long) > 4*readSize {
		s.long = nil // one huge line must not pin its buffer for the rest of the file
	}
	for {
		line, tooLong, err := s.next()
		if err != nil && (err != io.EOF || (len(line) == 0 && !tooLong)) {
			if err != io.EOF {
				s.err = err
			}
			return false
		}
		if tooLong {
			s.stats.Lines++
			s.stats.TooLong++
			if err == io.EOF {
				return false
			}
			continue
		}
		line = trimSpace(line)
		if len(line) == 0 {
			if err == io.EOF {
				return false
			}
			continue
		}
		s.stats.Lines++
		s.line = line
		return true
	}
}

// next reads one raw line (without its newline). tooLong reports a line
// beyond the limit, whose bytes were dropped as they were read.
func (s *Scanner) next() (line []byte, tooLong bool, err error) {
	frag, err := s.r.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		line = trimNewline(frag)
		if len(line) > s.max {
			return nil, true, err
		}
		return line, false, err
	}
	s.long = append(s.long[:0], frag...)
	for {
		frag, err = s.r.ReadSlice('\n')
		if !tooLong {
			if len(s.long)+len(frag) > s.max+2 { // +2: the line end is not content
				tooLong = true
				s.long = s.long[:0]
			} else {
				s.long = append(s.long, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			return nil, true, err
		}
		line = trimNewline(s.long)
		if len(line) > s.max {
			return nil, true, err
		}
		return line, false, err
	}
}

// Bytes returns the current line.
func (s *Scanner) Bytes() []byte { return s.line }

// Malformed counts the current line as malformed (the caller could not
// decode it).
func (s *Scanner) Malformed() { s.stats.Malformed++ }

// Err returns the first read error other than io.EOF.
func (s *Scanner) Err() error { return s.err }

// Stats returns what was counted so far.
func (s *Scanner) Stats() Stats { return s.stats }

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// checkEvery is how many lines pass between two looks at the context.
const checkEvery = 1024

// Read decodes each line of r into a fresh T and calls fn with it. A line
// that does not decode is counted as malformed; fn may return ErrSkip to
// count its line as malformed too (valid JSON of the wrong shape). Any
// other error from fn ends the read and is returned.
func Read[T any](ctx context.Context, r io.Reader, maxLine int, fn func(*T) error) (Stats, error) {
	sc := NewScanner(r, maxLine)
	var n int
	for sc.Scan() {
		if n++; n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return sc.Stats(), err
			}
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			sc.Malformed()
			continue
		}
		if err := fn(&v); err != nil {
			if errors.Is(err, ErrSkip) {
				sc.Malformed()
				continue
			}
			return sc.Stats(), err
		}
	}
	return sc.Stats(), sc.Err()
}

// ErrSkip, returned by Read's callback, counts the line as malformed.
var ErrSkip = errors.New("jsonl: malformed line")

// ReadFile is Read on the file at path. A missing file is returned as an
// error satisfying errors.Is(err, fs.ErrNotExist).
func ReadFile[T any](ctx context.Context, path string, maxLine int, fn func(*T) error) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	st, err := Read(ctx, f, maxLine, fn)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return st, err
}

// Append writes v as one line at the end of the file at path, creating it
// (and its folder) when needed. One write per line: lines appended by
// concurrent writers never interleave.
func Append(path string, v ...any) error {
	var buf []byte
	for _, x := range v {
		b, err := json.Marshal(x)
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	if err := safefile.MkdirAll(dirOf(path), 0o755); err != nil {
		return err
	}
	_, statErr := os.Lstat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// Created now: run as root in someone's home, it is theirs.
		if err := safefile.GiveLike(f, nil, dirOf(path)); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			if i == 0 {
				return "/"
			}
			return p[:i]
		}
	}
	return "."
}
