package fsutil

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "10B": 10, "1K": 1024, "1k": 1024, "1KiB": 1024, "1KB": 1000,
		"100M": 100 << 20, "100 MiB": 100 << 20, "5MB": 5_000_000, "1.5G": 3 << 29, "2GB": 2e9, "1T": 1 << 40,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "M", "-1M", "12 parsecs", "1e3", "9999999999T", "8388608T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB",
		1288490189: "1.2 GiB", 300 << 30: "300 GiB", -2048: "-2.0 KiB",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// FuzzParseSize: any text either parses to a size ≥ 0 or is refused with
// a message quoting it; it never panics.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"100M", "1.5 GiB", "5MB", "0", "", "9999999999T", "1e3", "..M"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}
