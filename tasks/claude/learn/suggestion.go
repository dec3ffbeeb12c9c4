package learn

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Kind says what applying a suggestion changes.
type Kind string

// The kinds of change a suggestion can make.
const (
	// AllowPermission adds Pattern to "permissions"."allow" of Target (a
	// settings.local.json), keeping every other key.
	AllowPermission Kind = "allow-permission"
	// RemoveMCPServer removes Server from the "mcpServers" object found at
	// JSONPath in Target (a .claude/mcp.json or ~/.claude.json).
	RemoveMCPServer Kind = "remove-mcp-server"
	// NewCommand creates Target (a slash command file) with Content; it
	// never overwrites an existing file.
	NewCommand Kind = "new-command"
	// RemoveSection removes the Markdown section Section from Target.
	RemoveSection Kind = "remove-section"
	// MoveSectionUp moves the section Section before its first sibling.
	MoveSectionUp Kind = "move-section-up"
	// RewordLine replaces the line Line of Target by NewLine.
	RewordLine Kind = "reword-line"
)

// Suggestion is one proposed change, with everything needed to show it,
// apply it and undo it.
type Suggestion struct {
	// ID is stable across runs for the same proposal (the rejection log
	// refers to it).
	ID       string `json:"id"`
	Analyzer string `json:"analyzer"`
	Kind     Kind   `json:"kind"`
	// Text is the one-line proposal shown to the person.
	Text string `json:"text"`
	// Confidence is in [0, 1], rounded to two decimals.
	Confidence float64 `json:"confidence"`
	// Apply says what applying does; Undo how to undo it.
	Apply string `json:"apply"`
	Undo  string `json:"undo"`
	// Target is the file the change is made to.
	Target string `json:"target"`
	// Sessions are the session ids the evidence came from.
	Sessions []string `json:"sessions,omitempty"`
	// Evidence is the numbers behind the proposal.
	Evidence string `json:"evidence,omitempty"`

	// What to change, by Kind.
	Pattern  string   `json:"pattern,omitempty"`
	Server   string   `json:"server,omitempty"`
	JSONPath []string `json:"json_path,omitempty"`
	Section  string   `json:"section,omitempty"`
	Line     string   `json:"line,omitempty"`
	NewLine  string   `json:"new_line,omitempty"`
	Content  string   `json:"content,omitempty"`
}

// Summary is the suggestion's line in the task summary and the json
// finish event: "suggest: <text> (confidence 0.90) [id]".
func (s Suggestion) Summary() string {
	return fmt.Sprintf("suggest: %s (confidence %.2f) [%s]", s.Text, s.Confidence, s.ID)
}

// makeID derives a stable id from the analyzer and the parts that make a
// proposal what it is.
func makeID(analyzer string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(analyzer))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	short := strings.TrimPrefix(analyzer, "learn-")
	return short + "-" + hex.EncodeToString(h.Sum(nil))[:10]
}

// round2 rounds a confidence to two decimals, capped to [0, 0.95]: no
// heuristic here is ever certain.
func round2(c float64) float64 {
	c = math.Max(0, math.Min(0.95, c))
	return math.Round(c*100) / 100
}

// meets reports whether confidence c reaches the threshold t.
func meets(c, t float64) bool { return c+1e-9 >= t }

// Sort orders suggestions best first: confidence, then analyzer and id.
func Sort(s []Suggestion) {
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Confidence != s[j].Confidence {
			return s[i].Confidence > s[j].Confidence
		}
		if s[i].Analyzer != s[j].Analyzer {
			return s[i].Analyzer < s[j].Analyzer
		}
		return s[i].ID < s[j].ID
	})
}
