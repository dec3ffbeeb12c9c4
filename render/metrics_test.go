package render

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// metricsRun is a real run of the scheduler on this graph:
//
//	fetch ─▶ build (critical when critical is set, fails when failBuild)
//	lint (fails) ─▶ report          (report: upstream-failed, never runs)
//	tidy (skips itself)             off (disabled, never runs)
func metricsRun(t *testing.T, critical, failBuild bool) (*schedule.Summary, int) {
	t.Helper()
	pause := tasks.Func(func(context.Context, *tasks.Env) error { time.Sleep(5 * time.Millisecond); return nil })
	build := pause
	if failBuild {
		build = tasks.Func(func(context.Context, *tasks.Env) error {
			time.Sleep(5 * time.Millisecond)
			return errors.New("nix build: exit status 1")
		})
	}
	specs := []tasks.Spec{
		{Name: "fetch", Task: pause},
		{Name: "build", Needs: []string{"fetch"}, Critical: critical, Task: build},
		{Name: "lint", Task: tasks.Func(func(context.Context, *tasks.Env) error {
			time.Sleep(5 * time.Millisecond)
			return errors.New("lint: 3 problems")
		})},
		{Name: "report", Needs: []string{"lint"}, Task: pause},
		{Name: "tidy", Task: tasks.Func(func(context.Context, *tasks.Env) error {
			time.Sleep(5 * time.Millisecond)
			return tasks.Skip("nothing to clean")
		})},
		{Name: "off", Disabled: true, Task: pause},
	}
	g, byName, err := schedule.Graph(specs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := schedule.New(g, byName, schedule.Options{Jobs: 4})
	if err != nil {
		t.Fatal(err)
	}
	sum := r.Execute(context.Background())
	return sum, sum.ExitCode(false)
}

func parseMetrics(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("%s is not in the Prometheus text format: %v", path, err)
	}
	return mfs
}

// value returns the only sample of a metric without labels.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil || len(mf.Metric) != 1 {
		t.Fatalf("%s: want one sample, got %v", name, mf)
	}
	return mf.Metric[0].GetGauge().GetValue()
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func promtoolCheck(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Log("promtool not installed (Debian: apt-get install prometheus): format check skipped")
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\nfile:\n%s", err, out, data)
	}
}

func TestMetricsOfARealRunPassPromtool(t *testing.T) {
	sum, code := metricsRun(t, false, false)
	if code != 0 {
		t.Fatalf("exit code %d, want 0 (only non-critical failures)", code)
	}
	path := filepath.Join(t.TempDir(), "rebuild.prom")
	now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	if err := WriteMetrics(path, sum, code, now); err != nil {
		t.Fatal(err)
	}
	promtoolCheck(t, path)

	mfs := parseMetrics(t, path)
	if got := value(t, mfs, "rebuild_last_run_success"); got != 1 {
		t.Errorf("success = %v, want 1", got)
	}
	if got := value(t, mfs, "rebuild_last_run_exit_code"); got != 0 {
		t.Errorf("exit code = %v, want 0", got)
	}
	if got := value(t, mfs, "rebuild_last_run_timestamp_seconds"); got != float64(now.Unix()) {
		t.Errorf("timestamp = %v, want %d", got, now.Unix())
	}
	if got := value(t, mfs, "rebuild_last_run_wall_seconds"); got <= 0 || got != sum.Wall.Seconds() {
		t.Errorf("wall = %v, want %v", got, sum.Wall.Seconds())
	}

	// One duration per task that ran; none for those the scheduler
	// settled without running them.
	var ran []string
	for _, m := range mfs["rebuild_task_duration_seconds"].GetMetric() {
		task := label(m, "task")
		if slices.Contains(ran, task) {
			t.Errorf("two durations for %s", task)
		}
		ran = append(ran, task)
		if d := sum.Results[task].Duration.Seconds(); m.GetGauge().GetValue() != d {
			t.Errorf("duration of %s = %v, want %v", task, m.GetGauge().GetValue(), d)
		}
	}
	sort.Strings(ran)
	if want := []string{"build", "fetch", "lint", "tidy"}; !slices.Equal(ran, want) {
		t.Errorf("durations for %v, want %v (report and off never ran)", ran, want)
	}

	states := map[string]string{}
	for _, m := range mfs["rebuild_task_state"].GetMetric() {
		task := label(m, "task")
		if _, dup := states[task]; dup {
			t.Errorf("two states for %s", task)
		}
		states[task] = label(m, "state")
		if m.GetGauge().GetValue() != 1 {
			t.Errorf("state of %s = %v, want 1", task, m.GetGauge().GetValue())
		}
	}
	want := map[string]string{"fetch": "succeeded", "build": "succeeded", "lint": "failed",
		"report": "upstream-failed", "tidy": "skipped", "off": "skipped"}
	for task, st := range want {
		if states[task] != st {
			t.Errorf("state of %s = %q, want %q", task, states[task], st)
		}
	}
	if len(states) != len(want) {
		t.Errorf("states %v, want %v", states, want)
	}
}

