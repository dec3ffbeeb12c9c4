package render

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// statusEvery rate-limits plain status lines per task, so a log of a
// two-hour build stays readable; the newest line is held, not dropped
// (see statusGate).
const statusEvery = 2 * time.Second

// plain writes one timestamped line per event, for logs and pipes:
//
//	17:02:11 start   build (~1m40s)
//	17:02:12 status  build: building firefox-133.0 · 12/40 built
//	17:03:50 ✔ done  build 1m39s
//	17:03:51 ⚠ failed learn-meta 3.2s: claude exited 1
//
// With hosts, a line of a per-host task starts with its host, and names
// the task without it (build, not build@web1); the other lines leave the
// host's column empty, so the words stay in their columns:
//
//	17:02:11       start   flake-update (~20s)
//	17:02:31 web1  start   build (~1m40s)
//	17:02:31 web2  start   build (~2m05s)
//
// It never writes an escape code and never prompts.
type plain struct {
	o Options
	// hostW is the host column's width; 0 in a run without hosts.
	hostW int
	gated
}

func newPlain(o Options) *plain {
	r := &plain{o: o}
	for _, h := range hostsOf(o.Tasks) {
		r.hostW = max(r.hostW, runewidth.StringWidth(h))
	}
	r.start(o, statusEvery, r.statusLocked)
	return r
}

// statusLocked writes a status line that the gate let through.
func (r *plain) statusLocked(e schedule.Event) { r.writeLocked(e.Time, r.hostColumn(e)+statusLine(e)) }

// hostColumn is what a line starts with in a run with hosts: the host of
// a per-host task, blank for the others; "" without hosts.
func (r *plain) hostColumn(e schedule.Event) string {
	if r.hostW == 0 && e.Host == "" {
		return ""
	}
	return pad(e.Host, r.hostW) + "  "
}

// stepName is the name a line shows: a per-host task's without its host,
// which the line starts with.
func stepName(e schedule.Event) string {
	if e.Host == "" {
		return e.Task
	}
	return strings.TrimSuffix(e.Task, tasks.HostSep+e.Host)
}

func statusLine(e schedule.Event) string {
	line := "status  " + stepName(e) + ": " + clean(e.Status)
	// An evaluation says nothing until it ends: its estimate tells how
	// long to expect that silence.
	if p := e.Progress; p != nil && p.Evaluating && p.EvalETA > 0 {
		line += " (~" + dur(p.EvalETA) + ")"
	}
	return line
}

// verb is the word of a finish line, with the state's symbol.
func verb(s schedule.State, critical bool) string {
	sym := symbol(palette{}, s, critical)
	switch s {
	case schedule.Succeeded:
		return sym + " done"
	}
	return sym + " " + string(s)
}

func (r *plain) Emit(e schedule.Event) {
	if e.Time.IsZero() {
		e.Time = r.o.Now()
	}
	name := stepName(e)
	var line string
	switch e.Kind {
	case schedule.Start:
		line = "start   " + name
		if e.ETA > 0 {
			line += " (~" + dur(e.ETA) + ")"
		}
	case schedule.Status:
		line = statusLine(e)
	case schedule.Finish:
		line = fmt.Sprintf("%-7s %s", verb(e.State, e.Critical), name)
		if e.Duration > 0 {
			line += " " + dur(e.Duration)
		}
		if e.State != schedule.Succeeded && e.Reason != "" {
			line += ": " + clean(e.Reason)
		}
		if e.State == schedule.Failed && e.LogPath != "" {
			line += " (log: " + e.LogPath + ")"
		}
	case schedule.Prompt:
		line = "prompt  " + name + " has the terminal"
	case schedule.Notice:
		line = "notice  "
		if name != "" {
			line += name + ": "
		}
		line += clean(e.Status)
	default:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.passLocked(e, r.statusLocked) {
		r.writeLocked(e.Time, r.hostColumn(e)+line)
	}
}

func (r *plain) write(t time.Time, line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writeLocked(t, line)
}

func (r *plain) writeLocked(t time.Time, line string) {
	_, _ = io.WriteString(r.o.Out, t.Format("15:04:05")+" "+line+"\n")
}

// Println prints a line with the time, like every plain line.
func (r *plain) Println(line string) { r.write(r.o.Now(), clean(line)) }

func (r *plain) VerboseWriter() io.Writer {
	if !r.o.Verbose {
		return nil
	}
	return LineFunc(r.Println)
}

// Pause and Resume have nothing to stop: plain never redraws.
func (r *plain) Pause()  {}
func (r *plain) Resume() {}

func (r *plain) Summary(s *schedule.Summary, logDir string) {
	text := summaryText(palette{}, s, logDir)
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = io.WriteString(r.o.Out, "\n"+text)
}

// Close stops the ticker. Idempotent.
func (r *plain) Close() error {
	r.stop()
	return nil
}
