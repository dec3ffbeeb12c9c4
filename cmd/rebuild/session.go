package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// session is what a run shows and keeps while it is under way: the
// display, the logs, the terminal its interactive tasks get and the
// conversation its questions go through.
type session struct {
	o     *runOptions
	p     *plan
	runID string
	rend  render.Renderer
	logs  *render.Logs
	term  *proc.Terminal
	conv  *render.Conversation
	// pruned receives the result of removing old log folders, which runs
	// beside the tasks from the start of the run: deleting a folder of a
	// thousand files must not hold the exit.
	pruned chan error
}

// openSession starts the display and opens the run's logs. Only the live
// terminal display (tty output) uses the terminal: plain and json output
// never hand it to a task nor ask a question, whatever stdin is.
func openSession(o *runOptions, p *plan, mode string, est func(string) time.Duration, runID string) (*session, error) {
	live := mode == render.ModeTTY
	color := live && o.IO.ColorEnabled()
	var term *proc.Terminal
	conv := render.NewConversation(nil)
	if live {
		if term = o.IO.Terminal(); term != nil {
			conv = render.NewConversation(term.In)
		}
	}
	ro := renderOptions(o, p, est, color)
	ro.Questions = conv
	rend, err := render.New(mode, ro)
	if err != nil {
		return nil, &usageError{err}
	}
	var verbose io.Writer
	if o.Verbose {
		verbose = rend.VerboseWriter()
	}
	logs, err := render.OpenLogs(filepath.Join(p.cfg.StateDir, "logs"), runID, p.cfg.KeepLogs, verbose)
	if err != nil {
		conv.Close()
		rend.Close()
		return nil, fmt.Errorf("logs: %w", err)
	}
	logs.CapTasks(p.cfg.LogMax)
	s := &session{o: o, p: p, runID: runID, rend: rend, logs: logs, term: term, conv: conv, pruned: make(chan error, 1)}
	// This run's folder exists now, so Prune keeps it and counts it.
	go func() { s.pruned <- logs.Prune() }()
	if w := proc.ForeignOwnerWarning(p.cfg.Flake, o.Sys.Euid); w != "" {
		fmt.Fprintf(o.IO.Err, "rebuild: warning: %s\n", w)
	}
	return s, nil
}

// renderOptions describe the run to the display: its tasks with their
// estimates, and the remaining critical path for the overall ETA.
func renderOptions(o *runOptions, p *plan, est func(string) time.Duration, color bool) render.Options {
	preds := map[string][]string{}
	for _, e := range p.graph.Edges() {
		preds[e.To] = append(preds[e.To], e.From)
	}
	infos := make([]render.TaskInfo, 0, p.graph.Len())
	for _, n := range p.graph.Nodes() {
		s := p.specs[n.Name]
		infos = append(infos, render.TaskInfo{Name: n.Name, Phase: s.Phase, Critical: s.Critical, Interactive: s.Interactive, ETA: est(n.Name),
			Host: s.Host, Needs: preds[n.Name]})
	}
	return render.Options{Out: o.IO.Out, Err: o.IO.Err, Now: o.Sys.Now, Color: color, Verbose: o.Verbose, Tasks: infos,
		Width: o.IO.TerminalWidth, Height: o.IO.TerminalHeight, RemainingETA: render.CriticalRemaining(infos, preds)}
}

// screen is the terminal's size as the tasks lay their tables out for it:
// the live display's terminal, nil in the other modes.
func (s *session) screen() func() (int, int) {
	if s.term == nil {
		return nil
	}
	io := s.o.IO
	return func() (int, int) { return io.TerminalWidth(), io.TerminalHeight() }
}

// prompter is a task's own prompter in the run's conversation.
func (s *session) prompter(who render.Asker) tasks.Prompter { return s.conv.Prompter(who) }

// close gives the terminal its mode back, stops the display and closes
// the logs.
func (s *session) close() {
	s.conv.Close()
	s.rend.Close()
	s.logs.Close()
}

// finish shows the summary, closes the session, and records the run: old
// logs pruned, the history and the metrics file written. It returns the
// run's exit code as an error (nil for 0).
func (s *session) finish(r *schedule.Run, sum *schedule.Summary) error {
	o, cfg := s.o, s.p.cfg
	recordActivations(r.Values(), sum)
	code := sum.ExitCode(o.Strict)
	for _, c := range s.logs.Cuts() {
		if res := sum.Results[c.Task]; res != nil {
			res.Report.Warnings = append(res.Report.Warnings, "log cut: "+c.String())
		}
	}
	// History first: it must not wait for a display that is slow or gone.
	// A dry run is not a run: its quick, changeless tasks would drag the
	// ETAs of the next real run down.
	if !o.DryRun {
		hist := filepath.Join(cfg.StateDir, "history.jsonl")
		rec := schedule.NewRunRecord(s.runID, cfg.Host, sum, code, r.Values().Snapshot())
		// The estimates' summary is brought up to date with it, so the
		// next start-up need not read the history.
		if err := schedule.RecordRun(hist, rec, cfg.HistoryMax); err != nil {
			var ce *schedule.CompactError
			if errors.As(err, &ce) {
				fmt.Fprintf(o.IO.Err, "rebuild: %v\n", err)
			} else {
				fmt.Fprintf(o.IO.Err, "rebuild: recording history: %v\n", err)
			}
		}
	}
	logDir := s.logs.Dir()
	if o.LogsRemoved {
		logDir = ""
	}
	s.rend.Summary(sum, logDir)
	s.close()
	// Long done unless the run was shorter than the deletion, which is
	// then not waited for: what the exit cuts short, the next run's
	// pruning takes up (old folders are still old).
	select {
	case err := <-s.pruned:
		if err != nil {
			fmt.Fprintf(o.IO.Err, "rebuild: pruning old logs: %v\n", err)
		}
	default:
	}
	if cfg.MetricsFile != "" && !o.DryRun {
		if err := render.WriteMetrics(cfg.MetricsFile, sum, code, o.Sys.Now()); err != nil {
			fmt.Fprintf(o.IO.Err, "rebuild: writing metrics: %v\n", err)
		}
	}
	if code != 0 {
		return &exitError{code}
	}
	return nil
}

// recordActivations puts, in a run with hosts, the generations each
// host's activation handed on (tasks.Activated) into its activate's
// result as fields, where the summary's table of hosts and the json
// summary find them with the rest of its outcome (the renderers read
// the Summary, never the handed-on values).
func recordActivations(v *tasks.Values, sum *schedule.Summary) {
	for _, h := range sum.Hosts() {
		res := sum.Results[tasks.OnHost("activate", h)]
		act, ok := tasks.Activated.On(h).Get(v)
		if res == nil || !ok || act.Generation == 0 {
			continue
		}
		if res.Report.Fields == nil {
			res.Report.Fields = map[string]any{}
		}
		res.Report.Fields[tasks.FieldGeneration] = act.Generation
		if act.Previous > 0 {
			res.Report.Fields[tasks.FieldPreviousGeneration] = act.Previous
		}
	}
}
