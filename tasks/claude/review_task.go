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

// reviewChoices are the answers to the one review question.
var reviewChoices = []tasks.Choice{
	{Key: 'y', Label: "apply all"},
	{Key: 'n', Label: "none: reject all"},
	{Key: 'c', Label: "choose"},
	{Key: 's', Label: "skip: ask next run"},
}

// runLearnReview is learn-review. It gathers the suggestions the analyzers
// of this run handed on, drops those rejected within rejection_days, and
// shows the best max_suggestions together, in one question:
//
//	y  apply them all         n  reject them all (not offered again for rejection_days)
//	c  choose: pick those to apply; the others are rejected
//	s  skip: nothing applied or rejected; offered again next run
//
// One question rather than one per suggestion: the person reads the list
// once, and a key meant for one suggestion cannot land on the next.
// Each accepted suggestion is applied atomically, and never to a file
// with uncommitted git changes. Answers go to meta_metrics.jsonl
// (learn-meta reads them), rejections to suggestion_rejections.jsonl. The
// sessions behind every suggestion answered move to insights_generated,
// those behind an applied one to implemented.
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
	r := reviewRun{env: env, o: o, now: env.Now(),
		learningDir: env.Expand(o.LearningDir), projectsDir: env.Expand(o.ProjectsDir)}
	fresh, err := r.fresh(ctx)
	if err != nil {
		return err
	}
	if env.Yes || !env.Interactive() {
		return r.report(fresh)
	}
	offered := fresh
	if len(offered) > o.MaxSuggestions {
		env.Stat("%s left for the next run (max_suggestions = %d)", text.Plural(len(offered)-o.MaxSuggestions, "more suggestion", "more suggestions"), o.MaxSuggestions)
		offered = offered[:o.MaxSuggestions]
	}
	apply, err := r.ask(ctx, offered)
	if err != nil || apply == nil {
		return err
	}
	r.settle(ctx, offered, apply)
	return nil
}

// reviewRun is one run of learn-review: where its data is, and when.
type reviewRun struct {
	env                      *tasks.Env
	o                        ReviewOptions
	now                      time.Time
	learningDir, projectsDir string
}

// fresh gathers the analyzers' suggestions, best first, without
// duplicates and without those rejected within rejection_days. When there
// is nothing to offer it returns the skip saying why.
func (r reviewRun) fresh(ctx context.Context) ([]learn.Suggestion, error) {
	var all []learn.Suggestion
	ran := 0
	for _, a := range learn.Analyzers() {
		list, ok := Suggestions(a.Name).Get(r.env)
		if !ok {
			continue
		}
		ran++
		all = append(all, list...)
	}
	if ran == 0 {
		return nil, tasks.Skip("no suggestions: no analyzer ran")
	}
	learn.Sort(all)
	all = dedupeSuggestions(all)

	days := text.Plural(r.o.RejectionDays, "day", "days")
	rejected, st, err := learn.Rejected(ctx, learn.RejectionsPath(r.learningDir), r.now.AddDate(0, 0, -r.o.RejectionDays))
	if err != nil {
		return nil, err
	}
	if d := st.Describe("suggestion_rejections.jsonl"); d != "" {
		r.env.Stat("%s", d)
	}
	var fresh []learn.Suggestion
	for _, s := range all {
		if !rejected[s.ID] {
			fresh = append(fresh, s)
		}
	}
	if n := len(all) - len(fresh); n > 0 {
		r.env.Stat("%s rejected in the last %s not offered", text.Plural(n, "suggestion", "suggestions"), days)
	}
	switch {
	case len(fresh) > 0:
		return fresh, nil
	case len(all) == 1:
		return nil, tasks.Skip("no new suggestions: the 1 found was rejected in the last %s", days)
	case len(all) > 1:
		return nil, tasks.Skip("no new suggestions: the %d found were rejected in the last %s", len(all), days)
	}
	return nil, tasks.Skip("no suggestions from the %s that ran", text.Plural(ran, "analyzer", "analyzers"))
}

