package learn

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonl"
)

// RejectionsPath and MetricsPath are the review's logs in the learning folder.
func RejectionsPath(learningDir string) string {
	return filepath.Join(learningDir, "suggestion_rejections.jsonl")
}

// MetricsPath is meta_metrics.jsonl, read by learn-meta.
func MetricsPath(learningDir string) string { return filepath.Join(learningDir, "meta_metrics.jsonl") }

// Rejection is one line of suggestion_rejections.jsonl.
type Rejection struct {
	Timestamp    Timestamp `json:"timestamp"`
	SuggestionID string    `json:"suggestion_id"`
	Analyzer     string    `json:"analyzer"`
	Text         string    `json:"text"`
}

// Rejected returns the ids rejected at or after since. A missing log is
// no rejection.
func Rejected(ctx context.Context, path string, since time.Time) (map[string]bool, jsonl.Stats, error) {
	out := map[string]bool{}
	st, err := jsonl.ReadFile(ctx, path, 0, func(r *Rejection) error {
		if r.SuggestionID == "" {
			return jsonl.ErrSkip
		}
		if !r.Timestamp.IsZero() && !r.Timestamp.Before(since) {
			out[r.SuggestionID] = true
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return out, st, err
}

// RecordRejection appends s to the rejection log.
func RecordRejection(path string, s Suggestion, now time.Time) error {
	return jsonl.Append(path, Rejection{Timestamp: Timestamp{now}, SuggestionID: s.ID, Analyzer: s.Analyzer, Text: s.Text})
}

// Outcome is one line of meta_metrics.jsonl.
type Outcome struct {
	Timestamp      Timestamp `json:"timestamp"`
	Component      string    `json:"component"`
	SuggestionType Kind      `json:"suggestion_type"`
	Accepted       bool      `json:"accepted"`
	Confidence     float64   `json:"confidence"`
	SuggestionID   string    `json:"suggestion_id"`
	// Applied is false when an accepted suggestion could not be applied.
	Applied bool `json:"applied"`
}

// RecordOutcome appends the person's answer on s to meta_metrics.jsonl.
func RecordOutcome(path string, s Suggestion, accepted, applied bool, now time.Time) error {
	return jsonl.Append(path, Outcome{Timestamp: Timestamp{now}, Component: s.Analyzer, SuggestionType: s.Kind,
		Accepted: accepted, Confidence: s.Confidence, SuggestionID: s.ID, Applied: applied})
}
