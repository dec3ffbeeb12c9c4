package claude

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
	"github.com/rebuild-nixos/rebuild/tasks/claude/mcpusage"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
	"github.com/rebuild-nixos/rebuild/tasks/lifecycle"
)

// ReviewOptions are the options of [task.learn-review].
type ReviewOptions struct {
	MaxSuggestions int    `option:"max_suggestions" doc:"how many suggestions are offered per run"`
	RejectionDays  int    `option:"rejection_days" doc:"how long, in days, a rejected suggestion is not offered again"`
	LearningDir    string `option:"learning_dir" doc:"the learning data (rejections, outcomes)"`
	ProjectsDir    string `option:"projects_dir" doc:"the session logs, whose lifecycle moves on"`
	Report         string `option:"report" doc:"the report written when it cannot ask; empty: <learning_dir>/learn-report.md"`
}

func defaultReviewOptions() ReviewOptions {
	return ReviewOptions{MaxSuggestions: 5, RejectionDays: 90, LearningDir: "~/.claude/learning", ProjectsDir: "~/.claude/projects"}
}

// Check refuses counts below 1.
func (o ReviewOptions) Check() error {
	if err := positive("max_suggestions", o.MaxSuggestions); err != nil {
		return err
	}
	return positive("rejection_days", o.RejectionDays)
}

// learnReview is the learn-review task.
type learnReview struct{ opts ReviewOptions }

// Configure implements tasks.Configurable.
func (t learnReview) Configure(c config.Task) (tasks.Task, error) {
	t.opts = defaultReviewOptions()
	err := tasks.DecodeOptions(c, &t.opts)
	return t, err
}

// TaskOptions implements tasks.Configurable.
func (t learnReview) TaskOptions() any { return t.opts }

func (t learnReview) Run(ctx context.Context, env *tasks.Env) error {
	return runLearnReview(ctx, env, t.opts)
}

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
func runLearnReview(ctx context.Context, env *tasks.Env, o ReviewOptions) error {
	if err := requireClaudeDir(env); err != nil {
		return err
	}
	maxN, rejectionDays := o.MaxSuggestions, o.RejectionDays
	learningDir, projectsDir := env.Expand(o.LearningDir), env.Expand(o.ProjectsDir)
	reportPath := filepath.Join(learningDir, "learn-report.md")
	if o.Report != "" {
		reportPath = env.Expand(o.Report)
	}
	now := env.Now()

	var all []learn.Suggestion
	ran := 0
	for _, a := range learn.Analyzers() {
		list, ok := Suggestions(a.Name).Get(env)
		if !ok {
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
		env.Stat("%s rejected in the last %s not offered", text.Plural(n, "suggestion", "suggestions"), text.Plural(rejectionDays, "day", "days"))
	}
	if len(fresh) == 0 {
		if len(all) > 0 {
			found := "1 found was"
			if len(all) != 1 {
				found = fmt.Sprintf("%d found were", len(all))
			}
			return tasks.Skip("no new suggestions: the %s rejected in the last %s", found, text.Plural(rejectionDays, "day", "days"))
		}
		return tasks.Skip("no suggestions from the %s that ran", text.Plural(ran, "analyzer", "analyzers"))
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
		markStage(env, projectsDir, sessionsOf(fresh), lifecycle.StageInsightsGenerated, now)
		return tasks.Skip("%s: %s written to %s, nothing applied", why,
			text.Plural(len(fresh), "suggestion", "suggestions"), fsutil.Tilde(env.Home, reportPath))
	}

	offered := fresh
	if len(offered) > maxN {
		env.Stat("%s left for the next run (max_suggestions = %d)", text.Plural(len(offered)-maxN, "more suggestion", "more suggestions"), maxN)
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
		desc := describeSuggestion(i, len(offered), s)
		fmt.Fprintln(env.Log, desc)
		if applyRest {
			env.Prompt.Println(desc) // the person sees what "a" changes too
		} else {
			answer, err = env.Prompt.Choose(ctx, tasks.Question[rune]{Text: "Apply?", Body: desc, NonInteractive: 's'}, reviewChoices)
			if err != nil {
				markStage(env, projectsDir, sessionsOf(shown), lifecycle.StageInsightsGenerated, now)
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
			env.Action("rejected, not offered again for %s: %s", text.Plural(rejectionDays, "day", "days"), s.Text)
		case 'q':
			quit = true
			break review
		default: // 's', and the answer without a terminal
			break review
		}
	}
	markStage(env, projectsDir, sessionsOf(shown), lifecycle.StageInsightsGenerated, now)
	markStage(env, projectsDir, sessionsOf(applied), lifecycle.StageImplemented, now)
	env.Stat("reviewed %d of %d: %d applied, %d rejected, %d could not be applied",
		len(shown), len(offered), len(applied), nRejected, nFailed)
	if quit {
		return tasks.Decline("review quit after %d of %s (%d applied)", len(shown), text.Plural(len(offered), "suggestion", "suggestions"), len(applied))
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
func markStage(env *tasks.Env, projectsDir string, ids []string, stage lifecycle.Stage, now time.Time) {
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
		changed, err := lifecycle.Advance(p, stage, now)
		if err != nil {
			env.Warn("lifecycle of %s: %v", fsutil.Tilde(env.Home, p), err)
			continue
		}
		if changed {
			moved++
		}
	}
	if moved > 0 {
		env.Action("marked %s %s", text.Plural(moved, "session", "sessions"), stage)
	}
}
