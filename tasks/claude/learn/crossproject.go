package learn

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

type projectPattern struct {
	Timestamp   Timestamp `json:"timestamp"`
	Project     string    `json:"project_path"`
	ProjectType string    `json:"project_type"`
	PatternType string    `json:"pattern_type"`
	Pattern     string    `json:"pattern"`
	SessionID   string    `json:"session_id"`
}

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
	type pkey struct{ kind, ptype, pattern string }
	type agg struct {
		uses     int
		adopters map[string]bool
		sessions map[string]bool
	}
	byKind := map[string]map[string]bool{} // project type → projects
	patterns := map[pkey]*agg{}
	var other int
	st, err := readLearning(ctx, in, "project_patterns.jsonl",
		func(p *projectPattern) time.Time { return p.Timestamp.Time },
		func(p *projectPattern) {
			if p.Project == "" || p.ProjectType == "" {
				return
			}
			if byKind[p.ProjectType] == nil {
				byKind[p.ProjectType] = map[string]bool{}
			}
			byKind[p.ProjectType][p.Project] = true
			if p.Pattern == "" {
				return // a project seen, with nothing adopted
			}
			if p.PatternType != PatternPermission && p.PatternType != PatternCommand {
				other++
				return
			}
			k := pkey{p.ProjectType, p.PatternType, p.Pattern}
			a := patterns[k]
			if a == nil {
				a = &agg{adopters: map[string]bool{}, sessions: map[string]bool{}}
				patterns[k] = a
			}
			a.uses++
			a.adopters[p.Project] = true
			a.sessions[p.SessionID] = true
		})
	if err != nil {
		return res, err
	}
	res.stat("%s in %s %s", text.Plural(len(patterns), "pattern", "patterns"), text.Plural(len(byKind), "kind", "kinds"), "of project "+inDays(in.Days))
	res.skipped(st, "project_patterns.jsonl")
	if other > 0 {
		res.stat("%s of pattern types other than permission and command ignored", text.Plural(other, "record", "records"))
	}
	keys := make([]pkey, 0, len(patterns))
	for k := range patterns {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.kind+"\x00"+a.ptype+"\x00"+a.pattern < b.kind+"\x00"+b.ptype+"\x00"+b.pattern
	})
	allowedIn := map[string]map[string]bool{}
	for _, k := range keys {
		a := patterns[k]
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
		for _, target := range sortedSet(byKind[k.kind]) {
			if a.adopters[target] {
				continue
			}
			if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
				continue
			}
			switch k.ptype {
			case PatternPermission:
				pattern, ok := Generalize(k.pattern)
				if !ok || pattern != k.pattern {
					continue // only patterns that are already allow-list entries
				}
				if allowedIn[target] == nil {
					allowedIn[target] = allowed(in.Home, target)
				}
				if allowedIn[target][pattern] {
					continue
				}
				res.Suggestions = append(res.Suggestions, allowSuggestion(in, "learn-cross-project", target, pattern, conf, ev, sessionList(a.sessions)))
			case PatternCommand:
				name := strings.TrimSuffix(strings.TrimPrefix(k.pattern, "/"), ".md")
				if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
					continue
				}
				dst := CommandFile(target, name)
				if _, err := os.Stat(dst); err == nil {
					continue
				}
				var content []byte
				var src string
				for _, p := range adopters {
					if b, err := os.ReadFile(CommandFile(p, name)); err == nil {
						content, src = b, CommandFile(p, name)
						break
					}
				}
				if src == "" {
					continue
				}
				res.Suggestions = append(res.Suggestions, Suggestion{
					ID:         makeID("learn-cross-project", string(NewCommand), dst, name),
					Analyzer:   "learn-cross-project",
					Kind:       NewCommand,
					Text:       fmt.Sprintf("add the slash command /%s to %s, as in %s (%s)", name, in.tilde(target), in.tilde(src), ev),
					Confidence: conf,
					Apply:      fmt.Sprintf("creates %s, a copy of %s", in.tilde(dst), in.tilde(src)),
					Undo:       fmt.Sprintf("delete %s", in.tilde(dst)),
					Target:     dst,
					Sessions:   sessionList(a.sessions),
					Evidence:   ev,
					Content:    string(content),
				})
			}
		}
	}
	return res, nil
}

// inDays is "in the last day" or "in the last 30 days".
func inDays(n int) string {
	if n == 1 {
		return "in the last day"
	}
	return fmt.Sprintf("in the last %d days", n)
}
