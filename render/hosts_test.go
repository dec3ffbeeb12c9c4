package render

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	goldenframe "github.com/rebuild-nixos/rebuild/internal/golden"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// chain is one host's tasks, in the order of the graph's expansion.
var chain = []string{"build", "copy", "diff", "activate", "health", "accept", "generations"}

// hostTasks is the task list of a run with hosts, as renderOptions gives
// it (graph order, ETAs from history per host, every prerequisite):
//
//	flake-update ─▶ build@H ─▶ copy@H ─▶ diff@H
//	                           copy@H ─▶ activate@H ─▶ health@H ─▶ accept@H ─▶ generations@H
//	learn-meta                                          accept@* ─▶ commit
//
// With canary, every host but the first activates after the first's
// health gate. buildETA gives each host's build estimate.
func hostTasks(hosts []string, canary bool, buildETA func(i int) time.Duration) []TaskInfo {
	ts := []TaskInfo{
		{Name: "flake-update", Phase: 1, Critical: true, ETA: 20 * time.Second},
		{Name: "learn-meta", Phase: 7, ETA: 30 * time.Second},
	}
	eta := map[string]time.Duration{"copy": 30 * time.Second, "diff": 2 * time.Second, "activate": 10 * time.Second,
		"health": 5 * time.Second, "generations": 3 * time.Second}
	needs := map[string][]string{"copy": {"build"}, "diff": {"build", "copy"}, "activate": {"build", "copy"},
		"health": {"activate"}, "accept": {"health"}, "generations": {"accept"}}
	var accepts []string
	for i, h := range hosts {
		for _, step := range chain {
			ti := TaskInfo{Name: tasks.OnHost(step, h), Host: h, Phase: 2, Critical: step != "generations", ETA: eta[step]}
			for _, n := range needs[step] {
				ti.Needs = append(ti.Needs, tasks.OnHost(n, h))
			}
			switch step {
			case "build":
				ti.ETA, ti.Needs = buildETA(i), []string{"flake-update"}
			case "activate":
				if canary && i > 0 {
					ti.Needs = append(ti.Needs, tasks.OnHost("health", hosts[0]))
				}
			case "accept":
				ti.Interactive = true
				accepts = append(accepts, ti.Name)
			}
			ts = append(ts, ti)
		}
	}
	return append(ts, TaskInfo{Name: "commit", Phase: 12, Needs: accepts, ETA: 2 * time.Second})
}

// hostRun drives a tty renderer through events as the scheduler emits
// them (the host stamped from the task) on a test clock.
type hostRun struct {
	t   *testing.T
	c   *clock
	t0  time.Time
	r   Renderer
	tk  *manualTicker
	out *syncBuf
}

