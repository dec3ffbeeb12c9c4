package render

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// The live area of a run with hosts: the tasks of the whole run keep
// their lines (flake-update, the Claude and housekeeping tasks), and each
// host has a lane: one line with the host, its current step (what runs,
// or the next step and what it waits for), the step's time and estimate,
// the host's time left, and the step's progress (a copy's bytes, paths
// and rate; a build's counts). With few hosts a lane unfolds: under its
// line, the host's other running steps and the build view of its build
// or copy, as room allows. With many (more than maxLanes, or more than a
// third of the terminal's height) every lane is one line:
//
//	⠋ flake-update    3.1s ~20s  fetching nixpkgs
//	⠋ web1  build     1m02s ~1m40s · ~3m10s left  built 12/40 · downloaded 3/25 (210 MiB/1.2 GiB)
//	            ▸ firefox-133.0  buildPhase  40s ~1m10s
//	⠋ web2  copy      12s ~30s · ~1m05s left  1.2 GiB/3.4 GiB · 120/310 paths · 45.0 MiB/s
//	· db1   activate  waits for health@web1 · ~5m00s left
//	✔ db2   done      4m12s
//	3/22 tasks · 1m05s · ~5m00s left
//
// A host's time left is the longest chain of its unfinished tasks (and
// of what they wait for), each weighted by its ETA, which history gives
// per host (build@web1's own median): like the overall line's, it is
// computed when a task finishes and counts down in between.

// maxLanes is the most hosts whose lanes unfold; more, and every lane is
// one line.
const maxLanes = 8

// maxStepCol caps the step column ("generations" fits).
const maxStepCol = 14

// copyStep is the task whose progress is a copy to the host: its lane
// shows bytes, paths and rate rather than a build's counts.
const copyStep = "copy"

// lane is one host's part of the live area.
type lane struct {
	host  string
	tasks []string // the host's tasks, in graph order (Options.Tasks)
	done  int      // how many of them are final
	// state is the worst final state among its tasks (hostRank), step
	// the task that decided it (without its host) and cause why; warned:
	// a task that is not critical failed.
	state  schedule.State
	step   string
	cause  string
	warned bool
	reboot bool // activate said the host needs a reboot
	first  time.Time
	last   time.Time
}

// lanes is the hosts' part of the tty renderer's state; nil without
// hosts. The renderer's lock guards it.
type lanes struct {
	order  []*lane
	byHost map[string]*lane
	tasks  []TaskInfo // every task, in graph order
	info   map[string]TaskInfo
	hostW  int
	stepW  int
	// remain is each host's time left at remainAt (the last finish).
	remain   map[string]time.Duration
	remainAt time.Time
}

// emptyLanes are the lanes of a run whose task list named no host, once
// an event of a per-host task comes: its hosts get lanes as they start.
func emptyLanes(now time.Time) *lanes {
	return &lanes{byHost: map[string]*lane{}, info: map[string]TaskInfo{}, stepW: len("done"), remainAt: now}
}

func newLanes(ts []TaskInfo) *lanes {
	hosts := hostsOf(ts)
	if len(hosts) == 0 {
		return nil
	}
	ls := &lanes{byHost: map[string]*lane{}, tasks: ts, info: map[string]TaskInfo{}}
	for _, h := range hosts {
		ls.add(h)
	}
	for _, t := range ts {
		ls.info[t.Name] = t
		if l := ls.byHost[t.Host]; l != nil {
			l.tasks = append(l.tasks, t.Name)
			ls.stepW = max(ls.stepW, runewidth.StringWidth(stepOf(t.Name, t.Host)))
		}
	}
	ls.stepW = min(max(ls.stepW, len("done")), maxStepCol)
	ls.remain = ls.remaining(map[string]bool{})
	return ls
}

// add makes host's lane (a host the task list did not know comes last).
func (ls *lanes) add(host string) *lane {
	l := &lane{host: host, state: schedule.Succeeded}
	ls.order = append(ls.order, l)
	ls.byHost[host] = l
	ls.hostW = max(ls.hostW, runewidth.StringWidth(host))
	return l
}

// stepOf is a task's name without its host: build@web1's step is build.
func stepOf(name, host string) string {
	if host == "" {
		return name
	}
	return strings.TrimSuffix(name, tasks.HostSep+host)
}

// started records a per-host task's start.
func (ls *lanes) started(e schedule.Event) {
	l := ls.byHost[e.Host]
	if l == nil {
		l = ls.add(e.Host)
	}
	if l.first.IsZero() {
		l.first = e.Time
	}
	ls.stepW = min(max(ls.stepW, runewidth.StringWidth(stepOf(e.Task, e.Host))), maxStepCol)
}

