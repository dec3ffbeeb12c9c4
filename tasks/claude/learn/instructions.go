package learn

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/text"
)

type policyRecord struct {
	Timestamp Timestamp `json:"timestamp"`
	Policy    string    `json:"policy"`
	Violated  *bool     `json:"violated"`
	SessionID string    `json:"session_id"`
}

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
	type agg struct {
		seen, violated int
		sessions       map[string]bool
	}
	policies := map[string]*agg{}
	st, err := readLearning(ctx, in, "policy_violations.jsonl",
		func(p *policyRecord) time.Time { return p.Timestamp.Time },
		func(p *policyRecord) {
			text := strings.TrimSpace(p.Policy)
			if text == "" {
				return
			}
			a := policies[text]
			if a == nil {
				a = &agg{sessions: map[string]bool{}}
				policies[text] = a
			}
			a.seen++
			if p.Violated == nil || *p.Violated {
				a.violated++
				a.sessions[p.SessionID] = true
			}
		})
	if err != nil {
		return res, err
	}
	res.stat("%s observed %s", text.Plural(len(policies), "policy", "policies"), inDays(in.Days))
	res.skipped(st, "policy_violations.jsonl")

	files := []string{}
	if in.Home != "" {
		files = append(files, filepath.Join(in.Home, ".claude", "CLAUDE-USER-POLICIES.md"))
	}
	files = append(files, in.claudeMDs()...)
	docs := map[string][]byte{}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			docs[f] = b
		}
	}
	texts := slices.Sorted(maps.Keys(policies))
	var unwritten int
	for _, policy := range texts {
		a := policies[policy]
		compliance := float64(a.seen-a.violated) / float64(a.seen)
		if a.violated < in.Thresholds.MinOccurrences || compliance >= ComplianceBelow {
			continue
		}
		conf := round2(0.5 + (ComplianceBelow - compliance) + 0.05*float64(a.violated))
		if !meets(conf, in.Thresholds.Confidence) {
			continue
		}
		file, line, ok := findLine(files, docs, policy)
		if !ok {
			unwritten++
			continue
		}
		if strings.Contains(line, strongMark) {
			continue
		}
		newLine := strengthen(line)
		ev := fmt.Sprintf("violated %d of %s (%.0f%% compliance)", a.violated, text.Plural(a.seen, "time", "times"), compliance*100)
		res.Suggestions = append(res.Suggestions, Suggestion{
			ID:         makeID("learn-instructions", string(RewordLine), file, line),
			Analyzer:   "learn-instructions",
			Kind:       RewordLine,
			Text:       fmt.Sprintf("strengthen the policy %q in %s (%s)", policy, in.tilde(file), ev),
			Confidence: conf,
			Apply:      fmt.Sprintf("rewrites the line %q as %q in %s", line, newLine, in.tilde(file)),
			Undo: fmt.Sprintf("restore the line %q in %s, or copy back %s/.backups/%s.backup-<time>",
				line, in.tilde(file), in.tilde(filepath.Dir(file)), filepath.Base(file)),
			Target:   file,
			Sessions: sessionList(a.sessions),
			Evidence: ev,
			Line:     line,
			NewLine:  newLine,
		})
	}
	if unwritten > 0 {
		res.stat("%s not written in any CLAUDE.md", text.Plural(unwritten, "often broken policy is", "often broken policies are"))
	}
	return res, nil
}

// findLine returns the first line (without its end) of the first file
// that contains text, case aside.
func findLine(files []string, docs map[string][]byte, text string) (string, string, bool) {
	want := strings.ToLower(text)
	for _, f := range files {
		doc, ok := docs[f]
		if !ok {
			continue
		}
		for _, l := range bytes.Split(doc, []byte("\n")) {
			line := strings.TrimRight(string(l), "\r")
			if strings.Contains(strings.ToLower(line), want) {
				return f, line, true
			}
		}
	}
	return "", "", false
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
