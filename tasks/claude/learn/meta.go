package learn

import (
	"context"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"time"
)

type metaRecord struct {
	Timestamp      Timestamp `json:"timestamp"`
	Component      string    `json:"component"`
	SuggestionType string    `json:"suggestion_type"`
	Accepted       *bool     `json:"accepted"`
	Confidence     float64   `json:"confidence"`
}

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
// (component = the analyzer's task name, as learn-review records it) over
// the window. With at least MetaMinOutcomes outcomes, a rate below
// RaiseBelow raises its thresholds (min_occurrences + 1 up to 5, confidence
// + 0.05 up to 0.9) and a rate above LowerAbove lowers them (not below 2
// and 0.5). The new thresholds.json is returned in Result.Write; the task
// writes it (not in a dry run), so the next run uses it. Meta makes no
// suggestions.
func Meta(ctx context.Context, in Input) (Result, error) {
	var res Result
	type agg struct{ n, accepted int }
	comps := map[string]*agg{}
	st, err := readLearning(ctx, in, "meta_metrics.jsonl",
		func(m *metaRecord) time.Time { return m.Timestamp.Time },
		func(m *metaRecord) {
			if m.Component == "" || m.Accepted == nil {
				return
			}
			a := comps[m.Component]
			if a == nil {
				a = &agg{}
				comps[m.Component] = a
			}
			a.n++
			if *m.Accepted {
				a.accepted++
			}
		})
	if err != nil {
		return res, err
	}
	res.skipped(st, "meta_metrics.jsonl")
	path := ThresholdsPath(in.LearningDir)
	tf, err := LoadThresholds(path)
	if err != nil {
		// Rewriting a file that cannot be read would lose what it holds.
		res.Warnings = append(res.Warnings, fmt.Sprintf("%v: left alone", err))
		return res, nil
	}
	known := map[string]bool{}
	for _, a := range Analyzers() {
		known[a.Name] = true
	}
	names := slices.Sorted(maps.Keys(comps))
	changed := false
	var ignored int
	for _, name := range names {
		a := comps[name]
		if !known[name] {
			ignored++
			continue
		}
		rate := float64(a.accepted) / float64(a.n)
		res.stat("%s: %d of %d suggestions accepted (%.0f%%)", name, a.accepted, a.n, rate*100)
		if a.n < MetaMinOutcomes {
			continue
		}
		old := tf.For(name)
		t := old
		var verb string
		switch {
		case rate < RaiseBelow:
			verb = "raised"
			t.MinOccurrences = min(MinOccurrencesCeil, max(t.MinOccurrences, t.MinOccurrences+1))
			t.Confidence = math.Min(ConfidenceCeil, t.Confidence+0.05)
		case rate > LowerAbove:
			verb = "lowered"
			t.MinOccurrences = max(MinOccurrencesFloor, min(t.MinOccurrences, t.MinOccurrences-1))
			t.Confidence = math.Max(ConfidenceFloor, t.Confidence-0.05)
		default:
			continue
		}
		t.Confidence = math.Round(t.Confidence*100) / 100
		if t.MinOccurrences == old.MinOccurrences && t.Confidence == old.Confidence {
			res.stat("%s: thresholds already at their limit (min_occurrences %d, confidence %.2f)", name, t.MinOccurrences, t.Confidence)
			continue
		}
		tf.Set(name, t)
		changed = true
		would := ""
		if in.DryRun {
			would = "would have "
		}
		res.Actions = append(res.Actions, fmt.Sprintf("%s%s %s thresholds: min_occurrences %d → %d, confidence %.2f → %.2f (acceptance %.0f%% of %d)",
			would, verb, name, old.MinOccurrences, t.MinOccurrences, old.Confidence, t.Confidence, rate*100, a.n))
	}
	if ignored > 0 {
		res.stat("%d outcomes of unknown components ignored", ignored)
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