// finished records a per-host task's end; first is false for a second
// Finish of the same task (an activation a gate rolled back).
func (ls *lanes) finished(e schedule.Event, first bool) {
	l := ls.byHost[e.Host]
	if l == nil {
		l = ls.add(e.Host)
	}
	if first {
		l.done++
	}
	if e.Time.After(l.last) {
		l.last = e.Time
	}
	if b, ok := e.Fields[tasks.FieldRebootNeeded].(bool); ok {
		l.reboot = b
	}
	st := e.State
	if st == schedule.Failed && !e.Critical {
		l.warned = true
		return
	}
	if hostRank[st] > hostRank[l.state] {
		l.state, l.step = st, stepOf(e.Task, e.Host)
		l.cause = string(st)
		if r := clean(e.Reason); r != "" {
			l.cause += ": " + r
		}
	}
}

// remaining is each host's time left given the finished tasks: the
// longest chain of unfinished tasks ending in one of the host's, along
// Needs, each weighted by its ETA. O(V+E).
func (ls *lanes) remaining(done map[string]bool) map[string]time.Duration {
	end := make(map[string]time.Duration, len(ls.tasks))
	out := map[string]time.Duration{}
	for _, t := range ls.tasks {
		if done[t.Name] {
			continue
		}
		var start time.Duration
		for _, p := range t.Needs {
			start = max(start, end[p])
		}
		end[t.Name] = start + t.ETA
		if t.Host != "" {
			out[t.Host] = max(out[t.Host], end[t.Name])
		}
	}
	return out
}

// complete reports whether every task of l is final.
func (l *lane) complete() bool { return len(l.tasks) > 0 && l.done >= len(l.tasks) }

// laneView is what the area draws of one lane at one frame.
type laneView struct {
	l       *lane
	running []*live // the host's running tasks, in start order
}

// rank orders lanes for the room there is when not all fit: running
// first, then failed, waiting, done.
func (v laneView) rank() int {
	switch {
	case len(v.running) > 0:
		return 0
	case v.l.complete() && hostRank[v.l.state] > hostRank[schedule.Declined]:
		return 1
	case !v.l.complete():
		return 2
	}
	return 3
}

// areaLanes draws the area of a run with hosts in at most rows lines,
// the overall line (the caller's) left out: the run-wide tasks' lines,
// then one lane per host.
func (r *tty) areaLanes(rows int, now time.Time, width int, frame string) []string {
	ls, p := r.lanes, r.pal
	views := make([]laneView, len(ls.order))
	idx := map[string]int{}
	for i, l := range ls.order {
		views[i] = laneView{l: l}
		idx[l.host] = i
	}
	var wide []*live
	for _, l := range r.running {
		if i, ok := idx[l.host]; ok && l.host != "" {
			views[i].running = append(views[i].running, l)
		} else {
			wide = append(wide, l)
		}
	}
	// The run's own tasks first, as many as the lanes leave room for
	// (at least a third of the area when hosts are many).
	room := min(len(wide), maxRows, max(rows-len(views), rows/3))
	var lines []string
	shown := wide
	if len(shown) > room {
		shown = shown[:max(room-1, 0)]
	}
	for _, l := range shown {
		lines = append(lines, r.taskLine(l, l.name, r.nameW, frame, now, width, l.status))
	}
	if n := len(wide) - len(shown); n > 0 && room > 0 {
		lines = append(lines, fit(width, seg{fmt.Sprintf("  … and %d more running", n), p.dim}))
	}

	left := rows - len(lines)
	more := ""
	if len(views) > left {
		views, more = r.someLanes(views, left, width)
		left = len(views)
	}
	folded := len(ls.order) > maxLanes || len(ls.order) > r.o.height()/3
	spare := left - len(views)
	if folded {
		spare = 0
	}
	// The detail lines go to the lanes that have some, in turn: each gets
	// at least minBuildRows, and an equal part of what there is.
	withDetail := 0
	for _, v := range views {
		if len(v.running) > 1 || slices.ContainsFunc(v.running, func(l *live) bool { return l.progress != nil && !l.progress.Evaluating }) {
			withDetail++
		}
	}
	share := 0
	if withDetail > 0 {
		share = max(minBuildRows, spare/withDetail)
	}
	for _, v := range views {
		budget := min(share, spare)
		lane, detail := r.laneLines(v, budget, now, width, frame)
		spare -= len(detail)
		lines = append(lines, lane)
		lines = append(lines, detail...)
	}
	if more != "" {
		lines = append(lines, more)
	}
	return lines
}