func TestMetricsFailedRunWritesSuccessZero(t *testing.T) {
	sum, code := metricsRun(t, true, true)
	if code != exitcode.Failed {
		t.Fatalf("exit code %d, want %d (critical build failed)", code, exitcode.Failed)
	}
	path := filepath.Join(t.TempDir(), "rebuild.prom")
	if err := WriteMetrics(path, sum, code, time.Now()); err != nil {
		t.Fatal(err)
	}
	promtoolCheck(t, path)
	mfs := parseMetrics(t, path)
	if got := value(t, mfs, "rebuild_last_run_success"); got != 0 {
		t.Errorf("success = %v, want 0", got)
	}
	if got := value(t, mfs, "rebuild_last_run_exit_code"); got != 1 {
		t.Errorf("exit code = %v, want 1", got)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `rebuild_task_state{state="failed",task="build"} 1`) {
		t.Errorf("no failed state for build in:\n%s", data)
	}
}

// previousMetrics writes a first file and returns its bytes.
func previousMetrics(t *testing.T, path string) []byte {
	t.Helper()
	sum, code := metricsRun(t, false, false)
	if err := WriteMetrics(path, sum, code, time.Now()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// assertUntouched checks that path still holds prev and that the only
// other files in its directory are named path+digits (a crashed writer's
// temporary file, which the textfile collector ignores), never *.prom.
func assertUntouched(t *testing.T, path string, prev []byte, leftoverOK bool) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, prev) {
		t.Errorf("previous metrics file changed:\n%s\nwant:\n%s", got, prev)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if name == filepath.Base(path) {
			continue
		}
		if !leftoverOK {
			t.Errorf("left behind %s", name)
		}
		if strings.HasSuffix(name, ".prom") {
			t.Errorf("temporary file %s ends in .prom: the textfile collector would read it", name)
		}
	}
}

func TestMetricsGathererErrorLeavesPreviousFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebuild.prom")
	prev := previousMetrics(t, path)

	sum, code := metricsRun(t, true, true)
	failing := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return nil, errors.New("collector broke")
	})
	err := writeTextfile(path, prometheus.Gatherers{metricsRegistry(sum, code, time.Now()), failing})
	if err == nil || !strings.Contains(err.Error(), "collector broke") {
		t.Fatalf("err = %v, want the gatherer's error", err)
	}
	assertUntouched(t, path, prev, false)
}

func TestMetricsUnwritableDestinationLeavesPreviousFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rebuild.prom")
	prev := previousMetrics(t, path)
	sum, code := metricsRun(t, true, true)

	// A metrics_file whose directory does not exist, and one that is a
	// directory: both fail, and neither touches the good file.
	if err := WriteMetrics(filepath.Join(dir, "missing", "rebuild.prom"), sum, code, time.Now()); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	sub := filepath.Join(dir, "is-a-dir.prom")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteMetrics(sub, sum, code, time.Now()); err == nil {
		t.Error("writing over a directory succeeded")
	}
	if err := os.Remove(sub); err != nil {
		t.Fatalf("the directory was replaced or filled: %v", err)
	}
	if err := WriteMetrics("", sum, code, time.Now()); err == nil {
		t.Error("an empty path succeeded")
	}
	assertUntouched(t, path, prev, false)
}

