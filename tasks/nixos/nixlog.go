package nixos

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/ansi"
	"github.com/rebuild-nixos/rebuild/internal/tail"
	"github.com/rebuild-nixos/rebuild/internal/text"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// Activity and result types of Nix's internal-json log (libutil/logging.hh);
// the numbers have been stable since Nix 2.0.
const (
	actCopyPath   = 100
	actRealise    = 102
	actCopyPaths  = 103
	actBuilds     = 104
	actBuild      = 105
	actSubstitute = 108

	resBuildLogLine     = 101
	resSetPhase         = 104
	resProgress         = 105
	resSetExpected      = 106
	resPostBuildLogLine = 107
)

// Verbosity levels of msg events: 0 error, 1 warning. Level 0 is not only
// errors: a client prints everything its daemon sends as plain log text at
// level 0 (RemoteStore's STDERR_NEXT → printError), e.g. the daemon's
// "linking '…' to '…'" with auto-optimise-store. Nix's own errors are
// structured (they carry raw_msg) or, forwarded from a daemon, start with
// "error:"; only those are errors.
const (
	lvlError = 0
	lvlWarn  = 1
)

// showTraceHint is what Nix prints, plain at level 0, after an evaluation
// error; it belongs to that error.
const showTraceHint = "(use '--show-trace' to show detailed location information)"

const (
	buildTailLines = 10      // build log lines kept per derivation for its failure
	keptFinished   = 16      // finished builds whose tails are kept
	maxErrorLines  = 40      // lines of Nix errors carried by ErrorReport
	maxActivities  = 1 << 16 // a runaway log must not grow without bound
)

// BuildLog follows `nix build --log-format internal-json -v` line by line:
// what is being built or downloaded, the built / expected / downloaded
// counts (the way nix-output-monitor reads them), Nix's error and warning
// messages, and the last lines of each build's log so a failed derivation
// can be shown with its output. It also turns each line into readable text
// for the task's log. It is not safe for concurrent use.
type BuildLog struct {
	// Now is the clock of elapsed times and rates (time.Now by default).
	Now func() time.Time
	// Estimate returns the expected duration of a build of a package
	// name ("firefox"), 0 when unknown; nil gives no estimates.
	Estimate func(pname string) time.Duration

	acts      map[int64]*activity
	running   []int64 // build and substitution activities, in start order
	finished  []*activity
	durations map[string][]time.Duration // pname → durations of its builds that ended here
	failures  []string                   // failed derivations' store paths, in order

	began            time.Time // when the log began: the evaluation's start
	realising        bool
	realised         bool // the realisation ended: nothing more will run
	evalTime         time.Duration
	built, expected  int // derivations (actBuilds progress)
	failedBuilds     int
	fetched, toFetch int   // substituted paths (actCopyPaths progress)
	fetchedBytes     int64 // NAR bytes copied from caches so far
	fetchBytes       int64 // NAR bytes to copy in all (resSetExpected of actCopyPath)

	errors   []string
	seen     map[string]int // error text, and "drv:" + a failed derivation → index in errors
	warnings []string
}

type activity struct {
	typ   int
	name  string // the derivation's or path's name, e.g. "firefox-133.0"
	drv   string // the derivation's store path, for builds
	phase string
	tail  *tail.Tail
	done  int64 // copied paths: bytes done and expected
	total int64
	start time.Time
	copy  *activity // a substitution's copy of its path (bytes)
}

// event is one "@nix {...}" line.
type event struct {
	Action string            `json:"action"`
	ID     int64             `json:"id"`
	Level  int               `json:"level"`
	Type   int               `json:"type"`
	Text   string            `json:"text"`
	Msg    string            `json:"msg"`
	RawMsg *string           `json:"raw_msg"` // set on Nix's structured messages (logEI)
	Fields []json.RawMessage `json:"fields"`
}

// NewBuildLog returns an empty BuildLog.
func NewBuildLog() *BuildLog {
	return &BuildLog{Now: time.Now, acts: map[int64]*activity{}, seen: map[string]int{}, durations: map[string][]time.Duration{}}
}

func (l *BuildLog) now() time.Time {
	t := l.Now()
	if l.began.IsZero() {
		l.began = t
	}
	return t
}

