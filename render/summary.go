package render

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mattn/go-runewidth"

	"github.com/rebuild-nixos/rebuild/schedule"
)

// summaryText is the end-of-run report of tty and plain:
//
//	Actions      every task's action lines, in graph order
//	Statistics   every task's statistics, but none that repeats one of
//	             its actions word for word
//	Skipped      skipped and declined tasks with their reasons (on purpose:
//	             not warnings); a reason shared by several, on one line
//	Warnings     every task's warnings, then the failures that are not
//	             critical, then one line per kind of consequence
//	             (upstream-failed, canceled): only root causes are errors
//	Hosts        with hosts: a table of each host's outcome, then each
//	             failed host with its reason (hostsummary.go)
//	the failed critical task: reason, last log lines, log path
//	logs: <dir>
//	wall time 1m02s · measured critical path a → b → c
//
// Empty sections are left out.
func summaryText(p palette, s *schedule.Summary, logDir string) string {
	var b strings.Builder
	order := summaryOrder(s)
	report := func(pick func(r *schedule.Result) []string) []row {
		var rows []row
		for _, n := range order {
			for _, l := range pick(s.Results[n]) {
				rows = append(rows, row{n, clean(l)})
			}
		}
		return rows
	}
	section(&b, p, "Actions", p.bold, report(func(r *schedule.Result) []string { return r.Report.Actions }), nil)
	section(&b, p, "Statistics", p.bold, report(statsNotActions), nil)
	skipped, grouped := notDone(s, order)
	section(&b, p, "Skipped", p.bold, skipped, grouped)
	warn, tail := warnings(p, s, order, s.FailedCritical)
	section(&b, p, "Warnings", func(t string) string { return p.bold(p.yellow(t)) }, warn, tail)
	hostsSection(&b, p, s)

	if n := s.FailedCritical; n != "" {
		if r := s.Results[n]; r != nil {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			failure(&b, p, r)
		}
	}

	// With hosts, the hosts' section said which host a gate rolled back.
	if rb := s.RolledBack; rb != nil && len(s.Hosts()) == 0 {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		// Which gate and what the system went back to: the reason the
		// run exits 1 although no critical task failed.
		head := symbol(p, schedule.RolledBack, true) + " " + rb.Task + " " + string(schedule.RolledBack) + ": " + clean(rb.Summary())
		if rb.Err != nil {
			head = symbol(p, schedule.Failed, true) + " " + rb.Task + ": " + clean(rb.Summary())
		}
		b.WriteString(p.bold(p.red(head)) + "\n")
	}

	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	if logDir != "" {
		fmt.Fprintf(&b, "logs: %s\n", logDir)
	}
	var foot []string
	if s.Interrupted {
		foot = append(foot, p.yellow("interrupted"))
	}
	foot = append(foot, "wall time "+dur(s.Wall))
	if len(s.CriticalPath) > 0 {
		// What happened, not what was estimated (schedule.measuredPath):
		// `rebuild plan` shows the estimate.
		foot = append(foot, "measured critical path "+strings.Join(s.CriticalPath, " → "))
	}
	b.WriteString(p.dim(strings.Join(foot, " · ")))
	b.WriteByte('\n')
	return b.String()
}

// statsNotActions is r's statistics without those that say again, word
// for word, what one of its actions says: a line is read once.
func statsNotActions(r *schedule.Result) []string {
	var out []string
	for _, l := range r.Report.Stats {
		if !slices.Contains(r.Report.Actions, l) {
			out = append(out, l)
		}
	}
	return out
}

// quietText is the quiet mode's report: every failure with its last log
// lines, then the warnings; nothing at all after a clean run.
func quietText(p palette, s *schedule.Summary) string {
	var b strings.Builder
	order := summaryOrder(s)
	for _, n := range order {
		if r := s.Results[n]; r.State == schedule.Failed {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			failure(&b, p, r)
		}
	}
	var rows []row
	for _, n := range order {
		for _, l := range s.Results[n].Report.Warnings {
			rows = append(rows, row{n, clean(l)})
		}
	}
	_, tail := warnings(p, s, order, "")
	section(&b, p, "Warnings", func(t string) string { return p.bold(p.yellow(t)) }, rows, tail)
	return b.String()
}

