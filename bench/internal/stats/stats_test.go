package stats

import (
	"testing"
	"time"
)

func TestMedianMin(t *testing.T) {
	for _, tc := range []struct {
		in       []time.Duration
		med, low time.Duration
	}{
		{nil, 0, 0},
		{[]time.Duration{5}, 5, 5},
		{[]time.Duration{9, 1, 5}, 5, 1},
		{[]time.Duration{8, 2, 4, 6}, 5, 2},
	} {
		in := append([]time.Duration(nil), tc.in...)
		if med, low := MedianMin(tc.in); med != tc.med || low != tc.low {
			t.Errorf("MedianMin(%v) = %v, %v; want %v, %v", in, med, low, tc.med, tc.low)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("MedianMin reordered its argument: %v", tc.in)
			}
		}
	}
}

func TestEach(t *testing.T) {
	type s struct{ a, b time.Duration }
	got := Each([]s{{1, 2}, {3, 4}}, func(x s) time.Duration { return x.b })
	if len(got) != 2 || got[0] != 2 || got[1] != 4 {
		t.Errorf("Each: %v, want [2 4]", got)
	}
}
