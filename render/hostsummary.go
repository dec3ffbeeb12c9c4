package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/table"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// The outcome of each host of a run with hosts, as the summary's table,
// the json summary and the metrics tell it. Everything is read from the
// Summary's Results: their Host and Gate, the states, the diff's
// ClosureDiff and the fields activate recorded (reboot_needed, and the
// generations, tasks.FieldGeneration).

// The tasks of a host's chain whose results the table reads.
const (
	activateStep = "activate"
	diffStep     = "diff"
)

// hostOutcome is how one host's part of a run ended.
type hostOutcome struct {
	host string
	// state is the host's outcome: rolled-back, failed (a critical task
	// or a gate), upstream-failed, canceled, declined, else succeeded.
	state schedule.State
	// warned: a task of the host that is not critical failed.
	warned bool
	// cause is the result that decided state (nil when succeeded).
	cause *schedule.Result
	// activate and diff are the host's instances' results (nil when
	// not in the run).
	activate, diff *schedule.Result
	gates          []*schedule.Result
	// span is from the host's first task's start to its last one's end.
	span time.Duration
}

// hostOutcomes returns the outcome of every host of s, in s.Hosts()
// order; nil for a run without hosts.
func hostOutcomes(s *schedule.Summary) []hostOutcome {
	hosts := s.Hosts()
	if len(hosts) == 0 {
		return nil
	}
	byHost := map[string]*hostOutcome{}
	out := make([]hostOutcome, len(hosts))
	for i, h := range hosts {
		out[i] = hostOutcome{host: h, state: schedule.Succeeded}
		byHost[h] = &out[i]
	}
	var first, last = map[string]time.Time{}, map[string]time.Time{}
	for _, n := range summaryOrder(s) {
		r := s.Results[n]
		o := byHost[r.Host]
		if o == nil {
			continue
		}
		switch step, _ := tasks.SplitHost(n); {
		case step == activateStep:
			o.activate = r
		case step == diffStep:
			o.diff = r
		}
		if r.Gate {
			o.gates = append(o.gates, r)
		}
		if r.Duration > 0 {
			if f, ok := first[r.Host]; !ok || r.Start.Before(f) {
				first[r.Host] = r.Start
			}
			if end := r.Start.Add(r.Duration); end.After(last[r.Host]) {
				last[r.Host] = end
			}
		}
		o.judge(r)
	}
	for i := range out {
		o := &out[i]
		if f, ok := first[o.host]; ok {
			o.span = last[o.host].Sub(f)
		}
	}
	return out
}

// hostRank orders the host's states: the highest one a task of the host
// ended in is the host's (a root cause before its consequences).
var hostRank = map[schedule.State]int{
	schedule.Succeeded: 0, schedule.Skipped: 0,
	schedule.Declined: 1, schedule.Canceled: 2, schedule.UpstreamFailed: 3,
	schedule.Failed: 4, schedule.RolledBack: 5,
}

// judge takes r, one of the host's results, into its outcome.
func (o *hostOutcome) judge(r *schedule.Result) {
	st := r.State
	switch {
	case r.Rollback != nil:
		st = schedule.RolledBack
	case st == schedule.Failed && !r.Critical && !r.Gate:
		// A warning, as in the rest of the summary: the host was
		// deployed all the same.
		o.warned = true
		return
	}
	if hostRank[st] > hostRank[o.state] {
		o.state, o.cause = st, r
	}
}

// symbol is the host's mark in the table.
func (o hostOutcome) symbol() string {
	switch o.state {
	case schedule.Succeeded:
		if o.warned {
			return symWarn
		}
		return symOK
	case schedule.Declined, schedule.Skipped:
		return symSkip
	}
	return symFail
}

// failed reports whether the host counts as failed: its deployment did
// not happen, or was undone, because something went wrong.
func (o hostOutcome) failed() bool {
	switch o.state {
	case schedule.Failed, schedule.RolledBack, schedule.UpstreamFailed, schedule.Canceled:
		return true
	}
	return false
}

// reason is one line on why the host failed (or was declined): the task
// that decided it and its reason.
func (o hostOutcome) reason() string {
	r := o.cause
	if r == nil {
		return ""
	}
	if r.Rollback != nil {
		return clean(r.Rollback.Summary())
	}
	step, _ := tasks.SplitHost(r.Name)
	if r.State == schedule.RolledBack {
		return clean(r.Reason) // the rollback's own summary
	}
	s := step + " " + string(r.State)
	if rs := clean(r.Reason); rs != "" {
		s += ": " + rs
	}
	return s
}

// generations are the generation the host's activation became and the
// one before (0 when unknown).
func (o hostOutcome) generations() (gen, prev int) {
	if o.activate == nil {
		return 0, 0
	}
	f := o.activate.Report.Fields
	return intField(f[tasks.FieldGeneration]), intField(f[tasks.FieldPreviousGeneration])
}

