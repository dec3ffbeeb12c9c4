package learn

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks/claude/mdsection"
)

// contextShape is context_usage.jsonl: the strings kept are the section
// (0) and the session (1); I is the tokens, F the relevance (if hasF). A
// record without a section counts for nothing.
var contextShape = shape{file: "context_usage.jsonl", fields: []field{
	{"timestamp", kTime, 0}, {"section_name", kString, 0}, {"tokens_in_section", kInt, 0},
	{"relevance_score", kFloatPtr, 0}, {"session_id", kString, 1},
}, keep: func(v *values) bool { return len(v.s[0]) > 0 }}

// Relevance limits of learn-context.
const (
	// PruneBelow: a section whose mean relevance is below this is proposed
	// for removal.
	PruneBelow = 0.3
	// MoveAbove: a section whose mean relevance is at least this is
	// proposed to move up.
	MoveAbove = 0.8
)

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
	l, err := readAnalyzerLedger(ctx, in, "learn-context", &contextShape, &res)
	if err != nil {
		return res, err
	}
	sections := map[string]*sectionUse{}       // normalized name → its use
	byID := make([]*sectionUse, len(l.strs)+1) // by the section's index
	seen := members{}
	l.each(in.Since(), func(r *record) {
		a := byID[r.S[0]]
		if a == nil {
			k := mdsection.Normalize(l.str(r.S[0]))
			if a = sections[k]; a == nil {
				a = &sectionUse{idx: len(sections)}
				sections[k] = a
			}
			byID[r.S[0]] = a
		}
		a.add(r, seen)
	})
	res.stat("%s seen %s", text.Plural(len(sections), "section", "sections"), inDays(in.Days))
	res.skipped(l.allStats(), contextShape.file)

	docs := readDocs(in.claudeMDs())
	var notFound int
	for _, k := range slices.Sorted(maps.Keys(sections)) {
		a := sections[k]
		if a.loads < in.Thresholds.MinOccurrences || a.rated == 0 || generated[k] {
			continue
		}
		kind, conf, ok := a.action()
		if !ok || !meets(conf, in.Thresholds.Confidence) {
			continue
		}
		file, h, ok := findSection(docs, k)
		if !ok {
			notFound++
			continue
		}
		if kind == MoveSectionUp {
			if _, moved := mdsection.MoveUp(docs.text[file], h); !moved {
				continue // already first
			}
		}
		res.Suggestions = append(res.Suggestions, a.suggestion(in, l, kind, conf, file, docs.text[file], h, k))
	}
	if notFound > 0 {
		res.stat("%s not found in any CLAUDE.md", text.Plural(notFound, "section to act on was", "sections to act on were"))
	}
	return res, nil
}

// sectionUse is what context_usage.jsonl says of one section.
type sectionUse struct {
	loads, rated int     // records, and those with a relevance
	relevance    float64 // sum over the rated records
	tokens       int64
	idx          int // among the sections, for seen
	sessions     []uint32
}

// add counts one record (a load of the section).
func (a *sectionUse) add(r *record, seen members) {
	a.loads++
	if r.Bits&hasF != 0 {
		a.rated++
		a.relevance += r.F
	}
	a.tokens += r.I
	seen.add(a.idx, r.S[1], &a.sessions)
}

func (a *sectionUse) mean() float64 { return a.relevance / float64(a.rated) }

// action decides from the mean relevance: below PruneBelow remove the
// section, from MoveAbove move it up, in between leave it (ok false).
// Requires a.rated > 0.
func (a *sectionUse) action() (kind Kind, conf float64, ok bool) {
	mean := a.mean()
	switch {
	case mean < PruneBelow:
		kind, conf = RemoveSection, (1-mean)*(0.7+0.05*float64(a.loads))
	case mean >= MoveAbove:
		kind, conf = MoveSectionUp, mean*(0.7+0.05*float64(a.loads))
	default:
		return "", 0, false
	}
	return kind, round2(conf), true
}

// suggestion proposes kind for the section h (normalized name k) of file,
// whose text is doc.
func (a *sectionUse) suggestion(in Input, l *ledger, kind Kind, conf float64, file string, doc []byte, h mdsection.Heading, k string) Suggestion {
	ev := fmt.Sprintf("loaded %s, mean relevance %.2f, ~%d tokens", text.Plural(a.loads, "time", "times"), a.mean(), a.tokens/int64(a.loads))
	s := Suggestion{
		ID:         makeID("learn-context", string(kind), file, k),
		Analyzer:   "learn-context",
		Kind:       kind,
		Confidence: conf,
		Target:     file,
		Sessions:   l.sorted(a.sessions),
		Evidence:   ev,
		Section:    h.Title,
		Undo: fmt.Sprintf("copy back %s/.backups/%s.backup-<time> (written before the change)",
			in.tilde(filepath.Dir(file)), filepath.Base(file)),
	}
	if kind == RemoveSection {
		s.Text = fmt.Sprintf("remove the section %q from %s (%s)", h.Title, in.tilde(file), ev)
		s.Apply = fmt.Sprintf("deletes the section %q (%s) from %s", h.Title, text.Plural(lines(doc[h.Start:h.End]), "line", "lines"), in.tilde(file))
	} else {
		s.Text = fmt.Sprintf("move the section %q up in %s (%s)", h.Title, in.tilde(file), ev)
		s.Apply = fmt.Sprintf("moves the section %q before its first sibling section in %s", h.Title, in.tilde(file))
	}
	return s
}

// findSection returns the first heading whose normalized title is norm, in
// the first file that has one.
func findSection(docs instructionDocs, norm string) (string, mdsection.Heading, bool) {
	return findInDocs(docs, func(doc []byte) (mdsection.Heading, bool) {
		for _, h := range mdsection.Headings(doc) {
			if mdsection.Normalize(h.Title) == norm {
				return h, true
			}
		}
		return mdsection.Heading{}, false
	})
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
