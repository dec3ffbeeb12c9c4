package schedule

import (
	"slices"
	"sort"
	"time"

	"github.com/rebuild-nixos/rebuild/internal/exitcode"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// Result is how one task ended.
type Result struct {
	Name string
	// Host is the host of a per-host task's instance (tasks.Spec.Host);
	// "" for a task of the whole run. Gate: the task is a gate (its
	// failure rolls the activation back). Both are the spec's, so that
	// the summary can tell each host's outcome from the Results alone.
	Host     string
	Gate     bool
	State    State
	Reason   string
	Err      error
	Start    time.Time
	Duration time.Duration
	// Wait is the part of Duration the task spent waiting for answers
	// (tasks.Env.AddWait): history keeps it apart, ETAs leave it out.
	Wait     time.Duration
	Report   tasks.Report
	Tail     []string
	LogPath  string
	Critical bool
	// Carry is set when the task was declined, or skipped because a
	// needs-prerequisite carried a "no": the reason its own
	// needs-dependents are skipped with, so that a declined activation
	// also skips what needs the tasks after it.
	Carry string
	// Rollback is set on the gate whose failure rolled the system back.
	Rollback *GateRollback
}

// Summary is the outcome of a whole run.
type Summary struct {
	// Order is the graph's topological order; Results has every task.
	Order        []string
	Results      map[string]*Result
	Start        time.Time
	Wall         time.Duration
	CriticalPath []string // measured: see measuredPath
	// FailedCritical names the critical task whose failure aborted the run.
	FailedCritical string
	// FailedHosts names the critical tasks of hosts that failed
	// (build@web1), in the order they did: each stopped its own host,
	// not the run.
	FailedHosts []string
	Interrupted bool
	// RolledBack is set when a failed gate rolled the system back.
	RolledBack *GateRollback
}

// ExitCode maps the outcome to the process exit code: 130 interrupted,
// 1 when a critical task failed (a host's too) or a gate rolled the
// system back (or any task failed, with strict), else 0.
func (s *Summary) ExitCode(strict bool) int {
	switch {
	case s.Interrupted:
		return exitcode.Interrupted
	case s.FailedCritical != "", s.RolledBack != nil, len(s.FailedHosts) > 0:
		return exitcode.Failed
	}
	if strict {
		for _, r := range s.Results {
			if r.State == Failed {
				return exitcode.Failed
			}
		}
	}
	return exitcode.OK
}

// Hosts returns the hosts of a run with hosts ([host.*] tables), in the
// order their first task comes in Order (then by name for results the
// order lacks); nil for a run without hosts.
func (s *Summary) Hosts() []string {
	var hosts []string
	seen := map[string]bool{}
	add := func(r *Result) {
		if r != nil && r.Host != "" && !seen[r.Host] {
			seen[r.Host] = true
			hosts = append(hosts, r.Host)
		}
	}
	for _, n := range s.Order {
		add(s.Results[n])
	}
	var rest []string
	for n := range s.Results {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	for _, n := range rest {
		add(s.Results[n])
	}
	return hosts
}

// Unconfirmed records that activation name, which had succeeded, is not
// kept after all: confirming it once the run was over failed (err).
// rolledBack: its confirm timeout has rolled it back already; else it
// will, rebuild could not tell it not to. Either way the system the run
// activated is not the one that stays, so the run fails: the host's, or
// the run's critical task.
func (s *Summary) Unconfirmed(name string, err error, rolledBack bool) {
	r := s.Results[name]
	if r == nil {
		return
	}
	r.State, r.Err = Failed, err
	if rolledBack {
		r.State = RolledBack
	}
	r.Reason = "not confirmed: " + firstLine(err)
	if r.Host != "" {
		if !slices.Contains(s.FailedHosts, name) {
			s.FailedHosts = append(s.FailedHosts, name)
		}
	} else if s.FailedCritical == "" {
		s.FailedCritical = name
	}
}
