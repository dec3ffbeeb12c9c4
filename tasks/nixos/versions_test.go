package nixos

import "testing"

// Cases from Nix's own tests of compareVersions (tests/lang and
// libstore's names tests), and the downgrade the diff must mark.
func TestCompareVersionsLikeNix(t *testing.T) {
	less := [][2]string{
		{"2.1232", "2.7790"},
		{"1.0", "2.3"},
		{"2.1", "2.3"},
		{"2.3", "2.3.1"},
		{"2.3.1", "2.3.2"},
		{"2.3a", "2.3.1"},
		{"2.3pre1", "2.3"},
		{"2.3pre3", "2.3pre12"},
		{"2.3a", "2.3c"},
		{"2.3pre1", "2.3c"},
		{"2.3pre1", "2.3q"},
		{"1.9", "1.10"},
		{"", "1"},
		{"20220509", "20221201"},
		{"2.3", "2.3.0"}, // a missing component is less than a number
	}
	for _, c := range less {
		if got := compareVersions(c[0], c[1]); got != -1 {
			t.Errorf("compareVersions(%q, %q) = %d, want -1", c[0], c[1], got)
		}
		if got := compareVersions(c[1], c[0]); got != 1 {
			t.Errorf("compareVersions(%q, %q) = %d, want 1", c[1], c[0], got)
		}
	}
	for _, c := range [][2]string{{"2.0", "2.0"}, {"2.3-1", "2.3.1"}, {"1.0", "1.0"}} {
		if got := compareVersions(c[0], c[1]); got != 0 {
			t.Errorf("compareVersions(%q, %q) = %d, want 0", c[0], c[1], got)
		}
	}
}
