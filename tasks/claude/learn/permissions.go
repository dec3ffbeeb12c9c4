package learn

import (
	"context"
	"fmt"
	"sort"

	"github.com/rebuild-nixos/rebuild/internal/text"
)

// permissionShape is permission_approvals.jsonl: the strings kept are the
// permission (0), the session (1) and the project (2).
var permissionShape = shape{file: "permission_approvals.jsonl", fields: []field{
	{"timestamp", kTime, 0}, {"permission", kString, 0}, {"session_id", kString, 1}, {"project_path", kString, 2},
}}

// Permissions is learn-permissions: approvals of the same pattern in the
// same project, at least MinOccurrences times, become an allow-list entry
// in <project>/.claude/settings.local.json. Confidence grows with the
// number of sessions the approvals came from (0.5 + 0.1 per session), so
// a burst within one session is not a habit. Destructive commands and
// patterns already allowed are never suggested.
func Permissions(ctx context.Context, in Input) (Result, error) {
	var res Result
	l, err := readAnalyzerLedger(ctx, in, "learn-permissions", &permissionShape, &res)
	if err != nil {
		return res, err
	}
	type key struct{ project, pattern string }
	type agg struct {
		count, idx int
		sessions   []uint32
	}
	groups := map[key]*agg{}
	seen := members{}
	var total, noProject int
	refused := map[string]bool{}
	type general struct {
		pattern   string
		ok, known bool
	}
	generalized := make([]general, len(l.strs)+1) // by the permission's index
	l.each(in.Since(), func(r *record) {
		total++
		if r.S[2] == 0 {
			noProject++
			return
		}
		gen := &generalized[r.S[0]]
		if !gen.known {
			gen.pattern, gen.ok = Generalize(l.str(r.S[0]))
			gen.known = true
		}
		if !gen.ok {
			refused[l.str(r.S[0])] = true
			return
		}
		k := key{l.str(r.S[2]), gen.pattern}
		g := groups[k]
		if g == nil {
			g = &agg{idx: len(groups)}
			groups[k] = g
		}
		g.count++
		seen.add(g.idx, r.S[1], &g.sessions)
	})
	res.stat("%s %s, %s", text.Plural(total, "approval", "approvals"), inDays(in.Days), text.Plural(len(groups), "pattern", "patterns"))
	res.skipped(l.allStats(), permissionShape.file)
	if noProject > 0 {
		res.stat("%s without a project_path ignored", text.Plural(noProject, "approval", "approvals"))
	}
	if len(refused) > 0 {
		res.stat("%s never suggested", text.Plural(len(refused), "destructive or unbounded permission", "destructive or unbounded permissions"))
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].project != keys[j].project {
			return keys[i].project < keys[j].project
		}
		return keys[i].pattern < keys[j].pattern
	})
	allowedIn := map[string]map[string]bool{}
	for _, k := range keys {
		g := groups[k]
		if g.count < in.Thresholds.MinOccurrences {
			continue
		}
		conf := round2(0.5 + 0.1*float64(len(g.sessions)))
		if !meets(conf, in.Thresholds.Confidence) {
			continue
		}
		if allowedIn[k.project] == nil {
			allowedIn[k.project] = allowed(in.Home, k.project)
		}
		if allowedIn[k.project][k.pattern] {
			continue
		}
		res.Suggestions = append(res.Suggestions, allowSuggestion(in, "learn-permissions", k.project, k.pattern, conf,
			fmt.Sprintf("approved %s in %s", text.Plural(g.count, "time", "times"), text.Plural(len(g.sessions), "session", "sessions")), l.sorted(g.sessions)))
	}
	return res, nil
}

func allowSuggestion(in Input, analyzer, project, pattern string, conf float64, evidence string, sessions []string) Suggestion {
	target := SettingsLocal(project)
	return Suggestion{
		ID:         makeID(analyzer, string(AllowPermission), target, pattern),
		Analyzer:   analyzer,
		Kind:       AllowPermission,
		Text:       fmt.Sprintf("allow %s in %s (%s)", pattern, in.tilde(project), evidence),
		Confidence: conf,
		Apply:      fmt.Sprintf("adds %q to permissions.allow in %s", pattern, in.tilde(target)),
		Undo:       fmt.Sprintf("remove %q from permissions.allow in %s", pattern, in.tilde(target)),
		Target:     target,
		Sessions:   sessions,
		Evidence:   evidence,
		Pattern:    pattern,
	}
}
