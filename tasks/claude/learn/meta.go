package learn

import (
	"context"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/text"
)

// metaShape is meta_metrics.jsonl: the string kept is the component
// (0); accepted is the *bool. The suggestion's type and confidence must
// have their types but are not kept. A record without a component or a
// verdict does not count.
var metaShape = shape{file: "meta_metrics.jsonl", fields: []field{
	{"timestamp", kTime, 0}, {"component", kString, 0}, {"suggestion_type", kString, 1},
	{"accepted", kBoolPtr, 0}, {"confidence", kFloat, 0},
}, keep: func(v *values) bool {
	v.s[1], v.f = nil, 0
	return len(v.s[0]) > 0 && v.bset
}}

// Acceptance limits of learn-meta.
const (
	// RaiseBelow: an analyzer whose suggestions are accepted less often
	// than this gets stricter thresholds.
	RaiseBelow = 0.5
	// LowerAbove: accepted more often than this, it gets looser ones.
	LowerAbove = 0.9
	// MetaMinOutcomes: fewer outcomes than this change nothing.
	MetaMinOutcomes = 5
)

// ThresholdsPath is thresholds.json in the learning folder.
func ThresholdsPath(learningDir string) string { return filepath.Join(learningDir, "thresholds.json") }

// Meta is learn-meta: the acceptance rate of each analyzer's suggestions
// (component = the analyzer's task name, as learn-review records it). It
// judges only outcomes it has not judged before: thresholds.json keeps,
// per analyzer, how far it has counted (see Counted). Once at least
// MetaMinOutcomes new outcomes are in the window, their rate decides: below
// RaiseBelow raises the analyzer's thresholds (min_occurrences + 1 up to
// 5, confidence + 0.05 up to 0.9), above LowerAbove lowers them (not below
// 2 and 0.5), and either way they are counted from then on. So the same
// data changes a threshold at most once, however often the task runs.
// The new thresholds.json is returned in Result.Write; the task writes it
// (not in a dry run), so the next run uses it. Meta makes no suggestions.
func Meta(ctx context.Context, in Input) (Result, error) {
	var res Result
	path := ThresholdsPath(in.LearningDir)
	tf, loadErr := LoadThresholds(path)
	l, err := readAnalyzerLedger(ctx, in, "learn-meta", &metaShape, &res)
	if err != nil {
		return res, err
	}
	t := metaTally{tf: &tf, comps: map[string]*metaCount{}, seen: map[string]map[time.Time]int{}}
	l.each(in.Since(), func(r *record) { t.add(l.str(r.S[0]), r.time(), r.Bits&valB != 0) })
	res.skipped(l.allStats(), metaShape.file)
	if loadErr != nil {
		// Rewriting a file that cannot be read would lose what it holds.
		res.Warnings = append(res.Warnings, fmt.Sprintf("%v: left alone", loadErr))
		return res, nil
	}
	known := map[string]bool{}
	for _, a := range Analyzers() {
		known[a.Name] = true
	}
	changed := false
	var ignored int
	for _, name := range slices.Sorted(maps.Keys(t.comps)) {
		a := t.comps[name]
		if !known[name] {
			ignored += a.n
			continue
		}
		if a.newN < MetaMinOutcomes {
			res.stat("%s: %d of %d accepted (%.0f%%); %s not judged yet (%d needed)", name, a.accepted, a.n,
				100*float64(a.accepted)/float64(a.n), text.Plural(a.newN, "new outcome", "new outcomes"), MetaMinOutcomes)
			continue
		}
		judge(&res, &tf, name, a, in.DryRun)
		changed = true
	}
	if ignored > 0 {
		res.stat("%s of unknown components ignored", text.Plural(ignored, "outcome", "outcomes"))
	}
	if changed {
		b, err := tf.Marshal()
		if err != nil {
			return res, err
		}
		res.Write = append(res.Write, File{Path: path, Data: b})
	}
	return res, nil
}

// metaCount is one component's outcomes, as Meta counts them.
type metaCount struct {
	n, accepted       int // in the window
	newN, newAccepted int // not counted before
	// from is how far earlier runs counted; last how far the
	// counting reaches once the new outcomes are judged.
	from, last Counted
}