// report is learn-review without a question (no terminal, --yes): the
// suggestions go to the report file, nothing is applied.
func (r reviewRun) report(fresh []learn.Suggestion) error {
	why := "no terminal"
	if r.env.Yes {
		why = "--yes does not apply suggestions"
	}
	path := filepath.Join(r.learningDir, "learn-report.md")
	if r.o.Report != "" {
		path = r.env.Expand(r.o.Report)
	}
	if err := writeFileAtomic(path, learn.Report(fresh, r.now, fmt.Sprintf("Not reviewed: %s.", why))); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	markStage(r.env, r.projectsDir, sessionsOf(fresh), lifecycle.StageInsightsGenerated, r.now)
	return tasks.Skip("%s: %s written to %s, nothing applied", why,
		text.Plural(len(fresh), "suggestion", "suggestions"), fsutil.Tilde(r.env.Home, path))
}

// ask shows every offered suggestion in one question and returns, for
// each, whether to apply it (false: reject it); nil when the person
// skipped, and nothing is to be applied or rejected.
func (r reviewRun) ask(ctx context.Context, offered []learn.Suggestion) ([]bool, error) {
	descs, lines := make([]string, len(offered)), make([]string, len(offered))
	for i, s := range offered {
		descs[i] = describeSuggestion(i, len(offered), s)
		lines[i] = fmt.Sprintf("[%d/%d] %s · %.2f · %s\n      undo: %s", i+1, len(offered), s.Text, s.Confidence, s.ID, s.Undo)
	}
	// The log has each suggestion in full; the question what it is and
	// its undo, two lines each, so that the whole list and the progress
	// above it fit on a small terminal.
	fmt.Fprintln(r.env.Log, strings.Join(descs, "\n"))
	body := strings.Join(lines, "\n")
	q := tasks.Question[rune]{Text: fmt.Sprintf("Apply the %s?", text.Plural(len(offered), "suggestion", "suggestions")), Body: body, NonInteractive: 's'}
	answer, err := r.env.Prompt.Choose(ctx, q, reviewChoices)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.env.Log, "answer: %c\n", answer)
	apply := make([]bool, len(offered))
	switch answer {
	case 'y':
		for i := range apply {
			apply[i] = true
		}
	case 'n':
	case 'c':
		labels := make([]string, len(offered))
		for i, s := range offered {
			labels[i] = s.Text
		}
		picked, err := r.env.Prompt.MultiSelect(ctx, tasks.Question[[]int]{Text: "Apply which? (the others are rejected)"}, labels)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(r.env.Log, "picked: %v\n", picked)
		for _, i := range picked {
			if i >= 0 && i < len(apply) {
				apply[i] = true
			}
		}
	default: // 's', and the answer without a terminal
		r.env.Stat("review skipped: %s offered again next run", text.Plural(len(offered), "suggestion", "suggestions"))
		return nil, nil
	}
	return apply, nil
}

// settle applies the suggestions the person accepted and records the
// others as rejections, each outcome in meta_metrics.jsonl, then moves
// the sessions behind them on.
func (r reviewRun) settle(ctx context.Context, offered []learn.Suggestion, apply []bool) {
	env := r.env
	ap := &applier{env: env, clean: map[string]bool{}, backedUp: map[string]bool{}}
	metrics := learn.MetricsPath(r.learningDir)
	var applied []learn.Suggestion
	var nRejected, nFailed int
	for i, s := range offered {
		if !apply[i] {
			nRejected++
			if err := learn.RecordRejection(learn.RejectionsPath(r.learningDir), s, r.now); err != nil {
				env.Warn("recording the rejection: %v", err)
			}
			recordOutcome(env, metrics, s, false, false, r.now)
			env.Action("rejected, not offered again for %s: %s", text.Plural(r.o.RejectionDays, "day", "days"), s.Text)
			continue
		}
		err := ap.apply(ctx, s)
		if err != nil {
			nFailed++
			env.Warn("not applied: %s: %v", s.Text, err)
		} else {
			applied = append(applied, s)
			env.Action("applied: %s", s.Text)
		}
		recordOutcome(env, metrics, s, true, err == nil, r.now)
	}
	markStage(env, r.projectsDir, sessionsOf(offered), lifecycle.StageInsightsGenerated, r.now)
	markStage(env, r.projectsDir, sessionsOf(applied), lifecycle.StageImplemented, r.now)
	env.Stat("reviewed %d of %d: %d applied, %d rejected, %d could not be applied",
		len(offered), len(offered), len(applied), nRejected, nFailed)
}

func recordOutcome(env *tasks.Env, path string, s learn.Suggestion, accepted, applied bool, now time.Time) {
	if err := learn.RecordOutcome(path, s, accepted, applied, now); err != nil {
		env.Warn("recording the outcome: %v", err)
	}
}

// describeSuggestion is one suggestion as the review question shows it.
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