// Line takes one line of Nix's standard error (without its newline) and
// returns the readable text for the log, "" for lines with nothing to
// read (progress updates). Lines that are not internal-json pass through.
func (l *BuildLog) Line(line string) string {
	l.now() // the first line starts the evaluation's clock
	raw, ok := strings.CutPrefix(line, "@nix ")
	if !ok {
		if s := strings.TrimSpace(ansi.Strip(line)); strings.HasPrefix(s, "error:") {
			l.addError(s)
		}
		return line
	}
	var e event
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return line
	}
	switch e.Action {
	case "msg":
		msg := strings.TrimRight(ansi.Strip(e.Msg), "\n")
		switch {
		case e.Level == lvlError && (e.RawMsg != nil || strings.HasPrefix(msg, "error:")):
			l.addError(msg)
		case e.Level == lvlError && msg == showTraceHint && len(l.errors) > 0:
			l.errors[len(l.errors)-1] += "\n" + msg
		case e.Level == lvlWarn, e.Level == lvlError && strings.HasPrefix(msg, "warning:"):
			l.warnings = append(l.warnings, msg)
		}
		return msg
	case "start":
		return l.start(&e)
	case "stop":
		l.stop(e.ID)
	case "result":
		return l.result(&e)
	}
	return ""
}

func (l *BuildLog) start(e *event) string {
	text := ansi.Strip(e.Text)
	now := l.now()
	if e.Type == actRealise && !l.realising {
		l.realising, l.evalTime = true, now.Sub(l.began)
	}
	if _, dup := l.acts[e.ID]; dup || len(l.acts) >= maxActivities {
		return text
	}
	a := &activity{typ: e.Type, start: now}
	switch e.Type {
	case actBuild:
		a.drv = fieldString(e.Fields, 0)
		a.name = storeName(a.drv)
		a.tail = tail.New(buildTailLines)
		l.running = append(l.running, e.ID)
	case actSubstitute:
		a.name = storeName(fieldString(e.Fields, 0))
		l.running = append(l.running, e.ID)
	case actCopyPath:
		// A substitution's bytes are reported on its copy of the path:
		// join the two by the path.
		a.name = storeName(fieldString(e.Fields, 0))
		joined := false
		for _, id := range l.running {
			if s := l.acts[id]; s != nil && s.typ == actSubstitute && s.name == a.name && s.copy == nil {
				s.copy, joined = a, true
				break
			}
		}
		if !joined { // a copy of its own (from a remote builder): shown as one
			a.copy = a
			l.running = append(l.running, e.ID)
		}
	}
	l.acts[e.ID] = a
	return text
}

func (l *BuildLog) stop(id int64) {
	a, ok := l.acts[id]
	if !ok {
		return
	}
	delete(l.acts, id)
	if a.typ == actRealise {
		l.realised = true
	}
	if a.typ == actCopyPath && a.total > a.done { // the last progress is not always sent
		l.fetchedBytes += a.total - a.done
	}
	for i, r := range l.running {
		if r == id {
			l.running = append(l.running[:i], l.running[i+1:]...)
			break
		}
	}
	if a.typ == actBuild {
		if p := pname(a.name); p != "" && !l.failedDrv(a.drv) {
			l.durations[p] = append(l.durations[p], l.now().Sub(a.start))
		}
		if len(l.finished) == keptFinished {
			l.finished = l.finished[1:]
		}
		l.finished = append(l.finished, a)
	}
}

func (l *BuildLog) result(e *event) string {
	a := l.acts[e.ID]
	switch e.Type {
	case resBuildLogLine, resPostBuildLogLine:
		text := ansi.Strip(fieldString(e.Fields, 0))
		if a == nil {
			return text
		}
		if a.tail != nil {
			a.tail.Add(text)
		}
		return a.name + "> " + text
	case resSetPhase:
		if a == nil {
			return ""
		}
		a.phase = fieldString(e.Fields, 0)
		return a.name + "> phase " + a.phase
	case resProgress:
		if a == nil {
			return ""
		}
		done, exp := fieldInt(e.Fields, 0), fieldInt(e.Fields, 1)
		switch a.typ {
		case actRealise:
		case actBuilds:
			l.built, l.expected, l.failedBuilds = int(done), int(exp), int(fieldInt(e.Fields, 3))
		case actCopyPaths:
			l.fetched, l.toFetch = int(done), int(exp)
		case actCopyPath:
			l.fetchedBytes += done - a.done
			a.done, a.total = done, exp
		}
	case resSetExpected:
		// Nix announces on its realise activity the bytes of all the
		// paths it will copy (actCopyPath), the download's total.
		if a != nil && a.typ == actRealise && fieldInt(e.Fields, 0) == actCopyPath {
			l.fetchBytes = fieldInt(e.Fields, 1)
		}
	}
	return ""
}

