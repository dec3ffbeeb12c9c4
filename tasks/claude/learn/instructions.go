package learn

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/text"
)

// policyShape is policy_violations.jsonl: the strings kept are the
// policy (0, trimmed) and the session (1); violated is the *bool. A
// record without a policy counts for nothing.
var policyShape = shape{file: "policy_violations.jsonl", fields: []field{
	{"timestamp", kTime, 0}, {"policy", kString, 0}, {"violated", kBoolPtr, 0}, {"session_id", kString, 1},
}, keep: func(v *values) bool {
	v.s[0] = bytes.TrimSpace(v.s[0])
	return len(v.s[0]) > 0
}}

// ComplianceBelow: a policy complied with less often than this is
// proposed for stronger wording.
const ComplianceBelow = 0.7

// strongMark starts a reworded policy; a line that has it is not reworded again.
const strongMark = "**MUST**: "

// Instructions is learn-instructions: policies with at least
// MinOccurrences violations and a compliance below ComplianceBelow (the
// share of records of that policy that are not violations) get a stronger
// wording where they are written: the line holding the policy's text in
// ~/.claude/CLAUDE-USER-POLICIES.md, ~/.claude/CLAUDE.md or the flake's
// CLAUDE.md is rewritten as "**MUST**: <text>". A policy not written in
// any of them is only counted. Confidence 0.5 + (0.7 − compliance) + 0.05
// per violation.
func Instructions(ctx context.Context, in Input) (Result, error) {
	var res Result
	l, err := readAnalyzerLedger(ctx, in, "learn-instructions", &policyShape, &res)
	if err != nil {
		return res, err
	}
	policies := map[string]*policyUse{} // policy text → its record
	seen := members{}
	l.each(in.Since(), func(r *record) {
		text := l.str(r.S[0])
		if policies[text] == nil {
			policies[text] = &policyUse{idx: len(policies)}
		}
		policies[text].add(r, seen)
	})
	res.stat("%s observed %s", text.Plural(len(policies), "policy", "policies"), inDays(in.Days))
	res.skipped(l.allStats(), policyShape.file)

	docs := readDocs(in.policyFiles())
	var unwritten int
	for _, policy := range slices.Sorted(maps.Keys(policies)) {
		a := policies[policy]
		if a.violated < in.Thresholds.MinOccurrences || a.compliance() >= ComplianceBelow {
			continue
		}
		conf := round2(0.5 + (ComplianceBelow - a.compliance()) + 0.05*float64(a.violated))
		if !meets(conf, in.Thresholds.Confidence) {
			continue
		}
		file, line, ok := findLine(docs, policy)
		if !ok {
			unwritten++
			continue
		}
		if strings.Contains(line, strongMark) {
			continue
		}
		res.Suggestions = append(res.Suggestions, a.suggestion(in, l, policy, file, line, conf))
	}
	if unwritten > 0 {
		res.stat("%s not written in any CLAUDE.md", text.Plural(unwritten, "often broken policy is", "often broken policies are"))
	}
	return res, nil
}

// policyFiles are where a policy may be written, in the order they are
// searched: the user's policy file, then the CLAUDE.md files.
func (in Input) policyFiles() []string {
	files := []string{}
	if in.Home != "" {
		files = append(files, filepath.Join(in.Home, ".claude", "CLAUDE-USER-POLICIES.md"))
	}
	return append(files, in.claudeMDs()...)
}

// policyUse is what policy_violations.jsonl says of one policy.
type policyUse struct {
	seen, violated int
	idx            int      // among the policies, for the sessions seen
	sessions       []uint32 // that violated it
}

// add counts one record; a record that does not say is a violation.
func (a *policyUse) add(r *record, seen members) {
	a.seen++
	if r.Bits&hasB == 0 || r.Bits&valB != 0 {
		a.violated++
		seen.add(a.idx, r.S[1], &a.sessions)
	}
}

// compliance is the share of records that are not violations.
func (a *policyUse) compliance() float64 { return float64(a.seen-a.violated) / float64(a.seen) }

// suggestion rewords line, which holds the text of policy, in file.
func (a *policyUse) suggestion(in Input, l *ledger, policy, file, line string, conf float64) Suggestion {
	newLine := strengthen(line)
	ev := fmt.Sprintf("violated %d of %s (%.0f%% compliance)", a.violated, text.Plural(a.seen, "time", "times"), a.compliance()*100)
	return Suggestion{
		ID:         makeID("learn-instructions", string(RewordLine), file, line),
		Analyzer:   "learn-instructions",
		Kind:       RewordLine,
		Text:       fmt.Sprintf("strengthen the policy %q in %s (%s)", policy, in.tilde(file), ev),
		Confidence: conf,
		Apply:      fmt.Sprintf("rewrites the line %q as %q in %s", line, newLine, in.tilde(file)),
		Undo: fmt.Sprintf("restore the line %q in %s, or copy back %s/.backups/%s.backup-<time>",
			line, in.tilde(file), in.tilde(filepath.Dir(file)), filepath.Base(file)),
		Target:   file,
		Sessions: l.sorted(a.sessions),
		Evidence: ev,
		Line:     line,
		NewLine:  newLine,
	}
}

// findLine returns the first line (without its end) of the first file
// that contains text, case aside.
func findLine(docs instructionDocs, text string) (string, string, bool) {
	want := strings.ToLower(text)
	return findInDocs(docs, func(doc []byte) (string, bool) {
		for _, l := range bytes.Split(doc, []byte("\n")) {
			line := strings.TrimRight(string(l), "\r")
			if strings.Contains(strings.ToLower(line), want) {
				return line, true
			}
		}
		return "", false
	})
}

// strengthen keeps a line's indentation and list marker and puts
// strongMark before its text.
func strengthen(line string) string {
	rest := strings.TrimLeft(line, " \t")
	indent := line[:len(line)-len(rest)]
	marker := ""
	for _, m := range []string{"- ", "* ", "+ "} {
		if strings.HasPrefix(rest, m) {
			marker, rest = m, rest[len(m):]
			break
		}
	}
	if marker == "" {
		if i := strings.Index(rest, ". "); i > 0 && i <= 3 && strings.Trim(rest[:i], "0123456789") == "" {
			marker, rest = rest[:i+2], rest[i+2:]
		}
	}
	return indent + marker + strongMark + rest
}
