package logcursor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// read returns the cursor of path read up to its last complete line.
func read(t *testing.T, path string, from Cursor) Cursor {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cur, _, err := Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	end, err := LineEnd(f, from.Offset, cur.Size)
	if err != nil {
		t.Fatal(err)
	}
	c, err := from.Advance(f, cur, end, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func holds(t *testing.T, path string, c Cursor) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cur, _, err := Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	return c.Holds(f, cur)
}

func TestCursorHoldsForAppendsOnly(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log.jsonl")
	line := strings.Repeat("x", 3000) + "\n"
	write := func(s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(line + line + line + "partial")
	c := read(t, p, Cursor{})
	if c.Offset != int64(3*len(line)) || c.Size != c.Offset+7 {
		t.Fatalf("cursor %+v: want the offset after the last complete line", c)
	}
	if !holds(t, p, c) {
		t.Fatal("an unchanged log does not hold")
	}
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(" done\n" + line)
	f.Close()
	if !holds(t, p, c) {
		t.Fatal("a log appended to does not hold")
	}
	if c2 := read(t, p, c); c2.Offset != c2.Size {
		t.Fatalf("read on: %+v", c2)
	}
	// Same size, other bytes before the offset (in place): not held.
	b, _ := os.ReadFile(p)
	b[10] = 'y'
	write(string(b))
	if holds(t, p, c) {
		t.Error("a log rewritten in place holds")
	}
	// Truncated below the offset.
	write(line)
	if holds(t, p, c) {
		t.Error("a truncated log holds")
	}
	// Replaced by another file with the same bytes: another inode.
	write(line + line + line + "partial")
	c = read(t, p, Cursor{})
	tmp := filepath.Join(dir, "tmp")
	os.WriteFile(tmp, []byte(line+line+line+"partial"), 0o644)
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if holds(t, p, c) {
		t.Error("a log replaced by another file holds")
	}
}

func TestStoreLockAndReplace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ctx := context.Background()
	st, b, err := Open(ctx, dir, "x.rec", "x.lock")
	if err != nil || b != nil {
		t.Fatalf("first open: %v %q", err, b)
	}
	// Held: a second Open waits until its context gives up.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := Open(short, dir, "x.rec", "x.lock"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second open while locked: %v", err)
	}
	if err := st.Replace([]byte("one")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, b, err = Open(ctx, dir, "x.rec", "x.lock")
	if err != nil || len(b) != 1 || string(b[0]) != "one" {
		t.Fatalf("reopened: %v %q", err, b)
	}
	if err := st.Remove(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if names, _ := filepath.Glob(filepath.Join(dir, "*x.rec*")); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
}

// A store is a journal: a whole state, then what was appended, read back
// in order; a frame cut short or damaged ends it there, and the next
// append writes over what is left of it.
func TestStoreJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ctx := context.Background()
	frames := func() []string {
		t.Helper()
		st, b, err := Open(ctx, dir, "x.rec", "x.lock")
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		var out []string
		for _, f := range b {
			out = append(out, string(f))
		}
		return out
	}
	write := func(fn func(st *Store) error) {
		t.Helper()
		st, _, err := Open(ctx, dir, "x.rec", "x.lock")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := fn(st); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing kept yet: an append is the whole state.
	write(func(st *Store) error { return st.Append([]byte("base")) })
	write(func(st *Store) error { return st.Append([]byte("one")) })
	write(func(st *Store) error {
		if err := st.Append([]byte("")); err != nil {
			return err
		}
		return st.Append([]byte("three"))
	})
	if got := frames(); !slices.Equal(got, []string{"base", "one", "", "three"}) {
		t.Fatalf("frames %q", got)
	}
	path := filepath.Join(dir, "x.rec")
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Cut anywhere in the last frame, or a byte of it changed: the
	// frames before it are read, and an append goes after them.
	last := len(whole) - (1 + len("three") + 4)
	for cut := last; cut < len(whole); cut++ {
		for _, damage := range []bool{false, true} {
			b := slices.Clone(whole)
			if damage {
				b[cut] ^= 0x40
			} else {
				b = b[:cut]
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if got := frames(); !slices.Equal(got, []string{"base", "one", ""}) {
				t.Fatalf("cut at %d (damage %v): frames %q", cut, damage, got)
			}
			write(func(st *Store) error { return st.Append([]byte("four")) })
			if got := frames(); !slices.Equal(got, []string{"base", "one", "", "four"}) {
				t.Fatalf("cut at %d (damage %v), appended: frames %q", cut, damage, got)
			}
		}
	}
	// Not a journal (an older version's file): no state; replaced whole.
	if err := os.WriteFile(path, []byte("rebuild learning ledger 1\n..."), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := frames(); got != nil {
		t.Fatalf("an older file read as %q", got)
	}
	write(func(st *Store) error { return st.Append([]byte("new")) })
	write(func(st *Store) error { return st.Replace([]byte("again")) })
	write(func(st *Store) error { return st.Append([]byte("more")) })
	if got := frames(); !slices.Equal(got, []string{"again", "more"}) {
		t.Fatalf("frames %q", got)
	}
}

func TestDecoderRefusesDamage(t *testing.T) {
	c := Cursor{Dev: 1, Ino: 2, Size: 300, Offset: 200, Sample: [32]byte{9}}
	b := AppendString(c.Append(nil), "tail")
	d := &Decoder{B: b}
	if got, s := d.Cursor(), d.Str(); got != c || s != "tail" || d.Done() != nil {
		t.Fatalf("round trip: %+v %q %v", got, s, d.Done())
	}
	for i := range b {
		d := &Decoder{B: b[:i]}
		d.Cursor()
		d.Str()
		if d.Done() == nil {
			t.Fatalf("cut at %d of %d: decoded", i, len(b))
		}
	}
}

// A file left alone for SettleTime before a reading is later trusted by
// its times alone (not opened); any write since shows in its change
// time, so it is looked at again, even when the size stays the same.
func TestSettledFileIsTrustedUntilWrittenTo(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log.jsonl")
	line := strings.Repeat("x", 100) + "\n"
	if err := os.WriteFile(p, []byte(line+line), 0o644); err != nil {
		t.Fatal(err)
	}
	stat := func() Cursor {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return Of(fi)
	}
	read := func(now int64) Cursor {
		t.Helper()
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cur, _, _ := Stat(f)
		end, _ := LineEnd(f, 0, cur.Size)
		c, err := Cursor{}.Advance(f, cur, end, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	lockNow := func() int64 {
		t.Helper()
		st, _, err := Open(context.Background(), dir, "x.rec", "x.lock")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if st.Now == 0 {
			t.Fatal("the store does not tell the file system's time")
		}
		return st.Now
	}
	if c := read(lockNow()); c.Settled || c.Unchanged(stat()) {
		t.Fatalf("a file just written is settled: %+v", c)
	}
	time.Sleep(SettleTime + 100*time.Millisecond)
	c := read(lockNow())
	if !c.Settled || !c.Unchanged(stat()) {
		t.Fatalf("a file left alone is not settled: %+v", c)
	}
	// Rewritten in place, same size: the change time moved.
	b := []byte(line + line)
	b[5] = 'y'
	for {
		before := stat()
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if after := stat(); after.Ctime != before.Ctime {
			break
		}
		time.Sleep(10 * time.Millisecond) // the clock of the file system did not tick yet
	}
	if c.Unchanged(stat()) {
		t.Error("a file rewritten in place is unchanged")
	}
	f, _ := os.Open(p)
	defer f.Close()
	if cur, _, _ := Stat(f); c.Holds(f, cur) {
		t.Error("a file rewritten in place holds")
	}
}

// LineEnd finds the last newline wherever it is: in the few kilobytes it
// reads first, beyond them, or before from (none).
func TestLineEnd(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	for _, tail := range []int{0, 1, 4095, 4096, 4097, 70000, 140000} {
		for _, head := range []int{0, 10, 5000} {
			content := strings.Repeat("a", head) + "\n" + strings.Repeat("b", tail)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, from := range []int64{0, int64(head), int64(head) + 1} {
				want := int64(head) + 1
				if want <= from {
					want = from
				}
				if got, err := LineEnd(f, from, int64(len(content))); err != nil || got != want {
					t.Errorf("head %d, tail %d, from %d: %d %v, want %d", head, tail, from, got, err, want)
				}
			}
			f.Close()
		}
	}
}
