package render

import (
	"fmt"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// The build view: under a task that reports a build's progress (the
// `build` task), the live area lists what Nix is doing — the running
// builds with their phase, elapsed time and estimate, the downloads with
// their bytes and rate, the failed derivations with their last log lines
// — and the task's own line carries the counts. When the area has no
// room for that, the task keeps its one line (its status, as plain mode
// shows it).

// minBuildRows is the fewest detail lines worth unfolding for: fewer,
// and the one-line status says more.
const minBuildRows = 2

// maxNameCol caps the name column of the build view, so a long
// derivation name leaves room for its phase and times.
const maxNameCol = 32

// Symbols of the build view's lines.
const (
	symBuilding = "▸"
	symDownload = "↓"
)

// evalStatus is the status of a build still evaluating: the task's text
// with the evaluation's elapsed time and its estimate from past runs.
func evalStatus(status string, p *tasks.BuildProgress, now time.Time) string {
	s := status
	if !p.EvalStart.IsZero() {
		s += " " + dur(now.Sub(p.EvalStart))
	}
	if p.EvalETA > 0 {
		s += " ~" + dur(p.EvalETA)
	}
	return s
}

// buildLines lays out the build view's detail lines, each cut to width,
// at most rows of them (the last says how many more when they do not
// all fit). nil when there is nothing to list or fewer than minBuildRows
// rows: the task's line alone then tells the build.
func buildLines(p palette, bp *tasks.BuildProgress, now time.Time, width, rows int) []string {
	if bp == nil || bp.Evaluating || rows < minBuildRows {
		return nil
	}
	nameW := 0
	for _, b := range bp.Builds {
		nameW = max(nameW, runewidth.StringWidth(clean(b.Name)))
	}
	for _, d := range bp.Downloads {
		nameW = max(nameW, runewidth.StringWidth(clean(d.Name)))
	}
	nameW = min(nameW, maxNameCol)
	var out [][]seg
	for _, b := range bp.Builds {
		segs := []seg{{"    " + symBuilding + " ", p.cyan}, {pad(runewidth.Truncate(clean(b.Name), nameW, "…"), nameW), nil}}
		if b.Phase != "" {
			segs = append(segs, seg{"  " + clean(b.Phase), p.dim})
		}
		segs = append(segs, seg{"  " + dur(now.Sub(b.Start)), p.dim})
		if b.ETA > 0 {
			segs = append(segs, seg{" ~" + dur(b.ETA), p.dim})
		}
		out = append(out, segs)
	}
	for _, d := range bp.Downloads {
		segs := []seg{{"    " + symDownload + " ", p.cyan}, {pad(runewidth.Truncate(clean(d.Name), nameW, "…"), nameW), nil}}
		switch {
		case d.Total > 0:
			segs = append(segs, seg{"  " + text.FormatBytes(d.Done) + "/" + text.FormatBytes(d.Total), nil})
		case d.Done > 0:
			segs = append(segs, seg{"  " + text.FormatBytes(d.Done), nil})
		}
		if d.Rate > 0 {
			segs = append(segs, seg{"  " + text.FormatBytes(int64(d.Rate)) + "/s", p.dim})
		}
		out = append(out, segs)
	}
	for _, f := range bp.Failures {
		out = append(out, []seg{{"    " + symFail + " ", p.red}, {clean(f.Name) + " failed", p.red}})
		for _, l := range f.Tail {
			out = append(out, []seg{{"      " + clean(l), p.dim}})
		}
	}
	if len(out) == 0 {
		return nil
	}
	if len(out) > rows {
		more := len(out) - (rows - 1)
		out = append(out[:rows-1], []seg{{fmt.Sprintf("    … %d more", more), p.dim}})
	}
	lines := make([]string, len(out))
	for i, segs := range out {
		lines[i] = fit(width, segs...)
	}
	return lines
}