// summaryOrder is the graph order, then any result the order lacks.
func summaryOrder(s *schedule.Summary) []string {
	seen := map[string]bool{}
	var order []string
	for _, n := range s.Order {
		if s.Results[n] != nil && !seen[n] {
			seen[n] = true
			order = append(order, n)
		}
	}
	var rest []string
	for n := range s.Results {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(order, rest...)
}

type row struct{ task, text string }

// warnings collects the Warnings section: rows in graph order (each
// task's warnings, failed and declined tasks with their reason) and the
// grouped lines for tasks that did not run because of something else.
// skip names the failed critical task, which has its own block.
func warnings(p palette, s *schedule.Summary, order []string, skip string) ([]row, []string) {
	var rows []row
	var upstream []string
	type group struct {
		reason string
		names  []string
	}
	var canceled []*group
	for _, n := range order {
		r := s.Results[n]
		for _, l := range r.Report.Warnings {
			rows = append(rows, row{n, clean(l)})
		}
		switch r.State {
		case schedule.Failed:
			if n != skip {
				rows = append(rows, row{n, p.yellow("failed") + reasonSuffix(r.Reason)})
			}
		case schedule.UpstreamFailed:
			upstream = append(upstream, n)
		case schedule.Canceled:
			var g *group
			for _, c := range canceled {
				if c.reason == r.Reason {
					g = c
				}
			}
			if g == nil {
				g = &group{reason: r.Reason}
				canceled = append(canceled, g)
			}
			g.names = append(g.names, n)
		}
	}
	var tail []string
	if len(upstream) > 0 {
		tail = append(tail, fmt.Sprintf("%s not run: upstream failed (%s)", count(len(upstream)), strings.Join(upstream, ", ")))
	}
	for _, g := range canceled {
		tail = append(tail, fmt.Sprintf("%s canceled%s (%s)", count(len(g.names)), reasonSuffix(g.reason), strings.Join(g.names, ", ")))
	}
	return rows, tail
}

// notDone lists the tasks that were skipped or declined on purpose, with
// their reasons: a task's own reason on its row, and one line for a reason
// several tasks share ("3 tasks skipped: dry run (a, b, c)"). These are
// not warnings: nothing went wrong, somebody or something chose so.
func notDone(s *schedule.Summary, order []string) ([]row, []string) {
	type group struct {
		state  schedule.State
		reason string
		names  []string
	}
	var groups []*group
	for _, n := range order {
		r := s.Results[n]
		if r == nil || (r.State != schedule.Skipped && r.State != schedule.Declined) {
			continue
		}
		var g *group
		for _, c := range groups {
			if c.state == r.State && c.reason == r.Reason {
				g = c
			}
		}
		if g == nil {
			g = &group{state: r.State, reason: r.Reason}
			groups = append(groups, g)
		}
		g.names = append(g.names, n)
	}
	var rows []row
	var tail []string
	for _, g := range groups {
		if len(g.names) == 1 {
			rows = append(rows, row{g.names[0], string(g.state) + reasonSuffix(g.reason)})
			continue
		}
		tail = append(tail, fmt.Sprintf("%s %s%s (%s)", count(len(g.names)), g.state, reasonSuffix(g.reason), strings.Join(g.names, ", ")))
	}
	return rows, tail
}

func count(n int) string {
	if n == 1 {
		return "1 task"
	}
	return fmt.Sprintf("%d tasks", n)
}

func reasonSuffix(r string) string {
	if r = clean(r); r == "" {
		return ""
	}
	return ": " + r
}

// section writes a titled list of rows, the task names in a column, and
// extra lines under them; nothing when both are empty.
func section(b *strings.Builder, p palette, title string, style func(string) string, rows []row, extra []string) {
	if len(rows) == 0 && len(extra) == 0 {
		return
	}
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	b.WriteString(style(title))
	b.WriteByte('\n')
	w := 0
	for _, r := range rows {
		w = max(w, runewidth.StringWidth(r.task))
	}
	for _, r := range rows {
		fmt.Fprintf(b, "  %s  %s\n", p.cyan(pad(r.task, w)), r.text)
	}
	for _, l := range extra {
		fmt.Fprintf(b, "  %s\n", l)
	}
}

// failure writes a failed task's block: what failed and why, its last
// log lines in a frame, and where the whole log is.
func failure(b *strings.Builder, p palette, r *schedule.Result) {
	head := symbol(p, schedule.Failed, r.Critical) + " " + r.Name + " failed"
	if r.Reason != "" {
		head += ": " + clean(r.Reason)
	}
	if r.Critical {
		b.WriteString(p.bold(p.red(head)))
	} else {
		b.WriteString(p.yellow(head))
	}
	b.WriteByte('\n')
	bar := p.dim("│")
	if len(r.Tail) > 0 {
		what := "last line"
		if len(r.Tail) > 1 {
			what = fmt.Sprintf("last %d lines", len(r.Tail))
		}
		fmt.Fprintf(b, "  %s\n", p.dim("┌ "+what+" of its log"))
		for _, l := range r.Tail {
			fmt.Fprintf(b, "  %s %s\n", bar, clean(l))
		}
		if r.LogPath != "" {
			fmt.Fprintf(b, "  %s\n", p.dim("└ log: "+r.LogPath))
		} else {
			fmt.Fprintf(b, "  %s\n", p.dim("└"))
		}
	} else if r.LogPath != "" {
		fmt.Fprintf(b, "  log: %s\n", r.LogPath)
	}
}
