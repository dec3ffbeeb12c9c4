// Package stats holds the arithmetic the bench programs share: the
// median of repeated measurements (the figure they report, beside the
// minimum).
package stats

import (
	"slices"
	"time"
)

// Median is the median of d (the mean of the two middle values for an
// even count), 0 for none; d is left as it is.
func Median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// MedianMin is Median and the minimum of d.
func MedianMin(d []time.Duration) (med, low time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	return Median(d), slices.Min(d)
}

// Each is f of every sample in s: one measurement (wall time, CPU time)
// of a list of samples, for Median and MedianMin.
func Each[S any](s []S, f func(S) time.Duration) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	return out
}
