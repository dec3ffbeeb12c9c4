package claude

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
	"github.com/rebuild-nixos/rebuild/tasks/claude/mcpusage"
)

// Review defaults.
const (
	defaultMaxSuggestions = 5
	defaultRejectionDays  = 90
)

// reviewChoices are the answers to "Apply?".
var reviewChoices = []tasks.Choice{
	{Key: 'y', Label: "yes"},
	{Key: 'n', Label: "no"},
	{Key: 'a', Label: "all"},
	{Key: 's', Label: "skip rest"},
	{Key: 'q', Label: "quit"},
}

// runLearnReview is learn-review. It gathers the suggestions the analyzers
// of this run handed on, drops those rejected within rejection_days, and
// offers the best max_suggestions one by one:
//
//	y  apply it               n  reject it (not offered again for rejection_days)
//	a  apply it and the rest  s  skip the rest (offered again next run)
//	q  quit: nothing more is applied; the task ends declined
//
// Each accepted suggestion is applied at once, atomically, and never to a
// file with uncommitted git changes. Answers go to meta_metrics.jsonl
// (learn-meta reads them), rejections to suggestion_rejections.jsonl. The
// sessions behind every suggestion shown move to insights_generated, those
// behind an applied one to implemented.
//
// Without a terminal, and with --yes, nothing is applied: the suggestions
// are written to the report file (default ~/.claude/learning/learn-report.md)
// and the task is skipped with a reason naming it. --yes does not apply
// suggestions: they change how an agent may act on the machine, and each
// deserves a look.
func runLearnReview(ctx context.Context, env *tasks.Env) error {
	if err := requireClaudeDir(env); err != nil {
		return err
	}
	maxN, err := positiveOption(env, "max_suggestions", defaultMaxSuggestions)
	if err != nil {
		return err
	}
	rejectionDays, err := positiveOption(env, "rejection_days", defaultRejectionDays)
	if err != nil {
		return err
	}
	learningDir, err := pathOption(env, "learning_dir", "~/.claude/learning")
	if err != nil {
		return err
	}
	projectsDir, err := pathOption(env, "projects_dir", "~/.claude/projects")
	if err != nil {
		return err
	}
	reportPath, err := pathOption(env, "report", filepath.Join(learningDir, "learn-report.md"))
	if err != nil {
		return err
	}
	now := env.Now()

	var all []learn.Suggestion
	ran := 0
	for _, a := range learn.Analyzers() {
		v, ok := env.Value(a.Name, SuggestionsKey)
		if !ok {
			continue
		}
		list, ok := v.([]learn.Suggestion)
		if !ok {
			env.Warn("%s handed on %T, not suggestions", a.Name, v)
			continue
		}
		ran++
		all = append(all, list...)
	}
	if ran == 0 {
		return tasks.Skip("no suggestions: no analyzer ran")
	}
	learn.Sort(all)
	all = dedupeSuggestions(all)

	rejected, st, err := learn.Rejected(ctx, learn.RejectionsPath(learningDir), now.AddDate(0, 0, -rejectionDays))
	if err != nil {
		return err
	}
	if d := st.Describe("suggestion_rejections.jsonl"); d != "" {
		env.Stat("%s", d)
	}
	var fresh []learn.Suggestion
	for _, s := range all {
		if !rejected[s.ID] {
			fresh = append(fresh, s)
		}
	}
	if n := len(all) - len(fresh); n > 0 {
		env.Stat("%d %s rejected in the last %d days not offered", n, pluralWord(n, "suggestion", "suggestions"), rejectionDays)
	}
	if len(fresh) == 0 {
		if len(all) > 0 {
			return tasks.Skip("no new suggestions: the %d found were rejected in the last %d days", len(all), rejectionDays)
		}
		return tasks.Skip("no suggestions from the %d analyzers that ran", ran)
	}

	interactive := env.Interactive()
	if env.Yes || !interactive {
		why := "no terminal"
		if env.Yes {
			why = "--yes does not apply suggestions"
		}
		if err := writeFileAtomic(reportPath, learn.Report(fresh, now, fmt.Sprintf("Not reviewed: %s.", why))); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		markStage(env, projectsDir, sessionsOf(fresh), StageInsightsGenerated, now)
		return tasks.Skip("%s: %d %s written to %s, nothing applied", why, len(fresh),
			pluralWord(len(fresh), "suggestion", "suggestions"), homeTilde(env, reportPath))
	}

	offered := fresh
	if len(offered) > maxN {
		env.Stat("%d more suggestions left for the next run (max_suggestions = %d)", len(offered)-maxN, maxN)
		offered = offered[:maxN]
	}
	ap := &applier{env: env, clean: map[string]bool{}, backedUp: map[string]bool{}}
	metrics := learn.MetricsPath(learningDir)
	var shown, applied []learn.Suggestion
	var nRejected, nFailed int
	applyRest, quit := false, false
review:
	for i, s := range offered {
		answer := 'y'
		text := describeSuggestion(i, len(offered), s)
		fmt.Fprintln(env.Log, text)
		if applyRest {
			env.Prompt.Println(text) // the person sees what "a" changes too
		} else {
			answer, err = env.Prompt.Choose(ctx, tasks.Question[rune]{Text: "Apply?", Body: text, NonInteractive: 's'}, reviewChoices)
			if err != nil {
				markStage(env, projectsDir, sessionsOf(shown), StageInsightsGenerated, now)
				return err
			}
			fmt.Fprintf(env.Log, "answer: %c\n", answer)
		}
		switch answer {
		case 'y', 'a':
			applyRest = applyRest || answer == 'a'
			shown = append(shown, s)
			err := ap.apply(ctx, s)
			if err != nil {
				nFailed++
				env.Warn("not applied: %s: %v", s.Text, err)
			} else {
				applied = append(applied, s)
				env.Action("applied: %s", s.Text)
			}
			recordOutcome(env, metrics, s, true, err == nil, now)
		case 'n':
			shown = append(shown, s)
			nRejected++
			if err := learn.RecordRejection(learn.RejectionsPath(learningDir), s, now); err != nil {
				env.Warn("recording the rejection: %v", err)
			}
			recordOutcome(env, metrics, s, false, false, now)
			env.Action("rejected, not offered again for %d days: %s", rejectionDays, s.Text)
		case 'q':
			quit = true
			break review
		default: // 's', and the answer without a terminal
			break review
		}
	}
	markStage(env, projectsDir, sessionsOf(shown), StageInsightsGenerated, now)
	markStage(env, projectsDir, sessionsOf(applied), StageImplemented, now)
	env.Stat("reviewed %d of %d: %d applied, %d rejected, %d could not be applied",
		len(shown), len(offered), len(applied), nRejected, nFailed)
	if quit {
		return tasks.Decline("review quit after %d of %d suggestions (%d applied)", len(shown), len(offered), len(applied))
	}
	return nil
}

