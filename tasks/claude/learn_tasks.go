package claude

import (
	"context"
	"time"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
)

// maxListed caps the summary lines of one analyzer: a heavy user's data
// can yield hundreds of suggestions, and the summary is read by a person.
// The best maxListed are listed one line each; all go to learn-review.
const maxListed = 20

// SuggestionsKey is the value each analyzer hands to learn-review with
// env.Put: a []learn.Suggestion, possibly empty.
const SuggestionsKey = "suggestions"

// LearnSpecs returns the seven analyzers and learn-review (seed phase 7).
// The analyzers are read-only, have no edges and start at once, with the
// build; the review comes after all of them. The catalogue registers them
// with the family's other Specs; `--only=learn` selects exactly these.
//
// Options, in [task.NAME]:
//
//	every analyzer  days          window in days (default: thresholds.json, else 30)
//	                learning_dir  (~/.claude/learning)
//	learn-mcp       claude_json   (~/.claude.json)
//	                projects_dir  session logs (~/.claude/projects)
//	learn-review    max_suggestions  how many are offered per run (5)
//	                rejection_days   how long a rejection is honoured (90)
//	                learning_dir     (~/.claude/learning)
//	                projects_dir     session logs, for their lifecycle (~/.claude/projects)
//	                report           the report written when it cannot ask
//	                                 (~/.claude/learning/learn-report.md)
func LearnSpecs() []tasks.Spec {
	var specs []tasks.Spec
	var names []string
	for _, a := range learn.Analyzers() {
		opts := []string{"days", "learning_dir"}
		est := 2 * time.Second
		if a.Name == "learn-mcp" {
			opts = append(opts, "claude_json", "projects_dir")
			est = 5 * time.Second
		}
		specs = append(specs, tasks.Spec{
			Name: a.Name, Seed: 7, Groups: []string{"learn"},
			Description: a.Description,
			Options:     opts,
			DryRun:      true,
			Estimate:    est,
			Task:        analyzerTask{a},
		})
		names = append(names, a.Name)
	}
	specs = append(specs, tasks.Spec{
		Name: "learn-review", Seed: 7, Groups: []string{"learn"}, After: names,
		Description: "review the analyzers' suggestions and apply the accepted ones",
		Interactive: true,
		// It edits CLAUDE.md files, as the analytics tasks do.
		Resources: []string{tasks.ResourceClaudeMD},
		Options:   []string{"max_suggestions", "rejection_days", "learning_dir", "projects_dir", "report"},
		Estimate:  time.Minute,
		Task:      tasks.Func(runLearnReview),
	})
	return specs
}

// analyzerTask runs one learn.Analyzer as a task.
type analyzerTask struct{ a learn.Analyzer }

// Run reads the thresholds, runs the analyzer, reports its suggestions one
// line each (so the json finish event lists them), and hands them on.
func (t analyzerTask) Run(ctx context.Context, env *tasks.Env) error {
	if err := requireClaudeDir(env); err != nil {
		return err
	}
	learningDir, err := pathOption(env, "learning_dir", "~/.claude/learning")
	if err != nil {
		return err
	}
	tf, err := learn.LoadThresholds(learn.ThresholdsPath(learningDir))
	if err != nil {
		env.Warn("%v (defaults used)", err)
	}
	th := tf.For(t.a.Name)
	days, err := positiveOption(env, "days", th.Days)
	if err != nil {
		return err
	}
	in := learn.Input{
		Home: env.Home, Flake: flakeOf(env), LearningDir: learningDir,
		Now: env.Now(), Days: days, Thresholds: th, DryRun: env.DryRun,
		Status: func(s string) { env.Status("%s", s) },
	}
	if in.ClaudeJSON, err = pathOption(env, "claude_json", "~/.claude.json"); err != nil {
		return err
	}
	if in.ProjectsDir, err = pathOption(env, "projects_dir", "~/.claude/projects"); err != nil {
		return err
	}
	res, err := t.a.Run(ctx, in)
	if reason, ok := learn.IsNoData(err); ok {
		return tasks.Skip("%s", reason)
	}
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		env.Warn("%s", w)
	}
	for _, s := range res.Stats {
		env.Stat("%s", s)
	}
	for _, f := range res.Write {
		if env.DryRun {
			continue
		}
		if err := writeFileAtomic(f.Path, f.Data); err != nil {
			return err
		}
	}
	for _, a := range res.Actions {
		env.Action("%s", a)
	}
	learn.Sort(res.Suggestions)
	for i, s := range res.Suggestions {
		if i == maxListed {
			env.Stat("… and %s (all are handed to learn-review)", cleanupPlural(len(res.Suggestions)-maxListed, "weaker suggestion", "weaker suggestions"))
			break
		}
		env.Stat("%s", s.Summary())
	}
	if len(res.Suggestions) == 0 && t.a.Name != "learn-meta" {
		env.Stat("no suggestions")
	}
	if res.Suggestions == nil {
		res.Suggestions = []learn.Suggestion{}
	}
	env.Put(SuggestionsKey, res.Suggestions)
	return nil
}