// TestMetricsCrashMidWriteLeavesPreviousFile kills a writer (SIGKILL) after
// it created its temporary file and before it renamed it.
func TestMetricsCrashMidWriteLeavesPreviousFile(t *testing.T) {
	if os.Getenv("REBUILD_METRICS_CRASH_HELPER") != "" {
		crashHelper()
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "rebuild.prom")
	prev := previousMetrics(t, path)
	marker := filepath.Join(t.TempDir(), "gathering")

	cmd := exec.Command(os.Args[0], "-test.run=^TestMetricsCrashMidWriteLeavesPreviousFile$")
	cmd.Env = append(os.Environ(), "REBUILD_METRICS_CRASH_HELPER="+path, "REBUILD_METRICS_CRASH_MARKER="+marker)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the writer to reach the middle of its write", func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if strings.Contains(out.String(), "helper returned") {
		t.Fatalf("the helper finished its write before it was killed:\n%s", out.String())
	}
	assertUntouched(t, path, prev, true)
}

// crashHelper starts a real write and stops in the middle of it, after the
// temporary file exists, until it is killed.
func crashHelper() {
	path := os.Getenv("REBUILD_METRICS_CRASH_HELPER")
	marker := os.Getenv("REBUILD_METRICS_CRASH_MARKER")
	sum := &schedule.Summary{Results: map[string]*schedule.Result{
		"build": {Name: "build", State: schedule.Failed, Duration: time.Second},
	}}
	stall := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		_ = os.WriteFile(marker, nil, 0o644)
		time.Sleep(time.Hour) // killed here
		return nil, nil
	})
	_ = writeTextfile(path, prometheus.Gatherers{metricsRegistry(sum, 1, time.Now()), stall})
	os.Stdout.WriteString("helper returned\n")
}

// rebuild_reboot_needed follows activate's reboot_needed field: 1 when
// a reboot is needed, 0 when it was checked and is not, and absent when
// nothing recorded it (no activation: a 0 would claim what was not seen).
func TestMetricsRebootNeeded(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		fields map[string]any
		want   string
	}{
		{map[string]any{tasks.FieldRebootNeeded: true, tasks.FieldRebootReason: "kernel 6.6.1 → 6.6.8"}, "rebuild_reboot_needed 1\n"},
		{map[string]any{tasks.FieldRebootNeeded: false}, "rebuild_reboot_needed 0\n"},
		{nil, ""},
	} {
		s := &schedule.Summary{Results: map[string]*schedule.Result{
			"activate": {Name: "activate", State: schedule.Succeeded, Duration: time.Second, Report: tasks.Report{Fields: tc.fields}},
		}}
		path := filepath.Join(dir, "m.prom")
		if err := WriteMetrics(path, s, exitcode.OK, time.Unix(1, 0)); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if tc.want == "" && strings.Contains(string(b), "rebuild_reboot_needed") {
			t.Errorf("fields %v: metric written:\n%s", tc.fields, b)
		}
		if tc.want != "" && !strings.Contains(string(b), tc.want) {
			t.Errorf("fields %v: no %q in\n%s", tc.fields, tc.want, b)
		}
	}
}

// With hosts, the task series carry a host label and name a per-host
// task by its step; each host has its success and its reboot; without
// hosts no series has a host label.
func TestMetricsHostLabels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebuild.prom")
	if err := WriteMetrics(path, hostSummary(), exitcode.Failed, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	promtoolCheck(t, path)
	parseMetrics(t, path)
	b, _ := os.ReadFile(path)
	got := string(b)
	for _, want := range []string{
		`rebuild_task_duration_seconds{host="web1",task="build"} 92` + "\n",
		`rebuild_task_duration_seconds{host="db1",task="build"} 41` + "\n",
		`rebuild_task_duration_seconds{host="",task="flake-update"} 18` + "\n",
		`rebuild_task_state{host="db1",state="failed",task="build"} 1` + "\n",
		`rebuild_task_state{host="web2",state="rolled-back",task="activate"} 1` + "\n",
		`rebuild_task_state{host="",state="upstream-failed",task="commit"} 1` + "\n",
		`rebuild_last_run_host_success{host="web1"} 1` + "\n",
		`rebuild_last_run_host_success{host="web2"} 0` + "\n",
		`rebuild_last_run_host_success{host="db1"} 0` + "\n",
		`rebuild_reboot_needed{host="web1"} 1` + "\n",
		`rebuild_reboot_needed{host="web2"} 0` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "@") || strings.Contains(got, `rebuild_reboot_needed{host="db1"}`) {
		t.Errorf("a task named with its host, or a reboot nobody checked:\n%s", got)
	}

	sum, code := metricsRun(t, false, false)
	if err := WriteMetrics(path, sum, code, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), "host") {
		t.Errorf("a run without hosts has a host label or series:\n%s", b)
	}
}
