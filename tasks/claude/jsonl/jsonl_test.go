package jsonl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type rec struct {
	N int `json:"n"`
}

func TestReadCountsMalformedAndOverlongLines(t *testing.T) {
	long := `{"n":9,"pad":"` + strings.Repeat("x", 300) + `"}`
	in := strings.Join([]string{
		`{"n":1}`,
		``,
		`{not json`,
		`   `,
		`{"n":2}`,
		long,
		`{"n":"three"}`,
		`{"n":4}`, // no newline at the end
	}, "\n")
	var got []int
	st, err := Read(context.Background(), strings.NewReader(in), 100, func(r *rec) error {
		got = append(got, r.N)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 4}; !equal(got, want) {
		t.Errorf("records %v, want %v", got, want)
	}
	want := Stats{Lines: 6, Malformed: 2, TooLong: 1}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if d, w := st.Describe("x.jsonl"), "2 malformed lines and 1 over-long line skipped in x.jsonl"; d != w {
		t.Errorf("Describe = %q, want %q", d, w)
	}
}

func TestScannerLineLongerThanReadBufferButWithinLimit(t *testing.T) {
	big := `{"n":7,"pad":"` + strings.Repeat("y", 3*readSize) + `"}`
	in := big + "\r\n" + `{"n":8}` + "\n" + strings.Repeat("z", 5*readSize) + "\n" + `{"n":9}` + "\n"
	var got []int
	st, err := Read(context.Background(), strings.NewReader(in), 4*readSize, func(r *rec) error {
		got = append(got, r.N)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got, []int{7, 8, 9}) || st.TooLong != 1 || st.Malformed != 0 {
		t.Errorf("got %v, stats %+v", got, st)
	}
}

func TestScannerLimitBoundary(t *testing.T) {
	for _, tc := range []struct {
		line    string
		max     int
		tooLong bool
	}{
		{`{"n":1}`, 7, false},
		{`{"n":1}`, 6, true},
		{`{"n":12345}`, 11, false},
		{`{"n":12345}`, 10, true},
	} {
		st, _ := Read(context.Background(), strings.NewReader(tc.line+"\n"), tc.max, func(*rec) error { return nil })
		if (st.TooLong == 1) != tc.tooLong {
			t.Errorf("%q with limit %d: stats %+v", tc.line, tc.max, st)
		}
	}
}

func TestSkipFromCallbackAndAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "log.jsonl")
	if err := Append(path, rec{1}, rec{2}); err != nil {
		t.Fatal(err)
	}
	if err := Append(path, rec{3}); err != nil {
		t.Fatal(err)
	}
	var sum int
	st, err := ReadFile(context.Background(), path, 0, func(r *rec) error {
		if r.N == 2 {
			return ErrSkip
		}
		sum += r.N
		return nil
	})
	if err != nil || sum != 4 || st.Malformed != 1 || st.Lines != 3 {
		t.Errorf("sum %d stats %+v err %v", sum, st, err)
	}
	if _, err := ReadFile(context.Background(), filepath.Join(t.TempDir(), "none"), 0, func(*rec) error { return nil }); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := strings.Repeat(`{"n":1}`+"\n", 3*checkEvery)
	n := 0
	_, err := Read(ctx, strings.NewReader(in), 0, func(*rec) error { n++; return nil })
	if err == nil || n >= 3*checkEvery {
		t.Errorf("err %v after %d records", err, n)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A Scanner reset over another stream reads it as a new one would, its
// counts started afresh.
func TestScannerReset(t *testing.T) {
	sc := NewScanner(strings.NewReader("{\"a\":1}\n"+strings.Repeat("x", 100)+"\n"), 50)
	for sc.Scan() {
	}
	if st := sc.Stats(); st.Lines != 2 || st.TooLong != 1 {
		t.Fatalf("first stream: %+v", st)
	}
	sc.Reset(strings.NewReader("1\n\n2\n3"), 50)
	var got []string
	for sc.Scan() {
		got = append(got, string(sc.Bytes()))
	}
	if strings.Join(got, ",") != "1,2,3" || sc.Stats() != (Stats{Lines: 3}) {
		t.Fatalf("after Reset: %q %+v", got, sc.Stats())
	}
	sc.Reset(strings.NewReader(strings.Repeat("y", 30)+"\n"), 8)
	if sc.Scan() || sc.Stats().TooLong != 1 {
		t.Fatalf("a smaller limit after Reset: %+v", sc.Stats())
	}
}

// A Scanner sized for its reader reads what one of the default size
// does, the size right or too small (a line longer than the buffer is
// assembled, as always).
func TestScannerSizeReadsTheSame(t *testing.T) {
	inputs := []string{"", "{}", "{}\n", "1\n\n22\n333", strings.Repeat("x", 100) + "\n1\n", "a\r\nbb\r\n" + strings.Repeat("z", 40)}
	for _, in := range inputs {
		for _, size := range []int64{int64(len(in)), 0, 1, 5} {
			for _, max := range []int{0, 50} {
				lines := func(sc *Scanner) (out []string) {
					for sc.Scan() {
						out = append(out, string(sc.Bytes()))
					}
					return append(out, fmt.Sprint(sc.Stats()))
				}
				want := lines(NewScanner(strings.NewReader(in), max))
				if got := lines(NewScannerSize(strings.NewReader(in), size, max)); !slices.Equal(got, want) {
					t.Errorf("%q, size %d, limit %d: %q, want %q", in, size, max, got, want)
				}
			}
		}
	}
}