// Progress is the state of a build as its log tells it.
type Progress struct {
	Building     []string // derivations being built now, in start order
	Fetching     []string // paths being downloaded now
	Built        int      // derivations built
	Expected     int      // derivations to build in all
	Failed       int      // derivations that failed
	Fetched      int      // paths downloaded (substituted)
	ToFetch      int      // paths to download in all
	FetchedBytes int64    // bytes of paths copied from caches so far (NAR size)
	Evaluating   bool     // nothing is being realised yet
}

// Progress returns the current counts.
func (l *BuildLog) Progress() Progress {
	p := Progress{Built: l.built, Expected: l.expected, Failed: l.failedBuilds,
		Fetched: l.fetched, ToFetch: l.toFetch, FetchedBytes: l.fetchedBytes, Evaluating: !l.realising}
	for _, id := range l.running {
		a := l.acts[id]
		if a == nil {
			continue
		}
		if a.typ == actBuild {
			p.Building = append(p.Building, a.name)
		} else {
			p.Fetching = append(p.Fetching, a.name)
		}
	}
	return p
}

// Status is a one-line live status, e.g.
// "building firefox-133.0 (buildPhase) +1 more · 12/40 built · 3/9 downloaded".
func (l *BuildLog) Status() string {
	p := l.Progress()
	var parts []string
	more := func(n int) string {
		if n > 1 {
			return fmt.Sprintf(" +%d more", n-1)
		}
		return ""
	}
	switch {
	case len(p.Building) > 0:
		s := "building " + p.Building[0]
		if a := l.acts[l.firstRunning(actBuild)]; a != nil && a.phase != "" {
			s += " (" + a.phase + ")"
		}
		parts = append(parts, s+more(len(p.Building)))
	case len(p.Fetching) > 0:
		parts = append(parts, "downloading "+p.Fetching[0]+more(len(p.Fetching)))
	case p.Evaluating:
		parts = append(parts, "evaluating")
	case p.Expected == 0 && p.ToFetch == 0 && l.realised:
		parts = append(parts, "nothing to build")
	case p.Expected == 0 && p.ToFetch == 0:
		// Realising, nothing announced yet: Nix is working out what to
		// build and what to fetch.
		parts = append(parts, "preparing")
	}
	// Nothing running: the counts alone, never "building" (the last
	// status stays on screen until the task ends).
	if c := l.BuildProgress().Counts(); c != "" {
		parts = append(parts, c)
	}
	return oneLine(strings.Join(parts, " · "))
}

func (l *BuildLog) firstRunning(typ int) int64 {
	for _, id := range l.running {
		if a := l.acts[id]; a != nil && a.typ == typ {
			return id
		}
	}
	return -1
}

// addError records one of Nix's error messages, once: Nix reports a
// failed builder twice when a derivation that waits for it fails too
// (logged where it failed, then thrown at the end; through a daemon the
// first comes as plain text). The later, fuller text replaces the first in
// its place.
func (l *BuildLog) addError(msg string) {
	if _, dup := l.seen[msg]; dup {
		return
	}
	drv := failedDrv(msg)
	if i, dup := l.seen["drv:"+drv]; dup && drv != "" {
		if len(msg) > len(l.errors[i]) {
			l.errors[i] = msg
		}
		l.seen[msg] = i
		return
	}
	l.seen[msg] = len(l.errors)
	if drv != "" {
		l.seen["drv:"+drv] = len(l.errors)
		l.failures = append(l.failures, drv)
	}
	l.errors = append(l.errors, msg)
}

// Errors returns Nix's error messages (ANSI stripped), in order.
func (l *BuildLog) Errors() []string { return append([]string(nil), l.errors...) }

// Warnings returns Nix's warning messages (ANSI stripped), in order.
func (l *BuildLog) Warnings() []string { return append([]string(nil), l.warnings...) }

// BuildTail returns the last log lines of the build of drv (a derivation's
// store path), if it is still known.
func (l *BuildLog) BuildTail(drv string) []string {
	for _, a := range l.acts {
		if a.typ == actBuild && a.drv == drv {
			return a.tail.Lines()
		}
	}
	for i := len(l.finished) - 1; i >= 0; i-- {
		if l.finished[i].drv == drv {
			return l.finished[i].tail.Lines()
		}
	}
	return nil
}