// metaTally counts the outcomes of meta_metrics.jsonl per component.
type metaTally struct {
	tf    *ThresholdsFile // where earlier runs' counting stopped
	comps map[string]*metaCount
	// seen counts, per component, the outcomes read so far at each
	// instant: the nth of an instant is what Counted.AtThrough compares.
	seen map[string]map[time.Time]int
}

// add counts one outcome of component at the time it was recorded.
func (t *metaTally) add(component string, when time.Time, accepted bool) {
	a := t.comps[component]
	if a == nil {
		c := t.tf.Counted(component)
		a = &metaCount{from: c, last: c}
		t.comps[component] = a
		t.seen[component] = map[time.Time]int{}
	}
	a.n++
	if accepted {
		a.accepted++
	}
	at := when.UTC()
	t.seen[component][at]++
	nth := t.seen[component][at]
	if !a.from.IsNew(at, nth) {
		return
	}
	a.newN++
	if accepted {
		a.newAccepted++
	}
	// The file need not be in time order: counting reaches
	// the newest outcome.
	if a.last.IsNew(at, nth) {
		a.last = Counted{Through: at, AtThrough: nth}
	}
}

// judge decides on the analyzer name from its new outcomes a: they are
// counted from now on in tf, and its thresholds in tf are raised, lowered
// or kept by their acceptance rate, said in res.
func judge(res *Result, tf *ThresholdsFile, name string, a *metaCount, dryRun bool) {
	// These outcomes are judged now, whatever the verdict: the next
	// run starts after them.
	tf.SetCounted(name, a.last)
	rate := float64(a.newAccepted) / float64(a.newN)
	old := tf.For(name)
	t, verb := adjusted(old, rate)
	moved := thresholdMoves(old, t)
	switch {
	case verb == "":
		res.stat("%s: %d of %d accepted (%.0f%%): thresholds kept", name, a.newAccepted, a.newN, rate*100)
		return
	case len(moved) == 0:
		res.stat("%s: %d of %d accepted (%.0f%%): thresholds already at their limit (min_occurrences %d, confidence %.2f)",
			name, a.newAccepted, a.newN, rate*100, t.MinOccurrences, t.Confidence)
		return
	}
	tf.Set(name, t)
	would := ""
	if dryRun {
		would = "would have "
	}
	res.Actions = append(res.Actions, fmt.Sprintf("%s%s %s thresholds: %s (acceptance %.0f%% of %d)",
		would, verb, name, strings.Join(moved, ", "), rate*100, a.newN))
}

// adjusted is the thresholds old after an acceptance rate: stricter
// ("raised") below RaiseBelow, looser ("lowered") above LowerAbove, within
// their limits; verb is "" when the rate keeps them.
func adjusted(old Thresholds, rate float64) (t Thresholds, verb string) {
	t = old
	switch {
	case rate < RaiseBelow:
		verb = "raised"
		t.MinOccurrences = min(MinOccurrencesCeil, max(t.MinOccurrences, t.MinOccurrences+1))
		t.Confidence = math.Min(ConfidenceCeil, t.Confidence+0.05)
	case rate > LowerAbove:
		verb = "lowered"
		t.MinOccurrences = max(MinOccurrencesFloor, min(t.MinOccurrences, t.MinOccurrences-1))
		t.Confidence = math.Max(ConfidenceFloor, t.Confidence-0.05)
	}
	t.Confidence = math.Round(t.Confidence*100) / 100
	return t, verb
}

// thresholdMoves says what changed from old to t.
func thresholdMoves(old, t Thresholds) []string {
	var moved []string
	if t.MinOccurrences != old.MinOccurrences {
		moved = append(moved, fmt.Sprintf("min_occurrences %d → %d", old.MinOccurrences, t.MinOccurrences))
	}
	if t.Confidence != old.Confidence {
		moved = append(moved, fmt.Sprintf("confidence %.2f → %.2f", old.Confidence, t.Confidence))
	}
	return moved
}
