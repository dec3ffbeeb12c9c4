package learn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"
)

// Thresholds decide when evidence becomes a suggestion.
type Thresholds struct {
	MinOccurrences int     `json:"min_occurrences"`
	Confidence     float64 `json:"confidence"`
	Days           int     `json:"days"`
}

// DefaultThresholds apply when thresholds.json says nothing.
var DefaultThresholds = Thresholds{MinOccurrences: 3, Confidence: 0.7, Days: 30}

// Limits learn-meta keeps the thresholds within.
const (
	MinOccurrencesFloor = 2
	MinOccurrencesCeil  = 5
	ConfidenceFloor     = 0.5
	ConfidenceCeil      = 0.9
)

// ThresholdsFile is thresholds.json: run-wide values and, under
// "analyzers", per-analyzer ones. Keys it does not know are kept.
type ThresholdsFile struct {
	Global    Thresholds
	Analyzers map[string]Thresholds
	raw       map[string]json.RawMessage
	rawAn     map[string]map[string]json.RawMessage
}

// LoadThresholds reads path. A missing file gives the defaults and no
// error; an unreadable one gives the defaults and the error.
func LoadThresholds(path string) (ThresholdsFile, error) {
	tf := ThresholdsFile{Global: DefaultThresholds, Analyzers: map[string]Thresholds{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return tf, nil
	}
	if err != nil {
		return tf, err
	}
	if err := json.Unmarshal(b, &tf.raw); err != nil {
		return ThresholdsFile{Global: DefaultThresholds, Analyzers: map[string]Thresholds{}}, fmt.Errorf("%s: %w", path, err)
	}
	if err := overlay(&tf.Global, tf.raw); err != nil {
		return tf, fmt.Errorf("%s: %w", path, err)
	}
	if a, ok := tf.raw["analyzers"]; ok {
		if err := json.Unmarshal(a, &tf.rawAn); err != nil {
			return tf, fmt.Errorf("%s: analyzers: %w", path, err)
		}
		for name, m := range tf.rawAn {
			t := tf.Global
			if err := overlay(&t, m); err != nil {
				return tf, fmt.Errorf("%s: analyzers.%s: %w", path, name, err)
			}
			tf.Analyzers[name] = t
		}
	}
	return tf, nil
}

func overlay(t *Thresholds, m map[string]json.RawMessage) error {
	for key, dst := range map[string]any{"min_occurrences": &t.MinOccurrences, "confidence": &t.Confidence, "days": &t.Days} {
		if v, ok := m[key]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	if t.MinOccurrences < 1 {
		t.MinOccurrences = 1
	}
	if t.Days < 1 {
		t.Days = DefaultThresholds.Days
	}
	return nil
}

// For returns the thresholds of analyzer name.
func (tf ThresholdsFile) For(name string) Thresholds {
	if t, ok := tf.Analyzers[name]; ok {
		return t
	}
	return tf.Global
}

// Set records new thresholds for analyzer name.
func (tf *ThresholdsFile) Set(name string, t Thresholds) {
	if tf.Analyzers == nil {
		tf.Analyzers = map[string]Thresholds{}
	}
	tf.Analyzers[name] = t
	if tf.rawAn == nil {
		tf.rawAn = map[string]map[string]json.RawMessage{}
	}
	m := tf.rawAn[name]
	if m == nil {
		m = map[string]json.RawMessage{}
		tf.rawAn[name] = m
	}
	m["min_occurrences"], _ = json.Marshal(t.MinOccurrences)
	m["confidence"], _ = json.Marshal(t.Confidence)
}

// Marshal returns the file's new content: the keys it had, the global
// values, and the per-analyzer ones, indented, keys sorted.
func (tf ThresholdsFile) Marshal() ([]byte, error) {
	out := map[string]json.RawMessage{}
	for k, v := range tf.raw {
		out[k] = v
	}
	for key, v := range map[string]any{"min_occurrences": tf.Global.MinOccurrences, "confidence": tf.Global.Confidence, "days": tf.Global.Days} {
		out[key], _ = json.Marshal(v)
	}
	names := slices.Sorted(maps.Keys(tf.rawAn))
	if len(names) > 0 {
		an, err := json.Marshal(tf.rawAn)
		if err != nil {
			return nil, err
		}
		out["analyzers"] = an
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, b, "", "  "); err != nil {
		return nil, err
	}
	ind.WriteByte('\n')
	return ind.Bytes(), nil
}

// countedKey is the key of thresholds.json under which learn-meta keeps,
// per analyzer, the outcomes it has already judged.
const countedKey = "meta_counted"

// Counted marks the outcomes of one analyzer that learn-meta has judged:
// every outcome before Through, and the first AtThrough of those at
// Through, in the order meta_metrics.jsonl holds them (it is only ever
// appended to). Outcomes recorded in the same instant are told apart by
// that count, so a review that answers twice within one clock tick loses
// nothing.
type Counted struct {
	Through   time.Time `json:"through"`
	AtThrough int       `json:"at_through"`
}

// IsNew reports whether an outcome at t, the nth (from 1) at that instant
// in file order, comes after c.
func (c Counted) IsNew(t time.Time, nth int) bool {
	return t.After(c.Through) || (t.Equal(c.Through) && nth > c.AtThrough)
}

// Counted returns what learn-meta has judged of analyzer name (zero: nothing).
// A value it cannot read counts as nothing judged.
func (tf ThresholdsFile) Counted(name string) Counted {
	var all map[string]Counted
	if raw, ok := tf.raw[countedKey]; ok {
		_ = json.Unmarshal(raw, &all)
	}
	return all[name]
}

// SetCounted records what learn-meta has judged of analyzer name.
func (tf *ThresholdsFile) SetCounted(name string, c Counted) {
	all := map[string]Counted{}
	if raw, ok := tf.raw[countedKey]; ok {
		_ = json.Unmarshal(raw, &all)
	}
	c.Through = c.Through.UTC()
	all[name] = c
	if tf.raw == nil {
		tf.raw = map[string]json.RawMessage{}
	}
	tf.raw[countedKey], _ = json.Marshal(all)
}
