package claude

import (
	"context"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/claude/learn"
)

// maxListed caps the summary lines of one analyzer: a heavy user's data
// can yield hundreds of suggestions, and the summary is read by a person.
// The best maxListed are listed one line each; all go to learn-review.
const maxListed = 20

// Suggestions is the key under which the analyzer named analyzer hands
// its suggestions to learn-review: a []learn.Suggestion, possibly empty.
func Suggestions(analyzer string) tasks.Key[[]learn.Suggestion] {
	return tasks.NewKey[[]learn.Suggestion](analyzer, "suggestions")
}

// AnalyzerOptions are the options of every analyzer's [task.NAME].
type AnalyzerOptions struct {
	Days        *int   `option:"days" doc:"the window, in days; unset: thresholds.json's, else 30"`
	LearningDir string `option:"learning_dir" doc:"the learning data (*.jsonl, thresholds.json)"`
}

// Check refuses a window shorter than a day.
func (o AnalyzerOptions) Check() error {
	if o.Days != nil {
		return positive("days", *o.Days)
	}
	return nil
}

// LearnMCPOptions are the options of [task.learn-mcp], which also reads
// the MCP configuration and the session logs.
type LearnMCPOptions struct {
	AnalyzerOptions
	ClaudeJSON  string `option:"claude_json" doc:"Claude Code's user configuration, with its MCP servers"`
	ProjectsDir string `option:"projects_dir" doc:"the session logs"`
}

func defaultLearnMCPOptions() LearnMCPOptions {
	return LearnMCPOptions{AnalyzerOptions: AnalyzerOptions{LearningDir: "~/.claude/learning"},
		ClaudeJSON: "~/.claude.json", ProjectsDir: "~/.claude/projects"}
}

// analyzerTask runs one learn.Analyzer as a task. Every analyzer has the
// options of learn-mcp in opts, but only learn-mcp may set claude_json
// and projects_dir: the others keep the defaults, which they do not read.
type analyzerTask struct {
	a    learn.Analyzer
	opts LearnMCPOptions
}

// Configure implements tasks.Configurable.
func (t analyzerTask) Configure(c config.Task) (tasks.Task, error) {
	t.opts = defaultLearnMCPOptions()
	if t.a.Name == "learn-mcp" {
		err := tasks.DecodeOptions(c, &t.opts)
		return t, err
	}
	err := tasks.DecodeOptions(c, &t.opts.AnalyzerOptions)
	return t, err
}

// TaskOptions implements tasks.Configurable.
func (t analyzerTask) TaskOptions() any {
	if t.a.Name == "learn-mcp" {
		return t.opts
	}
	return t.opts.AnalyzerOptions
}

// Run reads the thresholds, runs the analyzer, reports its suggestions one
// line each (so the json finish event lists them), and hands them on.
func (t analyzerTask) Run(ctx context.Context, env *tasks.Env) error {
	if err := requireClaudeDir(env); err != nil {
		return err
	}
	learningDir := env.Expand(t.opts.LearningDir)
	tf, err := learn.LoadThresholds(learn.ThresholdsPath(learningDir))
	if err != nil {
		env.Warn("%v (defaults used)", err)
	}
	th := tf.For(t.a.Name)
	days := th.Days
	if t.opts.Days != nil {
		days = *t.opts.Days
	}
	in := learn.Input{
		Home: env.Home, Flake: flakeOf(env), LearningDir: learningDir,
		Now: env.Now(), Days: days, Thresholds: th, DryRun: env.DryRun,
		Status:     func(s string) { env.Status("%s", s) },
		ClaudeJSON: env.Expand(t.opts.ClaudeJSON), ProjectsDir: env.Expand(t.opts.ProjectsDir),
		StateDir: stateDirOf(env),
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
			env.Stat("… and %s (all are handed to learn-review)", text.Plural(len(res.Suggestions)-maxListed, "weaker suggestion", "weaker suggestions"))
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
	Suggestions(t.a.Name).Put(env, res.Suggestions)
	return nil
}
