package learn

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// patternShape is project_patterns.jsonl: the strings kept are the
// project (0), its type (1), the pattern's type (2), the pattern (3) and
// the session (4). A record without a project or its type counts for
// nothing.
var patternShape = shape{file: "project_patterns.jsonl", fields: []field{
	{"timestamp", kTime, 0}, {"project_path", kString, 0}, {"project_type", kString, 1},
	{"pattern_type", kString, 2}, {"pattern", kString, 3}, {"session_id", kString, 4},
}, keep: func(v *values) bool { return len(v.s[0]) > 0 && len(v.s[1]) > 0 }}

// Pattern types learn-cross-project can carry to another project.
const (
	PatternPermission = "permission" // an allow-list entry
	PatternCommand    = "command"    // a slash command file, by name
)

// CrossProject is learn-cross-project: a pattern (an allow-list entry or
// a slash command) used at least MinOccurrences times in projects of one
// kind (project_type) is proposed to the other projects of that kind that
// lack it. Confidence 0.5 + 0.2 per adopting project. A permission goes to
// the project's settings.local.json (never a destructive one); a command
// file is copied from an adopting project, which must have it. Projects
// that no longer exist are left out.
func CrossProject(ctx context.Context, in Input) (Result, error) {
	var res Result
	l, err := readAnalyzerLedger(ctx, in, "learn-cross-project", &patternShape, &res)
	if err != nil {
		return res, err
	}
	seen := newCrossPatterns()
	l.each(in.Since(), func(r *record) {
		seen.add(l.str(r.S[0]), l.str(r.S[1]), l.str(r.S[2]), l.str(r.S[3]), r.S[4])
	})
	res.stat("%s in %s %s", text.Plural(len(seen.patterns), "pattern", "patterns"), text.Plural(len(seen.byKind), "kind", "kinds"), "of project "+inDays(in.Days))
	res.skipped(l.allStats(), patternShape.file)
	if seen.other > 0 {
		res.stat("%s of pattern types other than permission and command ignored", text.Plural(seen.other, "record", "records"))
	}
	allowedIn := map[string]map[string]bool{} // project → its allow-list, read once
	for _, k := range seen.sortedKeys() {
		a := seen.patterns[k]
		if a.uses < in.Thresholds.MinOccurrences {
			continue
		}
		conf := round2(0.5 + 0.2*float64(len(a.adopters)))
		if !meets(conf, in.Thresholds.Confidence) {
			continue
		}
		adopters := sortedSet(a.adopters)
		ev := fmt.Sprintf("used %s in %s: %s", text.Plural(a.uses, "time", "times"),
			text.Plural(len(adopters), k.kind+" project", k.kind+" projects"), strings.Join(fsutil.TildeAll(in.Home, adopters), ", "))
		for _, target := range seen.lackers(k) {
			var sug Suggestion
			var ok bool
			switch k.ptype {
			case PatternPermission:
				sug, ok = crossPermission(in, allowedIn, target, k.pattern, conf, ev, l.sorted(a.sessions))
			case PatternCommand:
				sug, ok = crossCommand(in, adopters, target, k.pattern, conf, ev, l.sorted(a.sessions))
			}
			if ok {
				res.Suggestions = append(res.Suggestions, sug)
			}
		}
	}
	return res, nil
}

// crossKey is one pattern of one kind of project.
type crossKey struct{ kind, ptype, pattern string }

// crossUse is what the window says of one pattern.
type crossUse struct {
	uses     int
	adopters map[string]bool // projects that used it
	idx      int             // among the patterns, for the sessions seen
	sessions []uint32
}

// crossPatterns gathers project_patterns.jsonl: the projects of each kind,
// and the patterns used in them.
type crossPatterns struct {
	byKind   map[string]map[string]bool // project type → projects
	patterns map[crossKey]*crossUse
	other    int // records of a pattern type learn-cross-project does not carry
	seen     members
}

func newCrossPatterns() *crossPatterns {
	return &crossPatterns{byKind: map[string]map[string]bool{}, patterns: map[crossKey]*crossUse{}, seen: members{}}
}

