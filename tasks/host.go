package tasks

import (
	"strings"

	"github.com/rebuild-nixos/rebuild/config"
)

// HostSep joins a per-host task's name and its host's: build@web1.
const HostSep = "@"

// OnHost returns the name of task's instance for host: "build@web1"; task
// itself when host is "" (a run without [host.*] tables).
func OnHost(task, host string) string {
	if host == "" {
		return task
	}
	return task + HostSep + host
}

// SplitHost splits a task name into the task and its host: "build@web1"
// is ("build", "web1"); a name without a host is (name, "").
func SplitHost(name string) (task, host string) {
	task, host, _ = strings.Cut(name, HostSep)
	return task, host
}

// Target returns the host the task acts on: Env.Host when the run has
// [host.*] tables, else this machine under the configuration's host name.
func (e *Env) Target() config.Host {
	if e.Host != nil {
		return *e.Host
	}
	h := config.Host{Target: config.TargetLocal, BuildOn: config.BuildLocal}
	if e.Config != nil {
		h.Name = e.Config.Host
	}
	return h
}
