package tasks

import (
	"fmt"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/text"
)

// BuildProgress is what a build is doing, as plain data: the build task
// fills it from Nix's log, the scheduler carries it on Status events and
// the renderers draw it (the live area under `build`, the counters of
// json's status events). Times are absolute, so a renderer shows elapsed
// times with its own clock between two updates.
type BuildProgress struct {
	// Evaluating: Nix has not started to realise anything yet.
	Evaluating bool
	// EvalStart is when the evaluation began; EvalETA its expected
	// duration from past runs (0 = unknown).
	EvalStart time.Time
	EvalETA   time.Duration

	Builds    []RunningBuild // derivations being built now, in start order
	Downloads []Download     // paths being fetched or copied now, in start order
	Failures  []FailedBuild  // derivations that failed, in order

	Built, ToBuild int // derivations built, and to build in all
	Failed         int // derivations that failed
	// Downloaded and ToDownload count paths; the bytes are NAR bytes of
	// paths copied so far and of all paths to copy (0 = unknown).
	Downloaded, ToDownload         int
	DownloadedBytes, DownloadBytes int64
}

// RunningBuild is one derivation being built.
type RunningBuild struct {
	Name  string    // "firefox-133.0"
	Phase string    // "buildPhase", when the builder reports phases
	Start time.Time // when Nix started it
	// ETA is the median duration of past builds of the same package
	// name (nom's estimate); 0 = never built before.
	ETA time.Duration
}

// Download is one store path being copied from a cache.
type Download struct {
	Name        string // "glibc-2.35"
	Done, Total int64  // bytes; Total 0 = not known yet
	Start       time.Time
	Rate        float64 // bytes per second so far; 0 = not known yet
}

// FailedBuild is a derivation whose builder failed, with the last lines
// of its log.
type FailedBuild struct {
	Name string
	Tail []string
}

// ProgressReporter is a Reporter that also carries a build's progress
// (the scheduler's is one): Env.Progress uses it when it can.
type ProgressReporter interface {
	Reporter
	Progress(task, line string, p BuildProgress)
}

// Progress sets the task's live status line and, for renderers that can
// show more than a line, the build's progress behind it.
func (e *Env) Progress(line string, p BuildProgress) {
	if pr, ok := e.report.(ProgressReporter); ok {
		pr.Progress(e.Name, line, p)
		return
	}
	e.Status("%s", line)
}

// Counts is the counts line of a build: "built 12/40 · 1 failed ·
// downloaded 3/25 (210 MiB/1.2 GiB)"; "" before Nix has announced any.
// The live status and the build view both say it this way.
func (p BuildProgress) Counts() string {
	var parts []string
	if p.ToBuild > 0 {
		parts = append(parts, fmt.Sprintf("built %d/%d", p.Built, p.ToBuild))
	}
	if p.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", p.Failed))
	}
	if p.ToDownload > 0 {
		s := fmt.Sprintf("downloaded %d/%d", p.Downloaded, p.ToDownload)
		switch {
		case p.DownloadBytes > 0 && p.Downloaded == p.ToDownload:
			s += " (" + text.FormatBytes(p.DownloadedBytes) + ")"
		case p.DownloadBytes > 0:
			s += fmt.Sprintf(" (%s/%s)", text.FormatBytes(p.DownloadedBytes), text.FormatBytes(p.DownloadBytes))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}