// add counts one record (its project and project type never empty). A record
// without a pattern still makes its project known as one of its kind.
func (c *crossPatterns) add(project, projectType, patternType, pattern string, session uint32) {
	if c.byKind[projectType] == nil {
		c.byKind[projectType] = map[string]bool{}
	}
	c.byKind[projectType][project] = true
	if pattern == "" {
		return // a project seen, with nothing adopted
	}
	if patternType != PatternPermission && patternType != PatternCommand {
		c.other++
		return
	}
	k := crossKey{projectType, patternType, pattern}
	a := c.patterns[k]
	if a == nil {
		a = &crossUse{adopters: map[string]bool{}, idx: len(c.patterns)}
		c.patterns[k] = a
	}
	a.uses++
	a.adopters[project] = true
	c.seen.add(a.idx, session, &a.sessions)
}

// sortedKeys orders the patterns by kind, type and pattern, so suggestions
// come out in the same order every run.
func (c *crossPatterns) sortedKeys() []crossKey {
	keys := make([]crossKey, 0, len(c.patterns))
	for k := range c.patterns {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.kind+"\x00"+a.ptype+"\x00"+a.pattern < b.kind+"\x00"+b.ptype+"\x00"+b.pattern
	})
	return keys
}

// lackers are the projects of k's kind, sorted, that did not use k and
// still exist as folders.
func (c *crossPatterns) lackers(k crossKey) []string {
	var out []string
	for _, target := range sortedSet(c.byKind[k.kind]) {
		if c.patterns[k].adopters[target] {
			continue
		}
		if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
			continue
		}
		out = append(out, target)
	}
	return out
}

// crossPermission proposes an allow-list entry to target, unless target
// allows it already. Only patterns that are already allow-list entries
// (Generalize leaves them as they are) are carried. allowedIn caches each
// project's allow-list.
func crossPermission(in Input, allowedIn map[string]map[string]bool, target, pattern string, conf float64, ev string, sessions []string) (Suggestion, bool) {
	general, ok := Generalize(pattern)
	if !ok || general != pattern {
		return Suggestion{}, false
	}
	if allowedIn[target] == nil {
		allowedIn[target] = allowed(in.Home, target)
	}
	if allowedIn[target][pattern] {
		return Suggestion{}, false
	}
	return allowSuggestion(in, "learn-cross-project", target, pattern, conf, ev, sessions), true
}

// crossCommand proposes copying a slash command file from the first
// adopter that has it into target, unless target has one of that name.
// A name that could leave the commands folder is refused.
func crossCommand(in Input, adopters []string, target, pattern string, conf float64, ev string, sessions []string) (Suggestion, bool) {
	name := strings.TrimSuffix(strings.TrimPrefix(pattern, "/"), ".md")
	if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		return Suggestion{}, false
	}
	dst := CommandFile(target, name)
	if _, err := os.Stat(dst); err == nil {
		return Suggestion{}, false
	}
	content, src := firstCommandFile(adopters, name)
	if src == "" {
		return Suggestion{}, false
	}
	return Suggestion{
		ID:         makeID("learn-cross-project", string(NewCommand), dst, name),
		Analyzer:   "learn-cross-project",
		Kind:       NewCommand,
		Text:       fmt.Sprintf("add the slash command /%s to %s, as in %s (%s)", name, in.tilde(target), in.tilde(src), ev),
		Confidence: conf,
		Apply:      fmt.Sprintf("creates %s, a copy of %s", in.tilde(dst), in.tilde(src)),
		Undo:       fmt.Sprintf("delete %s", in.tilde(dst)),
		Target:     dst,
		Sessions:   sessions,
		Evidence:   ev,
		Content:    string(content),
	}, true
}

// firstCommandFile reads the command file name of the first project that
// has it; src is "" if none does.
func firstCommandFile(projects []string, name string) (content []byte, src string) {
	for _, p := range projects {
		if b, err := os.ReadFile(CommandFile(p, name)); err == nil {
			return b, CommandFile(p, name)
		}
	}
	return nil, ""
}

// inDays is "in the last day" or "in the last 30 days".
func inDays(n int) string {
	if n == 1 {
		return "in the last day"
	}
	return fmt.Sprintf("in the last %d days", n)
}