// ErrorReport is Nix's errors as they should reach the screen: each error
// message, and under a failed builder its last log lines. "" when Nix
// reported no error.
func (l *BuildLog) ErrorReport() string {
	var lines []string
	for _, e := range l.errors {
		lines = append(lines, strings.Split(e, "\n")...)
		// Newer Nix puts the builder's last lines in the message itself.
		if drv := failedDrv(e); drv != "" && !strings.Contains(e, " log lines:") {
			if tail := l.BuildTail(drv); len(tail) > 0 {
				lines = append(lines, "  last lines of "+storeName(drv)+":")
				for _, t := range tail {
					lines = append(lines, "    "+t)
				}
			}
		}
	}
	if len(lines) > maxErrorLines {
		lines = append(lines[:maxErrorLines], "… "+text.Plural(len(lines)-maxErrorLines, "more line", "more lines")+" in the log")
	}
	return strings.Join(lines, "\n")
}

// failedDrv returns the derivation named by "builder for '…drv' failed".
func failedDrv(msg string) string {
	_, rest, ok := strings.Cut(msg, "builder for '")
	if !ok {
		return ""
	}
	drv, _, ok := strings.Cut(rest, "'")
	if !ok || !strings.HasSuffix(drv, ".drv") {
		return ""
	}
	return drv
}

// storeName turns "/nix/store/<hash>-firefox-133.0.drv" into "firefox-133.0".
func storeName(p string) string {
	base := strings.TrimSuffix(path.Base(p), ".drv")
	if i := strings.IndexByte(base, '-'); i >= 0 {
		base = base[i+1:]
	}
	return oneLine(base)
}

func oneLine(s string) string {
	if strings.ContainsAny(s, "\n\r") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s
}

func fieldString(f []json.RawMessage, i int) string {
	if i >= len(f) {
		return ""
	}
	var s string
	if json.Unmarshal(f[i], &s) != nil {
		return ""
	}
	return s
}

func fieldInt(f []json.RawMessage, i int) int64 {
	if i >= len(f) {
		return 0
	}
	var n int64
	if json.Unmarshal(f[i], &n) != nil {
		return 0
	}
	return n
}

func (l *BuildLog) failedDrv(drv string) bool { return slices.Contains(l.failures, drv) }

// failedTailLines is how many of a failed derivation's last log lines the
// live area is given.
const failedTailLines = 3

// BuildProgress returns the progress as the screen shows it: running
// builds with their phase, start and estimate, downloads with their bytes
// and rate, the counts, and the failed derivations with their last lines.
func (l *BuildLog) BuildProgress() tasks.BuildProgress {
	now := l.now()
	p := l.Progress()
	bp := tasks.BuildProgress{
		Evaluating: p.Evaluating, EvalStart: l.began,
		Built: p.Built, ToBuild: p.Expected, Failed: p.Failed,
		Downloaded: p.Fetched, ToDownload: p.ToFetch,
		DownloadedBytes: p.FetchedBytes, DownloadBytes: l.fetchBytes,
	}
	for _, id := range l.running {
		a := l.acts[id]
		switch {
		case a == nil:
		case a.typ == actBuild:
			b := tasks.RunningBuild{Name: a.name, Phase: a.phase, Start: a.start}
			if l.Estimate != nil {
				b.ETA = l.Estimate(pname(a.name))
			}
			bp.Builds = append(bp.Builds, b)
		default:
			d := tasks.Download{Name: a.name, Start: a.start}
			if c := a.copy; c != nil {
				d.Done, d.Total = c.done, c.total
				if secs := now.Sub(c.start).Seconds(); secs >= 0.1 && c.done > 0 {
					d.Rate = float64(c.done) / secs
				}
			}
			bp.Downloads = append(bp.Downloads, d)
		}
	}
	for _, drv := range l.failures {
		f := tasks.FailedBuild{Name: storeName(drv)}
		if t := l.BuildTail(drv); len(t) > failedTailLines {
			f.Tail = t[len(t)-failedTailLines:]
		} else {
			f.Tail = t
		}
		bp.Failures = append(bp.Failures, f)
	}
	return bp
}

// EvalTime is how long the evaluation took: from the first line of the
// log to the start of the realisation (0 while it is still going).
func (l *BuildLog) EvalTime() time.Duration { return l.evalTime }

// Durations returns, by package name, how long the builds that ended
// without failing took.
func (l *BuildLog) Durations() map[string][]time.Duration {
	out := make(map[string][]time.Duration, len(l.durations))
	for k, v := range l.durations {
		out[k] = slices.Clone(v)
	}
	return out
}

// pname is a derivation name's package name, the way Nix splits a name
// (DrvName): the version starts at the first dash followed by a
// character that is not a letter, so "firefox-133.0" is "firefox" and
// "python3-3.10.4" is "python3".
func pname(name string) string {
	for i := 0; i+1 < len(name); i++ {
		if name[i] == '-' && !isLetter(name[i+1]) {
			return name[:i]
		}
	}
	return name
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