// someLanes picks the lanes shown when not all fit in room lines: the
// first room-1 by rank (in their order), and the line that counts the
// rest.
func (r *tty) someLanes(views []laneView, room int, width int) ([]laneView, string) {
	if room <= 0 {
		return nil, ""
	}
	keep := room - 1
	byRank := slices.Clone(views)
	slices.SortStableFunc(byRank, func(a, b laneView) int { return a.rank() - b.rank() })
	chosen := map[*lane]bool{}
	for _, v := range byRank[:keep] {
		chosen[v.l] = true
	}
	var out []laneView
	var running, waiting, done int
	for _, v := range views {
		if chosen[v.l] {
			out = append(out, v)
			continue
		}
		switch {
		case len(v.running) > 0:
			running++
		case v.l.complete():
			done++
		default:
			waiting++
		}
	}
	var parts []string
	for _, c := range []struct {
		n    int
		word string
	}{{running, "running"}, {waiting, "waiting"}, {done, "done"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.word))
		}
	}
	n := len(views) - keep
	more := fmt.Sprintf("  … and %d more %s: %s", n, map[bool]string{true: "host", false: "hosts"}[n == 1], strings.Join(parts, ", "))
	return out, fit(width, seg{more, r.pal.dim})
}

// taskLine is a running task's line: spinner, its name in a column of
// nameW, elapsed time, estimate, whether it asks, and status.
func (r *tty) taskLine(l *live, name string, nameW int, frame string, now time.Time, width int, status string) string {
	p := r.pal
	segs := []seg{
		{frame + " ", p.cyan},
		{pad(name, nameW) + " ", nil},
		{" " + dur(now.Sub(l.start)), p.dim},
	}
	if l.eta > 0 {
		segs = append(segs, seg{" ~" + dur(l.eta), p.dim})
	}
	segs = append(segs, r.askSegs(l.name)...)
	if status != "" {
		segs = append(segs, seg{"  " + status, nil})
	}
	return fit(width, segs...)
}

// askSegs says whether task has a question open below or waiting.
func (r *tty) askSegs(task string) []seg {
	open, ok := r.asks[task]
	switch {
	case !ok:
		return nil
	case open:
		return []seg{{"  ? asking below", r.pal.cyan}}
	}
	return []seg{{"  ? question waiting", r.pal.dim}}
}

// hostLeft is the host's time left now ("" when none is known).
func (r *tty) hostLeft(host string, now time.Time) string {
	if left := r.lanes.remain[host] - now.Sub(r.lanes.remainAt); left > 0 {
		return " · ~" + dur(left) + " left"
	}
	return ""
}

// laneLines draws one lane: its line, and (budget > 0) the detail lines
// under it: the host's other running steps, then the build view of its
// step that reports progress.
func (r *tty) laneLines(v laneView, budget int, now time.Time, width int, frame string) (string, []string) {
	ls, l, p := r.lanes, v.l, r.pal
	hostCol := seg{pad(l.host, ls.hostW) + "  ", p.bold}
	if len(v.running) == 0 {
		return r.idleLane(l, hostCol, now, width), nil
	}
	// The lane's step is the furthest one the host has reached: the
	// running task that comes last in its chain (activate, with diff
	// beside it).
	run := v.running[0]
	at := -1
	for _, o := range v.running {
		if i := slices.Index(l.tasks, o.name); i >= at {
			run, at = o, i
		}
	}
	step := stepOf(run.name, l.host)
	// Under the lane's line: its other steps in the step column, then
	// the build view (whose lines are indented 4 already) under it.
	var detail []string
	for _, o := range v.running {
		if o == run {
			continue
		}
		if len(detail) >= budget {
			break
		}
		detail = append(detail, r.subLine(o, now, width))
	}
	status := r.stepStatus(run, step, now)
	indent := strings.Repeat(" ", ls.hostW+2)
	if bp := run.progress; bp != nil && !bp.Evaluating && budget-len(detail) > 0 {
		if more := buildLines(p, bp, now, width-len(indent), budget-len(detail)); more != nil {
			for _, m := range more {
				detail = append(detail, indent+m)
			}
			if step != copyStep {
				status = bp.Counts()
			}
		}
	}
	segs := []seg{
		{frame + " ", p.cyan},
		hostCol,
		{pad(step, ls.stepW) + " ", nil},
		{" " + dur(now.Sub(run.start)), p.dim},
	}
	if run.eta > 0 {
		segs = append(segs, seg{" ~" + dur(run.eta), p.dim})
	}
	if h := r.hostLeft(l.host, now); h != "" {
		segs = append(segs, seg{h, p.dim})
	}
	for _, o := range v.running {
		if s := r.askSegs(o.name); s != nil {
			segs = append(segs, s...)
			break
		}
	}
	if status != "" {
		segs = append(segs, seg{"  " + status, nil})
	}
	return fit(width, segs...), detail
}

