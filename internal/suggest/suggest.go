// Package suggest is rebuild's one "did you mean": the rule that decides
// whether a word someone typed (a config key, a variable, a task, group
// or command name) is a typo of a word rebuild knows. config, dag,
// tasks/catalog and cmd/rebuild all ask it, so one typo gets one answer
// wherever it is made. It is a leaf: it imports nothing of ours.
package suggest

import (
	"slices"
	"strings"
)

// maxDistance is how many edits a typo may have and still get a "did
// you mean".
const maxDistance = 2

// Closest returns the candidate closest to s when it is close enough to
// be a typo of it, else "".
//
// The rule: case is ignored ("JOBS" suggests "jobs"); a candidate equal
// to s is not a suggestion (a name is never its own typo, so the list may
// hold s itself); a word may be off by at most two edits, and a short one
// by fewer, one for up to three characters, so "zz" is not taken for a
// typo of "a"; on a tie the alphabetically first candidate wins, so the
// message does not depend on the candidates' order.
func Closest(s string, candidates []string) string {
	limit := min(maxDistance, max(1, len([]rune(s))/2))
	best, bestD := "", limit+1
	lower := strings.ToLower(s)
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		if c == s {
			continue
		}
		if d := Distance(lower, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Distance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of neighbouring
// characters each cost one, so "biuld" is one edit from "build". Words
// longer than 64 characters are not compared (a typo is short; the cost
// is quadratic): they are 0 apart when equal, else far.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	// Three rows are enough: transpositions look two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