func recordOutcome(env *tasks.Env, path string, s learn.Suggestion, accepted, applied bool, now time.Time) {
	if err := learn.RecordOutcome(path, s, accepted, applied, now); err != nil {
		env.Warn("recording the outcome: %v", err)
	}
}

// describeSuggestion is what the person sees before "Apply?".
func describeSuggestion(i, n int, s learn.Suggestion) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%d/%d] %s\n", i+1, n, s.Text)
	fmt.Fprintf(&b, "      %s · confidence %.2f · %s\n", s.Analyzer, s.Confidence, s.ID)
	fmt.Fprintf(&b, "      applying %s\n", s.Apply)
	fmt.Fprintf(&b, "      undo: %s", s.Undo)
	return b.String()
}

// dedupeSuggestions keeps the first (best) of suggestions making the same
// change, with the sessions of all of them. s must be sorted best first.
func dedupeSuggestions(s []learn.Suggestion) []learn.Suggestion {
	key := func(x learn.Suggestion) string {
		return strings.Join([]string{string(x.Kind), x.Target, x.Pattern, x.Server, strings.Join(x.JSONPath, "/"), x.Section, x.Line}, "\x00")
	}
	at := map[string]int{}
	var out []learn.Suggestion
	for _, x := range s {
		k := key(x)
		if i, ok := at[k]; ok {
			out[i].Sessions = mergeSorted(out[i].Sessions, x.Sessions)
			continue
		}
		at[k] = len(out)
		out = append(out, x)
	}
	return out
}

func mergeSorted(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range [][]string{a, b} {
		for _, x := range l {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return out
}

func sessionsOf(s []learn.Suggestion) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Sessions...)
	}
	return out
}

// markStage moves the sessions with the given ids forward to stage (never
// back), finding their logs under projectsDir. Problems are warnings.
func markStage(env *tasks.Env, projectsDir string, ids []string, stage Stage, now time.Time) {
	if len(ids) == 0 || env.DryRun {
		return
	}
	logs, err := mcpusage.Logs(projectsDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			env.Warn("session logs: %v", err)
		}
		return
	}
	byID := make(map[string]string, len(logs))
	for _, p := range logs {
		byID[strings.TrimSuffix(filepath.Base(p), ".jsonl")] = p
	}
	seen := map[string]bool{}
	moved := 0
	for _, id := range ids {
		p, ok := byID[id]
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		changed, err := Advance(p, stage, now)
		if err != nil {
			env.Warn("lifecycle of %s: %v", homeTilde(env, p), err)
			continue
		}
		if changed {
			moved++
		}
	}
	if moved > 0 {
		env.Action("marked %d %s %s", moved, pluralWord(moved, "session", "sessions"), stage)
	}
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
