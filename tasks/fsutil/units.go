package fsutil

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/text"
)

// FormatBytes renders n in binary units, the way du -h and the summary
// show sizes: "512 B", "1.2 KiB", "3.4 GiB" (internal/text owns it, so
// that packages below tasks can use it too).
func FormatBytes(n int64) string { return text.FormatBytes(n) }

// ParseSize reads a size such as "100M", "1.5GiB", "5MB" or "4096".
// K, M, G, T and KiB, MiB, GiB, TiB are binary (powers of 1024); KB, MB,
// GB, TB are decimal (powers of 1000); a bare number is bytes. Case does
// not matter; a space between number and unit is allowed.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if num == "" || err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a size (examples: 4096, 100M, 1.5GiB, 5MB)", s)
	}
	mult, ok := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
		"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
	}[unit]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q (use B, K, M, G, T, KiB…TiB or KB…TB)", s, t[i:])
	}
	b := v * mult
	if b >= math.MaxInt64 { // float64(MaxInt64) is 2⁶³, already too large
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(math.Round(b)), nil
}