// intField reads a numeric field as an int (0 when it is none).
func intField(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

// rolledBack reports whether the host's activation was undone by a
// failed gate, and which gate.
func (o hostOutcome) rolledBack() (gate string, ok bool) {
	for _, g := range o.gates {
		if g.Rollback != nil {
			step, _ := tasks.SplitHost(g.Name)
			return step, true
		}
	}
	if a := o.activate; a != nil && a.State == schedule.RolledBack {
		return "", true
	}
	return "", false
}

// generationCell is "41 → 42", "17 → 18 → 17" after a rollback, "no
// changes" when activate found nothing to do, else "—".
func (o hostOutcome) generationCell() string {
	gen, prev := o.generations()
	a := o.activate
	switch {
	case a == nil:
		return "—"
	case gen > 0 && prev > 0:
		if _, rb := o.rolledBack(); rb {
			return fmt.Sprintf("%d → %d → %d", prev, gen, prev)
		}
		return fmt.Sprintf("%d → %d", prev, gen)
	case gen > 0:
		return fmt.Sprintf("→ %d", gen)
	case a.State == schedule.Skipped:
		return clean(a.Reason)
	}
	return "—"
}

// diffCell is "3 changed, +1.2 MiB": the packages whose version came,
// went or changed, and the closure's growth.
func (o hostOutcome) diffCell() string {
	if o.diff == nil || o.diff.Report.Diff == nil {
		return "—"
	}
	d := o.diff.Report.Diff
	n := len(d.Upgraded) + len(d.Downgraded) + len(d.Added) + len(d.Removed)
	delta := d.ClosureAfter - d.ClosureBefore
	if d.ClosureAfter == 0 || d.ClosureBefore == 0 {
		delta = 0
		for _, g := range [][]tasks.PackageChange{d.Upgraded, d.Downgraded, d.Added, d.Removed, d.Changed} {
			for _, c := range g {
				delta += c.SizeDelta
			}
		}
	}
	return fmt.Sprintf("%d changed, %s", n, signedSize(delta))
}

// signedSize is a size change with its sign: "+1.2 MiB", "-512 B".
func signedSize(n int64) string {
	if n >= 0 {
		return "+" + text.FormatBytes(n)
	}
	return text.FormatBytes(n)
}

// Words of the gates' outcome, for the json summary (the table says
// which gate).
const (
	gatesPassed     = "passed"
	gatesFailed     = "failed"
	gatesRolledBack = "rolled-back"
	gatesSkipped    = "skipped"
	gatesNotRun     = "not-run"
)

// gateOutcome is what the host's gates did and the gates that failed;
// "" when it has none.
func (o hostOutcome) gateOutcome() (word string, failed []string) {
	if len(o.gates) == 0 {
		return "", nil
	}
	passed, skipped := 0, 0
	for _, g := range o.gates {
		step, _ := tasks.SplitHost(g.Name)
		switch g.State {
		case schedule.Succeeded:
			passed++
		case schedule.Skipped, schedule.Declined:
			skipped++
		case schedule.Failed:
			failed = append(failed, step)
		}
	}
	switch _, rb := o.rolledBack(); {
	case rb:
		return gatesRolledBack, failed
	case len(failed) > 0:
		return gatesFailed, failed
	case passed > 0 && passed+skipped == len(o.gates):
		return gatesPassed, nil
	case skipped == len(o.gates):
		return gatesSkipped, nil
	}
	return gatesNotRun, nil
}

// gatesCell is the table's gates column: "passed", "failed (health)",
// "rolled back (health)", "skipped", "not run", or "—" without gates.
func (o hostOutcome) gatesCell() string {
	word, failed := o.gateOutcome()
	names := ""
	if len(failed) > 0 {
		names = " (" + strings.Join(failed, ", ") + ")"
	}
	switch word {
	case "":
		return "—"
	case gatesRolledBack:
		return "rolled back" + names
	case gatesFailed:
		return "failed" + names
	case gatesNotRun:
		return "not run"
	}
	return word
}

// rebootNeeded is what the host's activate recorded
// (tasks.FieldRebootNeeded); ok false when it recorded nothing.
func (o hostOutcome) rebootNeeded() (needed, ok bool) {
	if o.activate == nil {
		return false, false
	}
	needed, ok = o.activate.Report.Fields[tasks.FieldRebootNeeded].(bool)
	return needed, ok
}

func (o hostOutcome) rebootCell() string {
	switch needed, ok := o.rebootNeeded(); {
	case !ok:
		return "—"
	case needed:
		return "yes"
	}
	return "no"
}

func (o hostOutcome) timeCell() string {
	if o.span <= 0 {
		return "—"
	}
	return dur(o.span)
}

// hostsSection writes the summary's table of hosts, then one line per
// failed host with its reason:
//
//	Hosts
//	  host    generation    diff                gates                 reboot  time
//	  ✔ web1  41 → 42       3 changed, +1.2 MiB passed                no      4m12s
//	  ✖ web2  17 → 18 → 17  1 changed, +8.0 KiB rolled back (health)  no      1m02s
//
//	✖ web2: health failed; gate health@web2 failed: …; rolled back to generation 17
//
// Nothing for a run without hosts.
func hostsSection(b *strings.Builder, p palette, s *schedule.Summary) {
	hosts := hostOutcomes(s)
	if len(hosts) == 0 {
		return
	}
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	b.WriteString(p.bold("Hosts"))
	b.WriteByte('\n')
	rows := [][]string{{"host", "generation", "diff", "gates", "reboot", "time"}}
	for _, o := range hosts {
		rows = append(rows, []string{o.symbol() + " " + o.host, o.generationCell(), o.diffCell(), o.gatesCell(), o.rebootCell(), o.timeCell()})
	}
	// Not coloured: the table escapes what it lays out.
	for _, l := range strings.Split(strings.TrimSuffix(table.Layout(rows, table.Options{}), "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	var failed []string
	for _, o := range hosts {
		if o.failed() {
			line := symbol(p, o.state, true) + " " + o.host + ": " + o.reason()
			if o.cause != nil && o.cause.State == schedule.Failed && o.cause.LogPath != "" {
				line += " (log: " + o.cause.LogPath + ")"
			}
			failed = append(failed, line)
		}
	}
	if len(failed) > 0 {
		b.WriteByte('\n')
		for _, l := range failed {
			b.WriteString(l + "\n")
		}
	}
}
