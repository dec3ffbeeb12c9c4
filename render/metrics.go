package render

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// Metric names written by WriteMetrics, for the node exporter's textfile
// collector (config key metrics_file).
const (
	metricLastRun      = "rebuild_last_run_timestamp_seconds"
	metricSuccess      = "rebuild_last_run_success"
	metricExitCode     = "rebuild_last_run_exit_code"
	metricWall         = "rebuild_last_run_wall_seconds"
	metricTaskDuration = "rebuild_task_duration_seconds"
	metricTaskState    = "rebuild_task_state"
	metricRebootNeeded = "rebuild_reboot_needed"
	metricHostSuccess  = "rebuild_last_run_host_success"
)

// WriteMetrics writes the outcome of a run to path in the Prometheus text
// format: when it ended (now), whether it succeeded (exitCode 0), its exit
// code and wall time, each task's final state, and the duration of every
// task that ran; and, when a task said so (tasks.FieldRebootNeeded:
// activate, when it activated), whether the system needs a reboot.
//
// The file is replaced atomically (written to a temporary file in the same
// directory, then renamed), so the node exporter never reads half a file
// and a failure or a crash part-way leaves the previous file as it was. A
// crash can leave the temporary file behind; its name is path followed by
// digits, which the textfile collector ignores (it reads only *.prom).
//
// A task "ran" when its Duration is above zero: the scheduler ends the
// tasks it never starts (upstream-failed, canceled, disabled) with none.
//
// In a run with hosts, the task series get a host label, and a per-host
// task is named by its step: build@web1's duration is
// rebuild_task_duration_seconds{task="build",host="web1"} (a task of the
// whole run has host="", which Prometheus keeps as no label at all);
// rebuild_reboot_needed is per host, and rebuild_last_run_host_success
// says for each host whether its deployment went through (1) or failed,
// was rolled back or could not run (0). A run without hosts writes
// exactly the series it always did.
func WriteMetrics(path string, s *schedule.Summary, exitCode int, now time.Time) error {
	if s == nil {
		return errors.New("metrics: no summary")
	}
	return writeTextfile(path, metricsRegistry(s, exitCode, now))
}

// writeTextfile is the atomic write, apart so tests can hand it a gatherer
// that fails or stops half-way.
func writeTextfile(path string, g prometheus.Gatherer) error {
	if path == "" {
		return errors.New("metrics: no file name")
	}
	return prometheus.WriteToTextfile(path, g)
}

// metricsRegistry returns a fresh registry (never the global one) holding
// the run's metrics.
func metricsRegistry(s *schedule.Summary, exitCode int, now time.Time) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	success := 0.0
	if exitCode == exitcode.OK {
		success = 1
	}
	gauge(metricLastRun, "Unix time at which the last rebuild run ended.", float64(now.UnixNano())/1e9)
	gauge(metricSuccess, "1 if the last rebuild run exited 0, else 0.", success)
	gauge(metricExitCode, "Exit code of the last rebuild run: 0 done, 1 failed, 130 interrupted.", float64(exitCode))
	gauge(metricWall, "Wall-clock duration of the last rebuild run in seconds.", s.Wall.Seconds())

	hosts := s.Hosts()
	taskLabels, stateLabels := []string{"task"}, []string{"task", "state"}
	if len(hosts) > 0 {
		taskLabels, stateLabels = []string{"task", "host"}, []string{"task", "host", "state"}
	}
	durations := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricTaskDuration,
		Help: "Duration in seconds of each task that ran in the last rebuild run.",
	}, taskLabels)
	states := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricTaskState,
		Help: "Final state of each task of the last rebuild run: 1 for the state it ended in.",
	}, stateLabels)
	reg.MustRegister(durations, states)
	for name, r := range s.Results {
		if r == nil {
			continue
		}
		task := []string{name}
		if len(hosts) > 0 {
			task = []string{stepOf(name, r.Host), r.Host}
		}
		states.WithLabelValues(append(task, string(r.State))...).Set(1)
		if r.Duration > 0 {
			durations.WithLabelValues(task...).Set(r.Duration.Seconds())
		}
	}
	if len(hosts) > 0 {
		hostMetrics(reg, s)
		return reg
	}
	if needed, ok := rebootNeeded(s); ok {
		v := 0.0
		if needed {
			v = 1
		}
		gauge(metricRebootNeeded, "1 if the system the last rebuild run activated needs a reboot to be fully in effect (kernel, initrd or modules differ from the booted ones, or it was only made the boot default), else 0.", v)
	}
	return reg
}

// hostMetrics registers the per-host series of a run with hosts: each
// host's success and, when its activate recorded it, whether it needs a
// reboot.
func hostMetrics(reg *prometheus.Registry, s *schedule.Summary) {
	success := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricHostSuccess,
		Help: "1 if the host's part of the last rebuild run went through, 0 if it failed, was rolled back or could not run.",
	}, []string{"host"})
	reboot := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricRebootNeeded,
		Help: "1 if the system the last rebuild run activated on the host needs a reboot to be fully in effect (kernel, initrd or modules differ from the booted ones, or it was only made the boot default), else 0.",
	}, []string{"host"})
	reg.MustRegister(success, reboot)
	for _, o := range hostOutcomes(s) {
		v := 1.0
		if o.failed() {
			v = 0
		}
		success.WithLabelValues(o.host).Set(v)
		if needed, ok := o.rebootNeeded(); ok {
			v = 0
			if needed {
				v = 1
			}
			reboot.WithLabelValues(o.host).Set(v)
		}
	}
}

// rebootNeeded reads the tasks' FieldRebootNeeded; ok is false when no
// task recorded it (nothing was activated).
func rebootNeeded(s *schedule.Summary) (needed, ok bool) {
	for _, r := range s.Results {
		if r == nil {
			continue
		}
		if b, isBool := r.Report.Fields[tasks.FieldRebootNeeded].(bool); isBool {
			needed, ok = needed || b, true
		}
	}
	return needed, ok
}
