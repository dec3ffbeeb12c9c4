package render

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rebuild-nixos/rebuild/schedule"
)

// Output modes accepted by New. "auto" is resolved by Resolve first.
const (
	ModeAuto  = "auto"
	ModeTTY   = "tty"
	ModePlain = "plain"
	ModeJSON  = "json"
	ModeQuiet = "quiet"
)

// Modes lists the values --output accepts, in the order help shows them.
var modes = []string{ModeAuto, ModeTTY, ModePlain, ModeJSON, ModeQuiet}

// Modes returns the values --output accepts.
func Modes() []string { return append([]string(nil), modes...) }

// Resolve validates an --output value and turns "auto" (or "") into tty
// when stdout is a terminal, else plain.
func Resolve(mode string, stdoutIsTTY bool) (string, error) {
	switch mode {
	case "", ModeAuto:
		if stdoutIsTTY {
			return ModeTTY, nil
		}
		return ModePlain, nil
	case ModeTTY, ModePlain, ModeJSON, ModeQuiet:
		return mode, nil
	}
	return "", fmt.Errorf("unknown output mode %q (allowed: %s)", mode, strings.Join(modes, ", "))
}

// TaskInfo is what the renderer knows about a task before it runs.
type TaskInfo struct {
	Name        string
	Phase       int
	Critical    bool
	Interactive bool
	// ETA is the expected duration (history's median, else the default
	// estimate); 0 = unknown.
	ETA time.Duration
	// Host is the host of a per-host task's instance (tasks.Spec.Host);
	// "" for a task of the whole run. With hosts the live area draws a
	// lane per host, and plain starts each such task's line with it.
	Host string
	// Needs are the tasks it waits for (needs and after edges alike): a
	// host's lane says what its next step waits for, and its ETA is the
	// longest chain of what is left.
	Needs []string
}

// hostsOf returns the hosts of ts in the order their first task comes;
// nil without hosts.
func hostsOf(ts []TaskInfo) []string {
	var hosts []string
	seen := map[string]bool{}
	for _, t := range ts {
		if t.Host != "" && !seen[t.Host] {
			seen[t.Host] = true
			hosts = append(hosts, t.Host)
		}
	}
	return hosts
}

// Options configure a renderer. Nothing here is read from the
// environment: the caller decides colour, width and verbosity.
type Options struct {
	// Out receives the output. Err receives what must not mix with it:
	// in json mode, the verbose log lines.
	Out, Err io.Writer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Color enables ANSI colour (false with --no-color, NO_COLOR, or when
	// Out is not a terminal). tty mode moves the cursor either way; plain
	// and json never write an escape code.
	Color bool
	// Verbose: VerboseWriter returns a writer for the log lines, prefixed
	// [task], that the Logs stream to it.
	Verbose bool
	// Tasks are the tasks of the run in graph order: the total and the
	// name column's width come from here.
	Tasks []TaskInfo
	// RemainingETA estimates the rest of the run along the remaining
	// critical path, given the finished tasks (see CriticalRemaining).
	// Optional: without it the overall line shows no remaining time.
	RemainingETA func(done map[string]bool) time.Duration
	// Width is the terminal's width in columns, asked at every redraw so a
	// resize is followed; 100 when nil or not positive.
	Width func() int
	// Height is the terminal's height in lines, asked the same way; 24
	// when nil or not positive. An open question's block and the overall
	// line are kept within it.
	Height func() int
	// Questions is the conversation whose questions the live display
	// draws under its area; only the tty mode asks (see Conversation).
	Questions *Conversation
	// Ticker drives the redraws of the live area and the held-back status
	// lines of plain and json (a time.Ticker when nil).
	Ticker Ticker
}

func (o *Options) width() int {
	if o.Width != nil {
		if w := o.Width(); w > 0 {
			return w
		}
	}
	return 100
}

func (o *Options) height() int {
	if o.Height != nil {
		if h := o.Height(); h > 0 {
			return h
		}
	}
	return 24
}

// Pauser stops and resumes the live display. Calls nest: the display
// resumes after as many Resumes as there were Pauses.
type Pauser interface {
	Pause()
	Resume()
}

// Renderer receives a run's events and prints its summary.
type Renderer interface {
	schedule.Sink
	Pauser
	// Summary prints the end-of-run report; logDir is the run's log
	// directory ("" when there are no logs).
	Summary(s *schedule.Summary, logDir string)
	// Println prints one line of text among the output without breaking
	// the live area. Safe for concurrent use.
	Println(line string)
	// VerboseWriter is where the log lines go with --verbose (pass it to
	// OpenLogs); nil when Options.Verbose is false or the mode drops them.
	VerboseWriter() io.Writer
	// Close stops the live display and its goroutine. Idempotent.
	Close() error
}

// New returns the renderer of a mode: tty, plain, json or quiet ("auto"
// must be resolved with Resolve first).
func New(mode string, o Options) (Renderer, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Err == nil {
		o.Err = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Ticker == nil {
		o.Ticker = timeTicker
	}
	// A display that goes away mid-run must not stop the run (display.go).
	o.Out, o.Err = newDisplay(o.Out), newDisplay(o.Err)
	switch mode {
	case ModeTTY:
		return newTTY(o), nil
	case ModePlain:
		return newPlain(o), nil
	case ModeJSON:
		return newJSON(o), nil
	case ModeQuiet:
		return &quiet{o: o}, nil
	case ModeAuto, "":
		return nil, fmt.Errorf("render: output mode %q must be resolved first (see Resolve)", mode)
	}
	return nil, fmt.Errorf("unknown output mode %q (allowed: %s)", mode, strings.Join(modes, ", "))
}

// LineFunc adapts a line printer, such as Renderer.Println, to io.Writer:
// every Write is split into lines and each is passed on without its
// newline. Logs writes one whole line per Write.
type LineFunc func(line string)

// Write passes each line of p to f.
func (f LineFunc) Write(p []byte) (int, error) {
	s := strings.TrimSuffix(string(p), "\n")
	for _, l := range strings.Split(s, "\n") {
		f(l)
	}
	return len(p), nil
}

// CriticalRemaining returns a RemainingETA for Options: the longest chain
// of unfinished tasks, each weighted by its ETA, along preds (every edge,
// needs and after alike: task → the tasks it waits for). tasks must be in
// graph order. O(V+E) per call.
func CriticalRemaining(tasks []TaskInfo, preds map[string][]string) func(done map[string]bool) time.Duration {
	ts := append([]TaskInfo(nil), tasks...)
	ps := make(map[string][]string, len(preds))
	for k, v := range preds {
		ps[k] = append([]string(nil), v...)
	}
	return func(done map[string]bool) time.Duration {
		end := make(map[string]time.Duration, len(ts))
		var longest time.Duration
		for _, t := range ts {
			if done[t.Name] {
				continue
			}
			var start time.Duration
			for _, p := range ps[t.Name] {
				if e := end[p]; e > start {
					start = e
				}
			}
			end[t.Name] = start + t.ETA
			if end[t.Name] > longest {
				longest = end[t.Name]
			}
		}
		return longest
	}
}
