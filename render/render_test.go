package render

import (
	"strings"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	for _, c := range []struct {
		mode string
		tty  bool
		want string
	}{
		{"auto", true, "tty"}, {"auto", false, "plain"}, {"", true, "tty"},
		{"tty", false, "tty"}, {"plain", true, "plain"}, {"json", true, "json"}, {"quiet", false, "quiet"},
	} {
		if got, err := Resolve(c.mode, c.tty); got != c.want || err != nil {
			t.Errorf("Resolve(%q, %v) = %q, %v; want %q", c.mode, c.tty, got, err, c.want)
		}
	}
	_, err := Resolve("fancy", true)
	if err == nil || !strings.Contains(err.Error(), "auto, tty, plain, json, quiet") {
		t.Errorf("Resolve(fancy) = %v; want an error listing the modes", err)
	}
	if _, err := New("auto", Options{}); err == nil {
		t.Error(`New("auto") must ask for Resolve`)
	}
	if _, err := New("fancy", Options{}); err == nil {
		t.Error(`New("fancy") succeeded`)
	}
	for _, m := range []string{ModeTTY, ModePlain, ModeJSON, ModeQuiet} {
		r, err := New(m, Options{Verbose: m != ModeQuiet})
		if err != nil {
			t.Fatal(err)
		}
		if (r.VerboseWriter() == nil) != (m == ModeQuiet) {
			t.Errorf("%s: VerboseWriter = %v", m, r.VerboseWriter())
		}
		if err := r.Close(); err != nil {
			t.Errorf("%s: Close = %v", m, err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("%s: second Close = %v", m, err)
		}
		r, _ = New(m, Options{})
		if r.VerboseWriter() != nil {
			t.Errorf("%s: VerboseWriter without Verbose", m)
		}
		_ = r.Close()
	}
}

// a(10s) ─▶ b(100s) ─▶ d(5s)
// c(30s) ──────────────▶ d
func TestCriticalRemaining(t *testing.T) {
	ts := []TaskInfo{{Name: "a", ETA: 10 * time.Second}, {Name: "c", ETA: 30 * time.Second},
		{Name: "b", ETA: 100 * time.Second}, {Name: "d", ETA: 5 * time.Second}}
	f := CriticalRemaining(ts, map[string][]string{"b": {"a"}, "d": {"b", "c"}})
	for _, c := range []struct {
		done []string
		want time.Duration
	}{
		{nil, 115 * time.Second},
		{[]string{"a"}, 105 * time.Second},
		{[]string{"a", "b"}, 35 * time.Second},
		{[]string{"a", "b", "c"}, 5 * time.Second},
		{[]string{"a", "b", "c", "d"}, 0},
	} {
		done := map[string]bool{}
		for _, n := range c.done {
			done[n] = true
		}
		if got := f(done); got != c.want {
			t.Errorf("done %v: %s, want %s", c.done, got, c.want)
		}
	}
}

func TestDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		400 * time.Millisecond: "0.4s", 9800 * time.Millisecond: "9.8s", 39 * time.Second: "39s",
		62 * time.Second: "1m02s", 99 * time.Second: "1m39s", 2*time.Hour + 5*time.Minute: "2h05m", -time.Second: "0.0s",
	} {
		if got := dur(d); got != want {
			t.Errorf("dur(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestLineFuncSplitsLines(t *testing.T) {
	var got []string
	w := LineFunc(func(l string) { got = append(got, l) })
	n, err := w.Write([]byte("[a] one\n[a] two\n"))
	if n != 16 || err != nil || strings.Join(got, "|") != "[a] one|[a] two" {
		t.Errorf("Write = %d, %v; lines %q", n, err, got)
	}
}

func TestFitCutsToWidth(t *testing.T) {
	p := palette{on: true}
	got := fit(10, seg{"⠋ ", p.cyan}, seg{"build ", nil}, seg{"building firefox", nil})
	want := "\x1b[36m⠋ \x1b[0mbuild b…"
	if got != want {
		t.Errorf("fit = %q, want %q", got, want)
	}
}
