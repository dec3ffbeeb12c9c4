package learn

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks/claude/mdsection"
)

type contextUse struct {
	Timestamp Timestamp `json:"timestamp"`
	Section   string    `json:"section_name"`
	Tokens    int64     `json:"tokens_in_section"`
	Relevance *float64  `json:"relevance_score"`
	SessionID string    `json:"session_id"`
}

// Relevance limits of learn-context.
const (
	// PruneBelow: a section whose mean relevance is below this is proposed
	// for removal.
	PruneBelow = 0.3
	// MoveAbove: a section whose mean relevance is at least this is
	// proposed to move up.
	MoveAbove = 0.8
)

// claudeMDs are the files whose sections learn-context and
// learn-instructions look for, in order: the flake's CLAUDE.md, then the
// user's.
func (in Input) claudeMDs() []string {
	var out []string
	if in.Flake != "" {
		out = append(out, filepath.Join(in.Flake, "CLAUDE.md"))
	}
	if in.Home != "" {
		out = append(out, filepath.Join(in.Home, ".claude", "CLAUDE.md"))
	}
	return out
}

// generated are the sections other tasks rewrite every run: editing them
// by hand would be undone.
var generated = map[string]bool{
	mdsection.Normalize("🔌 MCP Servers"):       true,
	mdsection.Normalize("📦 System Tool Usage"): true,
}

// Context is learn-context: per CLAUDE.md section, how often it was loaded
// and how relevant it was. Loaded at least MinOccurrences times with a
// mean relevance below PruneBelow → remove it (confidence (1 − mean) ×
// (0.7 + 0.05 × loads)); at least MoveAbove → move it up among its
// siblings (confidence mean × (0.7 + 0.05 × loads)). Only sections found
// in a CLAUDE.md (the flake's, then ~/.claude/CLAUDE.md) are proposed, and
// never the sections the analytics tasks generate.
func Context(ctx context.Context, in Input) (Result, error) {
	var res Result
	type agg struct {
		loads, rated int
		relevance    float64
		tokens       int64
		sessions     map[string]bool
	}
	sections := map[string]*agg{}
	names := map[string]string{} // normalized → as first written
	st, err := readLearning(ctx, in, "context_usage.jsonl",
		func(c *contextUse) time.Time { return c.Timestamp.Time },
		func(c *contextUse) {
			if c.Section == "" {
				return
			}
			k := mdsection.Normalize(c.Section)
			a := sections[k]
			if a == nil {
				a = &agg{sessions: map[string]bool{}}
				sections[k] = a
				names[k] = c.Section
			}
			a.loads++
			if c.Relevance != nil {
				a.rated++
				a.relevance += *c.Relevance
			}
			a.tokens += c.Tokens
			a.sessions[c.SessionID] = true
		})
	if err != nil {
		return res, err
	}
	res.stat("%s seen %s", text.Plural(len(sections), "section", "sections"), inDays(in.Days))
	res.skipped(st, "context_usage.jsonl")

	docs := map[string][]byte{}
	for _, f := range in.claudeMDs() {
		if b, err := os.ReadFile(f); err == nil {
			docs[f] = b
		}
	}
	keys := slices.Sorted(maps.Keys(sections))
	var notFound int
	for _, k := range keys {
		a := sections[k]
		if a.loads < in.Thresholds.MinOccurrences || a.rated == 0 || generated[k] {
			continue
		}
		mean := a.relevance / float64(a.rated)
		var kind Kind
		var conf float64
		switch {
		case mean < PruneBelow:
			kind, conf = RemoveSection, (1-mean)*(0.7+0.05*float64(a.loads))
		case mean >= MoveAbove:
			kind, conf = MoveSectionUp, mean*(0.7+0.05*float64(a.loads))
		default:
			continue
		}
		conf = round2(conf)
		if !meets(conf, in.Thresholds.Confidence) {
			continue
		}
		file, h, ok := findSection(in, docs, k)
		if !ok {
			notFound++
			continue
		}
		if kind == MoveSectionUp {
			if _, moved := mdsection.MoveUp(docs[file], h); !moved {
				continue // already first
			}
		}
		avgTokens := a.tokens / int64(a.loads)
		ev := fmt.Sprintf("loaded %s, mean relevance %.2f, ~%d tokens", text.Plural(a.loads, "time", "times"), mean, avgTokens)
		s := Suggestion{
			Analyzer:   "learn-context",
			Kind:       kind,
			Confidence: conf,
			Target:     file,
			Sessions:   sessionList(a.sessions),
			Evidence:   ev,
			Section:    h.Title,
		}
		backup := fmt.Sprintf("copy back %s/.backups/%s.backup-<time> (written before the change)",
			in.tilde(filepath.Dir(file)), filepath.Base(file))
		if kind == RemoveSection {
			s.Text = fmt.Sprintf("remove the section %q from %s (%s)", h.Title, in.tilde(file), ev)
			s.Apply = fmt.Sprintf("deletes the section %q (%s) from %s", h.Title, text.Plural(lines(docs[file][h.Start:h.End]), "line", "lines"), in.tilde(file))
		} else {
			s.Text = fmt.Sprintf("move the section %q up in %s (%s)", h.Title, in.tilde(file), ev)
			s.Apply = fmt.Sprintf("moves the section %q before its first sibling section in %s", h.Title, in.tilde(file))
		}
		s.Undo = backup
		s.ID = makeID("learn-context", string(kind), file, k)
		res.Suggestions = append(res.Suggestions, s)
	}
	if notFound > 0 {
		res.stat("%s not found in any CLAUDE.md", text.Plural(notFound, "section to act on was", "sections to act on were"))
	}
	return res, nil
}

func findSection(in Input, docs map[string][]byte, norm string) (string, mdsection.Heading, bool) {
	for _, f := range in.claudeMDs() {
		doc, ok := docs[f]
		if !ok {
			continue
		}
		for _, h := range mdsection.Headings(doc) {
			if mdsection.Normalize(h.Title) == norm {
				return f, h, true
			}
		}
	}
	return "", mdsection.Heading{}, false
}

func lines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}