// subLine is the line of a host's step that runs beside its lane's
// (diff beside activate): in the step column, under the lane's step.
func (r *tty) subLine(l *live, now time.Time, width int) string {
	ls, p := r.lanes, r.pal
	step := stepOf(l.name, l.host)
	segs := []seg{
		{strings.Repeat(" ", 2+ls.hostW+2) + pad(step, ls.stepW) + " ", nil},
		{" " + dur(now.Sub(l.start)), p.dim},
	}
	if l.eta > 0 {
		segs = append(segs, seg{" ~" + dur(l.eta), p.dim})
	}
	segs = append(segs, r.askSegs(l.name)...)
	if s := r.stepStatus(l, step, now); s != "" {
		segs = append(segs, seg{"  " + s, nil})
	}
	return fit(width, segs...)
}

// stepStatus is what a running step's line says: a copy's progress in
// bytes, paths and rate; an evaluation's time; else the task's status.
func (r *tty) stepStatus(l *live, step string, now time.Time) string {
	bp := l.progress
	switch {
	case bp == nil:
		return l.status
	case bp.Evaluating:
		return evalStatus(l.status, bp, now)
	case step == copyStep:
		if s := copyStatus(bp, now.Sub(l.start)); s != "" {
			return s
		}
	}
	return l.status
}

// copyStatus is a copy's progress: "1.2 GiB/3.4 GiB · 120/310 paths ·
// 45.0 MiB/s", the rate being the bytes copied so far over the time the
// copy has taken; "" before Nix has said what it copies.
func copyStatus(bp *tasks.BuildProgress, took time.Duration) string {
	var parts []string
	switch {
	case bp.DownloadBytes > 0:
		parts = append(parts, text.FormatBytes(bp.DownloadedBytes)+"/"+text.FormatBytes(bp.DownloadBytes))
	case bp.DownloadedBytes > 0:
		parts = append(parts, text.FormatBytes(bp.DownloadedBytes))
	}
	if bp.ToDownload > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d paths", bp.Downloaded, bp.ToDownload))
	}
	if bp.DownloadedBytes > 0 && took >= time.Second {
		parts = append(parts, text.FormatBytes(int64(float64(bp.DownloadedBytes)/took.Seconds()))+"/s")
	}
	return strings.Join(parts, " · ")
}

// idleLane is the line of a host with nothing running: done (or how it
// ended), or its next step and what that waits for.
func (r *tty) idleLane(l *lane, hostCol seg, now time.Time, width int) string {
	p := r.pal
	if l.complete() {
		sym, word := symbol(p, l.state, true), "done"
		switch {
		case l.state == schedule.Succeeded && l.warned:
			sym = p.yellow(symWarn)
		case l.state != schedule.Succeeded && l.state != schedule.Skipped:
			word = l.step
		}
		segs := []seg{{sym + " ", nil}, hostCol, {pad(word, r.lanes.stepW) + " ", nil}}
		if word == "done" {
			if !l.first.IsZero() {
				segs = append(segs, seg{" " + dur(l.last.Sub(l.first)), p.dim})
			}
			if l.reboot {
				segs = append(segs, seg{"  reboot needed", p.yellow})
			}
		} else {
			style := p.red
			if l.state == schedule.Declined {
				style = p.dim
			}
			segs = append(segs, seg{" " + l.cause, style})
		}
		return fit(width, segs...)
	}
	next, waits := r.nextStep(l)
	segs := []seg{{"· ", p.dim}, hostCol, {pad(next, r.lanes.stepW) + " ", nil}}
	if waits != "" {
		segs = append(segs, seg{" waits for " + waits, p.dim})
	} else if next != "" {
		segs = append(segs, seg{" queued", p.dim})
	}
	if h := r.hostLeft(l.host, now); h != "" {
		segs = append(segs, seg{h, p.dim})
	}
	return fit(width, segs...)
}

// nextStep is the host's first task that is not final, and the tasks it
// waits for that are not final either (a task of the same host by its
// step); waits is "" when it only waits for its turn.
func (r *tty) nextStep(l *lane) (next, waits string) {
	for _, n := range l.tasks {
		if r.done[n] {
			continue
		}
		var w []string
		for _, p := range r.lanes.info[n].Needs {
			if !r.done[p] {
				if i := r.lanes.info[p]; i.Host == l.host {
					w = append(w, stepOf(p, l.host))
				} else {
					w = append(w, p)
				}
			}
		}
		return stepOf(n, l.host), strings.Join(w, ", ")
	}
	return "", ""
}
