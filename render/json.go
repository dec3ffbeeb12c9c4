package render

import (
	"encoding/json"
	"io"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/termtext"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// Event is one line of json mode, DESIGN.md's
// {"time","task","event","state","duration_ms","reason","error"}; finish
// events add actions, stats, warnings and, when failed, log; status and
// notice events carry their text in message. Empty fields are left out,
// except time and event. It is the wire schema: exported so that readers
// of `--output json` (the end-to-end tests) decode what is written.
type Event struct {
	Time string `json:"time"`
	Task string `json:"task,omitempty"`
	// Host is, on every event of a per-host task (build@web1), its host;
	// absent for a task of the whole run and in a run without hosts.
	Host       string   `json:"host,omitempty"`
	Event      string   `json:"event"`
	State      string   `json:"state,omitempty"`
	DurationMS int64    `json:"duration_ms,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Error      string   `json:"error,omitempty"`
	Message    string   `json:"message,omitempty"`
	Actions    []string `json:"actions,omitempty"`
	Stats      []string `json:"stats,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	// Fields are the task's facts for programs (tasks.Env.Field), e.g.
	// activate's reboot_needed and reboot_reason.
	Fields map[string]any `json:"fields,omitempty"`
	Log    string         `json:"log,omitempty"`
	// Progress is, on a build's status events, its counters and what
	// runs now.
	Progress *Progress `json:"progress,omitempty"`
	// Diff is, on the diff task's finish event, the closure difference
	// the table of --ask and accept shows.
	Diff *tasks.ClosureDiff `json:"diff,omitempty"`
}

// Progress is the build view's facts in json mode: the counters (bytes
// are NAR bytes), the derivations being built, the paths being
// downloaded and the derivations that failed.
type Progress struct {
	Evaluating      bool     `json:"evaluating,omitempty"`
	Built           int      `json:"built"`
	ToBuild         int      `json:"to_build"`
	Failed          int      `json:"failed"`
	Downloaded      int      `json:"downloaded"`
	ToDownload      int      `json:"to_download"`
	DownloadedBytes int64    `json:"downloaded_bytes"`
	DownloadBytes   int64    `json:"download_bytes"`
	Building        []string `json:"building,omitempty"`
	Downloading     []string `json:"downloading,omitempty"`
	Failures        []string `json:"failures,omitempty"`
}

func progressJSON(p *tasks.BuildProgress) *Progress {
	if p == nil {
		return nil
	}
	j := &Progress{Evaluating: p.Evaluating, Built: p.Built, ToBuild: p.ToBuild, Failed: p.Failed,
		Downloaded: p.Downloaded, ToDownload: p.ToDownload, DownloadedBytes: p.DownloadedBytes, DownloadBytes: p.DownloadBytes}
	for _, b := range p.Builds {
		j.Building = append(j.Building, b.Name)
	}
	for _, d := range p.Downloads {
		j.Downloading = append(j.Downloading, d.Name)
	}
	for _, f := range p.Failures {
		j.Failures = append(j.Failures, f.Name)
	}
	return j
}

// SummaryEvent is json mode's last line, the one whose event is
// "summary". Its fields are written even when empty.
type SummaryEvent struct {
	Time         string            `json:"time"`
	Event        string            `json:"event"`
	WallMS       int64             `json:"wall_ms"`
	CriticalPath []string          `json:"critical_path"`
	Tasks        map[string]string `json:"tasks"`
	LogDir       string            `json:"log_dir,omitempty"`
	// RolledBack is set when a failed gate rolled the system back.
	RolledBack *RolledBackJSON `json:"rolled_back,omitempty"`
	// Hosts is, in a run with hosts, each host's outcome by its name.
	Hosts map[string]HostJSON `json:"hosts,omitempty"`
}

// HostJSON is one host's outcome in the json summary: its state (that of
// the task that decided it: succeeded, failed, rolled-back,
// upstream-failed, canceled or declined) and why, the generation its
// activation became and the one before, what its gates did (passed,
// failed, rolled-back, skipped, not-run; absent without gates), whether
// it needs a reboot, and the time from its first task's start to its
// last one's end.
type HostJSON struct {
	State              string `json:"state"`
	Reason             string `json:"reason,omitempty"`
	Generation         int    `json:"generation,omitempty"`
	PreviousGeneration int    `json:"previous_generation,omitempty"`
	Gates              string `json:"gates,omitempty"`
	RebootNeeded       *bool  `json:"reboot_needed,omitempty"`
	DurationMS         int64  `json:"duration_ms"`
}

// hostsJSON is the json summary's hosts; nil without hosts.
func hostsJSON(s *schedule.Summary) map[string]HostJSON {
	outs := hostOutcomes(s)
	if len(outs) == 0 {
		return nil
	}
	m := make(map[string]HostJSON, len(outs))
	for _, o := range outs {
		h := HostJSON{State: string(o.state), Reason: o.reason(), DurationMS: o.span.Milliseconds()}
		h.Generation, h.PreviousGeneration = o.generations()
		h.Gates, _ = o.gateOutcome()
		if needed, ok := o.rebootNeeded(); ok {
			h.RebootNeeded = &needed
		}
		m[o.host] = h
	}
	return m
}

// RolledBackJSON says which gate failed, why, and what the system was
// rolled back to; error is set when the rollback itself failed.
type RolledBackJSON struct {
	Gate   string `json:"gate"`
	Reason string `json:"reason"`
	Task   string `json:"task"`
	To     string `json:"to"`
	Error  string `json:"error,omitempty"`
}

// jsonStatusEvery rate-limits json status lines per task: a command
// printing a line per millisecond must not flood the reader. The newest
// line is held, not dropped (see statusGate).
const jsonStatusEvery = 50 * time.Millisecond

// jsonOut writes one object per line; Release events are not written, and
// verbose log lines go to Options.Err so Out stays parseable.
type jsonOut struct {
	o Options
	gated
}

func newJSON(o Options) *jsonOut {
	r := &jsonOut{o: o}
	r.start(o, jsonStatusEvery, r.eventLocked)
	return r
}

func stamp(t time.Time) string { return t.Format(time.RFC3339Nano) }

func (r *jsonOut) Emit(e schedule.Event) {
	if e.Kind == schedule.Release {
		return
	}
	if e.Time.IsZero() {
		e.Time = r.o.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.passLocked(e, r.eventLocked) {
		r.eventLocked(e)
	}
}

// eventLocked writes e as one line.
func (r *jsonOut) eventLocked(e schedule.Event) {
	j := Event{
		Time:       stamp(e.Time),
		Task:       e.Task,
		Host:       e.Host,
		Event:      string(e.Kind),
		State:      string(e.State),
		DurationMS: e.Duration.Milliseconds(),
		Reason:     e.Reason,
	}
	if e.Err != nil {
		j.Error = e.Err.Error()
	}
	switch e.Kind {
	case schedule.Status, schedule.Notice:
		j.Message, j.Progress = e.Status, progressJSON(e.Progress)
	case schedule.Finish:
		j.Actions, j.Stats, j.Warnings, j.Diff, j.Fields = e.Actions, e.Stats, e.Warnings, e.Diff, e.Fields
		if e.State == schedule.Failed {
			j.Log = e.LogPath
		}
	}
	r.writeLocked(j)
}

func (r *jsonOut) writeLocked(v any) {
	line, err := json.Marshal(v)
	if err != nil {
		return
	}
	line = termtext.JSON(line)
	_, _ = r.o.Out.Write(append(line, '\n'))
}

// Println goes to Err: Out carries only JSON.
func (r *jsonOut) Println(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = io.WriteString(r.o.Err, clean(line)+"\n")
}

func (r *jsonOut) VerboseWriter() io.Writer {
	if !r.o.Verbose {
		return nil
	}
	return LineFunc(r.Println)
}

func (r *jsonOut) Pause()  {}
func (r *jsonOut) Resume() {}

func (r *jsonOut) Summary(s *schedule.Summary, logDir string) {
	j := SummaryEvent{
		Time:         stamp(r.o.Now()),
		Event:        "summary",
		WallMS:       s.Wall.Milliseconds(),
		CriticalPath: append([]string{}, s.CriticalPath...),
		Tasks:        make(map[string]string, len(s.Results)),
		LogDir:       logDir,
		Hosts:        hostsJSON(s),
	}
	for n, res := range s.Results {
		j.Tasks[n] = string(res.State)
	}
	if rb := s.RolledBack; rb != nil {
		j.RolledBack = &RolledBackJSON{Gate: rb.Gate, Reason: rb.Reason, Task: rb.Task, To: rb.To}
		if rb.Err != nil {
			j.RolledBack.Error = rb.Err.Error()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writeLocked(j)
}

// Close stops the ticker. Idempotent.
func (r *jsonOut) Close() error {
	r.stop()
	return nil
}