func newHostRun(t *testing.T, mode string, ts []TaskInfo, width, height int) *hostRun {
	t.Helper()
	c := newClock()
	h := &hostRun{t: t, c: c, t0: c.Now(), tk: &manualTicker{}, out: &syncBuf{}}
	preds := map[string][]string{}
	for _, ti := range ts {
		preds[ti.Name] = ti.Needs
	}
	r, err := New(mode, Options{Out: h.out, Now: c.Now, Tasks: ts, Ticker: h.tk.Ticker,
		Width: func() int { return width }, Height: func() int { return height }, RemainingETA: CriticalRemaining(ts, preds)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	h.r = r
	return h
}

// at moves the clock to d after the start.
func (h *hostRun) at(d time.Duration) { h.c.Add(h.t0.Add(d).Sub(h.c.Now())) }

func (h *hostRun) emit(e schedule.Event) {
	e.Time = h.c.Now()
	_, e.Host = tasks.SplitHost(e.Task)
	h.r.Emit(e)
}

func (h *hostRun) start(task string, eta time.Duration) {
	h.emit(schedule.Event{Task: task, Kind: schedule.Start, State: schedule.Running, ETA: eta})
}

func (h *hostRun) status(task, line string, p *tasks.BuildProgress) {
	h.emit(schedule.Event{Task: task, Kind: schedule.Status, State: schedule.Running, Status: line, Progress: p})
}

func (h *hostRun) finish(task string, s schedule.State, d time.Duration, reason string) {
	h.emit(schedule.Event{Task: task, Kind: schedule.Finish, State: s, Duration: d, Reason: reason, Critical: !strings.HasPrefix(task, "generations")})
}

// frame returns what the area shows, as text: the first tick prints the
// finished tasks' lines above it, the second draws the area alone.
func (h *hostRun) frame() string {
	h.tk.Tick()
	h.tk.Tick()
	return screenText(lastFrame(h.out.String()))
}

var screenEscapes = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\r`)

// screenText is a frame without its escape sequences, one line per row.
func screenText(raw string) string {
	return strings.TrimRight(screenEscapes.ReplaceAllString(raw, ""), "\n") + "\n"
}

// threeHosts plays a run of three hosts to 1m05s, where web1 builds (its
// build view under its lane), web2 copies and db1, its build and copy
// done, waits for web1's gate to activate (canary); then to 2m30s,
// where web1 is done and needs a reboot, web2 activates with its diff
// beside it, and a question of web1's is waiting.
func threeHosts(t *testing.T) (h *hostRun, early, late string) {
	hosts := []string{"web1", "web2", "db1"}
	ts := hostTasks(hosts, true, func(i int) time.Duration { return []time.Duration{100, 40, 30}[i] * time.Second })
	h = newHostRun(t, ModeTTY, ts, 100, 30)
	h.start("flake-update", 20*time.Second)
	h.start("learn-meta", 30*time.Second)
	h.at(18 * time.Second)
	h.finish("flake-update", schedule.Succeeded, 18*time.Second, "")
	for i, host := range hosts {
		h.start("build@"+host, []time.Duration{100, 40, 30}[i]*time.Second)
	}
	h.at(40 * time.Second)
	h.finish("build@db1", schedule.Succeeded, 22*time.Second, "")
	h.start("copy@db1", 30*time.Second)
	h.at(45 * time.Second)
	h.finish("build@web2", schedule.Succeeded, 27*time.Second, "")
	h.start("copy@web2", 30*time.Second)
	h.at(55 * time.Second)
	h.finish("copy@db1", schedule.Succeeded, 15*time.Second, "")
	h.start("diff@db1", 2*time.Second)
	h.at(57 * time.Second)
	h.finish("diff@db1", schedule.Succeeded, 2*time.Second, "")
	h.status("learn-meta", "reading 42 sessions", nil)
	h.at(65 * time.Second)
	h.status("build@web1", "building firefox-133.0 · built 12/40", &tasks.BuildProgress{
		Built: 12, ToBuild: 40, Downloaded: 3, ToDownload: 25, DownloadedBytes: 210 << 20, DownloadBytes: 1200 << 20,
		Builds:    []tasks.RunningBuild{{Name: "firefox-133.0", Phase: "buildPhase", Start: h.c.Now().Add(-40 * time.Second), ETA: 70 * time.Second}},
		Downloads: []tasks.Download{{Name: "glibc-2.40", Done: 12 << 20, Total: 40 << 20, Rate: 2.1 * (1 << 20)}}})
	h.status("copy@web2", "copying 120/310 paths", &tasks.BuildProgress{
		Downloaded: 120, ToDownload: 310, DownloadedBytes: 900 << 20, DownloadBytes: 3400 << 20,
		Downloads: []tasks.Download{{Name: "linux-6.6.8", Done: 30 << 20, Total: 120 << 20, Rate: 45 << 20}}})
	early = h.frame()

	h.at(100 * time.Second)
	h.finish("copy@web2", schedule.Succeeded, 55*time.Second, "")
	h.finish("learn-meta", schedule.Succeeded, 100*time.Second, "")
	h.at(110 * time.Second)
	h.finish("build@web1", schedule.Succeeded, 92*time.Second, "")
	h.start("copy@web1", 30*time.Second)
	h.at(120 * time.Second)
	h.finish("copy@web1", schedule.Succeeded, 10*time.Second, "")
	for _, s := range []string{"diff", "activate"} {
		h.start(s+"@web1", 0)
		h.at(h.c.Now().Sub(h.t0) + 5*time.Second)
		e := schedule.Event{Task: s + "@web1", Kind: schedule.Finish, State: schedule.Succeeded, Duration: 5 * time.Second, Critical: true}
		if s == "activate" {
			e.Fields = map[string]any{tasks.FieldRebootNeeded: true}
		}
		h.emit(e)
	}
	h.start("health@web1", 5*time.Second)
	h.at(135 * time.Second)
	h.finish("health@web1", schedule.Succeeded, 5*time.Second, "")
	h.start("accept@web1", 0)
	h.start("activate@web2", 10*time.Second)
	h.status("activate@web2", "switch-to-configuration test", nil)
	h.at(140 * time.Second)
	h.finish("accept@web1", schedule.Succeeded, 5*time.Second, "")
	h.start("generations@web1", 3*time.Second)
	h.at(143 * time.Second)
	h.finish("generations@web1", schedule.Succeeded, 3*time.Second, "")
	h.start("activate@db1", 10*time.Second)
	h.at(146 * time.Second)
	h.start("diff@web2", 2*time.Second)
	h.status("diff@web2", "comparing closures", nil)
	h.at(147 * time.Second)
	late = h.frame()
	return h, early, late
}

func TestTTYHostLanes(t *testing.T) {
	_, early, late := threeHosts(t)
	goldenframe.Frame(t, filepath.Join("testdata", "hosts", "lanes-3-early-100x30.golden"), early, 100, 30, *update, "-update")
	goldenframe.Frame(t, filepath.Join("testdata", "hosts", "lanes-3-late-100x30.golden"), late, 100, 30, *update, "-update")

	// What a lane must say, whatever the layout.
	for _, want := range []struct{ host, in string }{
		{"web1", "build"}, {"web1", "built 12/40"}, {"web1", "left"},
		{"web2", "copy"}, {"web2", "900 MiB/3.3 GiB · 120/310 paths · 45.0 MiB/s"},
		{"db1", "activate"}, {"db1", "waits for health@web1"},
	} {
		if !laneSays(early, want.host, want.in) {
			t.Errorf("early: %s's lane does not say %q:\n%s", want.host, want.in, early)
		}
	}
	if !strings.Contains(early, "▸ firefox-133.0") || !strings.Contains(early, "↓ linux-6.6.8") {
		t.Errorf("early: the lanes do not unfold into the build and copy views:\n%s", early)
	}
	if !strings.Contains(early, "learn-meta") || laneSays(early, "learn-meta", "web") {
		t.Errorf("early: the run-wide task is not on its own line:\n%s", early)
	}
	for _, want := range []struct{ host, in string }{
		{"web1", "✔"}, {"web1", "done"}, {"web1", "reboot needed"},
		{"web2", "activate"}, {"db1", "activate"},
	} {
		if !laneSays(late, want.host, want.in) {
			t.Errorf("late: %s's lane does not say %q:\n%s", want.host, want.in, late)
		}
	}
	if !regexp.MustCompile(`(?m)^ +diff +\d`).MatchString(late) {
		t.Errorf("late: web2's diff, beside its activation, has no line under the lane:\n%s", late)
	}
}

// laneSays reports whether the line that starts host's lane says s.
func laneSays(frame, host, s string) bool {
	for _, l := range strings.Split(frame, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == host {
			return strings.Contains(l, s)
		}
	}
	return false
}

// More hosts than unfold: one line per host, and no build view.
func TestTTYHostLanesFold(t *testing.T) {
	var hosts []string
	for i := range 12 {
		hosts = append(hosts, fmt.Sprintf("node%02d", i+1))
	}
	h := newHostRun(t, ModeTTY, hostTasks(hosts, false, func(i int) time.Duration { return time.Duration(60+10*i) * time.Second }), 100, 24)
	h.start("flake-update", 20*time.Second)
	h.at(20 * time.Second)
	h.finish("flake-update", schedule.Succeeded, 20*time.Second, "")
	for _, host := range hosts[:10] {
		h.start("build@"+host, 0)
	}
	h.at(50 * time.Second)
	h.finish("build@node01", schedule.Failed, 30*time.Second, "nix build: exit status 1")
	for _, s := range chain[1:] {
		h.finish(s+"@node01", schedule.UpstreamFailed, 0, "needs build, which failed")
	}
	for _, host := range hosts[1:3] {
		h.finish("build@"+host, schedule.Succeeded, 30*time.Second, "")
		h.start("copy@"+host, 30*time.Second)
		h.status("copy@"+host, "copying", &tasks.BuildProgress{Downloaded: 3, ToDownload: 9, DownloadedBytes: 30 << 20, DownloadBytes: 90 << 20,
			Downloads: []tasks.Download{{Name: "foo-1.0", Done: 1 << 20, Total: 4 << 20}}})
	}
	h.status("build@node04", "building", &tasks.BuildProgress{Built: 1, ToBuild: 4,
		Builds: []tasks.RunningBuild{{Name: "foo-1.2", Start: h.c.Now()}}})
	h.at(60 * time.Second)
	got := h.frame()
	goldenframe.Frame(t, filepath.Join("testdata", "hosts", "lanes-12-folded-100x24.golden"), got, 100, 24, *update, "-update")
	for _, host := range hosts {
		if n := strings.Count(got, host); n != 1 {
			t.Errorf("%s is on %d lines, want one:\n%s", host, n, got)
		}
	}
	if strings.Contains(got, "▸") || strings.Contains(got, "↓") {
		t.Errorf("a folded lane unfolded:\n%s", got)
	}
	for _, want := range []struct{ host, in string }{
		{"node01", "✖"}, {"node01", "failed: nix build: exit status 1"},
		{"node02", "30.0 MiB/90.0 MiB · 3/9 paths"},
	} {
		if !laneSays(got, want.host, want.in) {
			t.Errorf("%s's lane does not say %q:\n%s", want.host, want.in, got)
		}
	}
	if !laneSays(got, "node11", "build") || !laneSays(got, "node11", "queued") {
		t.Errorf("node11, waiting for a slot, is not said queued for its build:\n%s", got)
	}
}

// More hosts than the terminal has lines: the lanes that matter most are
// kept (running, failed), the rest counted on one line; the frame fits.
func TestTTYHostLanesCut(t *testing.T) {
	var hosts []string
	for i := range 30 {
		hosts = append(hosts, fmt.Sprintf("h%02d", i+1))
	}
	h := newHostRun(t, ModeTTY, hostTasks(hosts, false, func(int) time.Duration { return time.Minute }), 80, 16)
	h.start("flake-update", 0)
	h.finish("flake-update", schedule.Succeeded, time.Second, "")
	for _, host := range hosts[20:24] {
		h.start("build@"+host, 0)
	}
	got := h.frame()
	if n := strings.Count(got, "\n"); n > 15 {
		t.Errorf("%d lines in a 16-line terminal:\n%s", n, got)
	}
	for _, host := range hosts[20:24] {
		if !laneSays(got, host, "build") {
			t.Errorf("running %s is not shown:\n%s", host, got)
		}
	}
	if !strings.Contains(got, "… and 17 more hosts: 17 waiting\n") {
		t.Errorf("the hosts left out are not counted:\n%s", got)
	}
}

// Plain output: a per-host task's lines start with the host, and name the
// step without it; the run's own tasks keep the host column empty.
func TestPlainHostColumn(t *testing.T) {
	h := newHostRun(t, ModePlain, hostTasks([]string{"web1", "db1"}, false, func(int) time.Duration { return time.Minute }), 100, 24)
	h.start("flake-update", 20*time.Second)
	h.at(20 * time.Second)
	h.finish("flake-update", schedule.Succeeded, 20*time.Second, "")
	h.start("build@web1", time.Minute)
	h.status("build@web1", "building foo", nil)
	h.at(80 * time.Second)
	h.finish("build@web1", schedule.Failed, time.Minute, "nix build: exit status 1")
	h.emit(schedule.Event{Kind: schedule.Notice, Task: "activate@db1", Status: "activate@db1 is in progress"})
	got := h.out.String()
	want := "17:02:11       start   flake-update (~20s)\n" +
		"17:02:31       ✔ done  flake-update 20s\n" +
		"17:02:31 web1  start   build (~1m00s)\n" +
		"17:02:31 web1  status  build: building foo\n" +
		"17:03:31 web1  ✖ failed build 1m00s: nix build: exit status 1\n" +
		"17:03:31 db1   notice  activate: activate@db1 is in progress\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// json: every event of a per-host task has its host; the run's own
// tasks' events have none; the summary has each host's outcome.
func TestJSONHostField(t *testing.T) {
	h := newHostRun(t, ModeJSON, hostTasks([]string{"web1"}, false, func(int) time.Duration { return time.Minute }), 100, 24)
	h.start("flake-update", 0)
	h.finish("flake-update", schedule.Succeeded, time.Second, "")
	h.start("copy@web1", 0)
	h.status("copy@web1", "copying", &tasks.BuildProgress{Downloaded: 3, ToDownload: 9, DownloadedBytes: 3 << 20, DownloadBytes: 9 << 20})
	h.r.Summary(hostSummary(), "/logs")
	_ = h.r.Close()
	ls := lines(h.out.String())
	for _, l := range ls {
		var e Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if _, want := tasks.SplitHost(e.Task); e.Host != want {
			t.Errorf("host %q, want %q: %s", e.Host, want, l)
		}
		if e.Task == "flake-update" && strings.Contains(l, `"host"`) {
			t.Errorf("a run-wide task's event has a host field: %s", l)
		}
	}
	if want := `{"time":"2026-11-25T17:02:11Z","task":"copy@web1","host":"web1","event":"status","state":"running","message":"copying","progress":{"built":0,"to_build":0,"failed":0,"downloaded":3,"to_download":9,"downloaded_bytes":3145728,"download_bytes":9437184}}`; ls[3] != want {
		t.Errorf("copy's status event:\n%s\nwant\n%s", ls[3], want)
	}
	var sum SummaryEvent
	if err := json.Unmarshal([]byte(ls[len(ls)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	want := map[string]HostJSON{
		"web1": {State: "succeeded", Generation: 42, PreviousGeneration: 41, Gates: "passed", RebootNeeded: &yes, DurationMS: 252000},
		"web2": {State: "rolled-back", Reason: "gate health@web2 failed: 3 units failed; rolled back to generation 17",
			Generation: 18, PreviousGeneration: 17, Gates: "rolled-back", RebootNeeded: &no, DurationMS: 62000},
		"db1": {State: "failed", Reason: "build failed: nix build: exit status 1", Gates: "not-run", DurationMS: 41000},
	}
	for host, w := range want {
		g := sum.Hosts[host]
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("%s:\n%s\nwant\n%s", host, gj, wj)
		}
	}
	if len(sum.Hosts) != 3 {
		t.Errorf("hosts %v", sum.Hosts)
	}
}

// hostSummary is a run of three hosts: web1 deployed (41 → 42, a reboot
// needed), web2 activated 18 but its health gate failed and rolled it
// back to 17, db1's build failed; flake-update and learn-meta ran once.
func hostSummary() *schedule.Summary {
	start := time.Date(2026, 11, 25, 17, 2, 11, 0, time.UTC)
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }
	rs := map[string]*schedule.Result{}
	var order []string
	add := func(name string, st schedule.State, from, secs int, reason string, rep tasks.Report) *schedule.Result {
		_, host := tasks.SplitHost(name)
		step, _ := tasks.SplitHost(name)
		r := &schedule.Result{Name: name, Host: host, State: st, Reason: reason, Start: at(from), Duration: time.Duration(secs) * time.Second,
			Critical: step != "generations" && step != "learn-meta", Gate: step == "health", Report: rep}
		rs[name] = r
		order = append(order, name)
		return r
	}
	add("flake-update", schedule.Succeeded, 0, 18, "", tasks.Report{Actions: []string{"updated nixpkgs"}})
	add("learn-meta", schedule.Succeeded, 0, 100, "", tasks.Report{})
	diff := func(n int, before, after int64) tasks.Report {
		d := &tasks.ClosureDiff{ClosureBefore: before, ClosureAfter: after}
		for i := range n {
			d.Upgraded = append(d.Upgraded, tasks.PackageChange{Name: fmt.Sprintf("p%d", i)})
		}
		return tasks.Report{Diff: d}
	}
	// web1: everything passed.
	add("build@web1", schedule.Succeeded, 18, 92, "", tasks.Report{})
	add("copy@web1", schedule.Succeeded, 110, 10, "", tasks.Report{})
	add("diff@web1", schedule.Succeeded, 120, 2, "", diff(3, 5<<30, 5<<30+1258291))
	add("activate@web1", schedule.Succeeded, 122, 8, "", tasks.Report{Fields: map[string]any{
		tasks.FieldGeneration: 42, tasks.FieldPreviousGeneration: 41, tasks.FieldRebootNeeded: true}})
	add("health@web1", schedule.Succeeded, 130, 5, "", tasks.Report{})
	add("accept@web1", schedule.Succeeded, 135, 100, "", tasks.Report{})
	add("generations@web1", schedule.Failed, 235, 35, "nix-env: exit status 1", tasks.Report{})
	// web2: its gate failed and rolled it back.
	add("build@web2", schedule.Succeeded, 18, 27, "", tasks.Report{})
	add("copy@web2", schedule.Succeeded, 45, 10, "", tasks.Report{})
	add("diff@web2", schedule.Succeeded, 55, 2, "", diff(1, 0, 0))
	rs["diff@web2"].Report.Diff.Upgraded[0].SizeDelta = 8192
	rb := &schedule.GateRollback{Gate: "health@web2", Reason: "3 units failed", Task: "activate@web2", To: "generation 17"}
	add("activate@web2", schedule.RolledBack, 57, 10, rb.Summary(), tasks.Report{Fields: map[string]any{
		tasks.FieldGeneration: 18, tasks.FieldPreviousGeneration: 17, tasks.FieldRebootNeeded: false}})
	hw2 := add("health@web2", schedule.Failed, 67, 13, "3 units failed", tasks.Report{})
	hw2.Rollback = rb
	add("accept@web2", schedule.Skipped, 80, 0, "configuration was rolled back: gate health@web2 failed", tasks.Report{})
	add("generations@web2", schedule.Skipped, 80, 0, "configuration was rolled back: gate health@web2 failed", tasks.Report{})
	// db1: its build failed.
	b := add("build@db1", schedule.Failed, 18, 41, "nix build: exit status 1", tasks.Report{})
	b.LogPath = "/logs/build@db1.log"
	for _, s := range chain[1:] {
		add(s+"@db1", schedule.UpstreamFailed, 59, 0, "needs build@db1, which failed", tasks.Report{})
	}
	add("commit", schedule.UpstreamFailed, 270, 0, "needs accept@db1, which could not run", tasks.Report{})
	return &schedule.Summary{Order: order, Results: rs, Start: start, Wall: 270 * time.Second,
		CriticalPath: []string{"flake-update", "build@web1", "copy@web1", "activate@web1"}, RolledBack: rb}
}

func TestSummaryHostsGolden(t *testing.T) {
	got := summaryText(palette{}, hostSummary(), "/logs")
	golden(t, "summary-hosts.golden", got)
	for _, want := range []string{
		"⚠ web1  41 → 42", "3 changed, +1.2 MiB", "passed", "yes",
		"✖ web2  17 → 18 → 17", "1 changed, +8.0 KiB", "rolled back (health)",
		"✖ db1", "✖ db1: build failed: nix build: exit status 1 (log: /logs/build@db1.log)",
		"✖ web2: gate health@web2 failed: 3 units failed; rolled back to generation 17",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "web1:") {
		t.Errorf("web1 (only a warning) is listed as failed:\n%s", got)
	}
	coloured := summaryText(palette{on: true}, hostSummary(), "/logs")
	if regexp.MustCompile(`\x1b\[[0-9;]*m`).ReplaceAllString(coloured, "") != got {
		t.Errorf("colour changes the text:\n%s", coloured)
	}
	if strings.Contains(got, "✖ activate@web2 rolled-back") {
		t.Errorf("the rollback is told twice, by host and by task:\n%s", got)
	}
}

// A per-host question's block names its host first.
func TestBlockTitleNamesTheHost(t *testing.T) {
	header, _, _ := blockRows(palette{}, questionView{id: 1, label: "accept@web1", text: []string{"Keep this configuration?"}}, 80, "")
	if header[0] != "web1 · accept ›" {
		t.Errorf("header %q", header[0])
	}
	header, _, _ = blockRows(palette{}, questionView{id: 1, label: "accept", text: []string{"Keep?"}}, 80, "")
	if header[0] != "accept ›" {
		t.Errorf("without a host: header %q", header[0])
	}
}

// A host whose step asks a question says so on its lane; the question's
// block, under the area, names the host.
func TestTTYLaneSaysItAsks(t *testing.T) {
	h := newHostRun(t, ModeTTY, hostTasks([]string{"web1", "web2"}, false, func(int) time.Duration { return time.Minute }), 100, 30)
	h.start("accept@web1", 0)
	h.start("build@web2", time.Minute)
	tt := h.r.(*tty)
	tt.setAsking(map[string]bool{"accept@web1": true})
	tt.showQuestion(questionView{id: 1, label: "accept@web1", text: []string{"Keep this configuration?"}, hint: "[Y/n]"})
	got := h.frame()
	if !laneSays(got, "web1", "accept") || !laneSays(got, "web1", "? asking below") || laneSays(got, "web2", "?") {
		t.Errorf("the lanes do not say who asks:\n%s", got)
	}
	if !strings.Contains(got, "\nweb1 · accept ›\n? Keep this configuration? [Y/n]") {
		t.Errorf("the question's block does not name its host:\n%s", got)
	}
}
