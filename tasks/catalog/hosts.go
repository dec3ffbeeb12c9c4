package catalog

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/suggest"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// A run over several hosts: every per-host task (Spec.PerHost, and every
// gate, which checks the host its activation switched) becomes one
// instance per host, NAME@HOST, and the run's other tasks stay single.
// Edges are mapped so that each host has a chain of its own:
//
//   - a per-host task's edge to a per-host task goes to the same host's
//     instance (activate@web1 needs build@web1);
//   - an edge to a task of the whole run stays (build@web1 needs
//     flake-update);
//   - a task of the whole run's edge to a per-host task goes to every
//     host's instance (commit needs accept@web1, accept@db, …).
//
// A host's gates (host.NAME.gates) choose which gate instances it has;
// an edge to a gate a host does not have is dropped for that host. The
// rollout adds edges between hosts' activations (rolloutEdges). Without
// hosts nothing is expanded, and the tasks that exist only with hosts
// (Spec.HostsOnly: copy) are dropped with every edge to them, so the
// graph is exactly the one of a single machine.

// activateTask is the task whose instances the rollout orders.
const activateTask = "activate"

// hostOptions are the host keys that override an option of a task for
// that host's instance.
var hostOptions = []struct{ hostKey, task, option string }{
	{"confirm_timeout", "activate", "confirm_timeout"},
	{"keep", "generations", "keep"},
	{"keep_since", "generations", "keep_since"},
}

// expandHosts returns specs for the run's hosts (o.Hosts, in order); see
// above. Errors are *config.Error naming the host's key at fault.
func expandHosts(cfg *config.Config, specs []tasks.Spec, o Options) ([]tasks.Spec, error) {
	perHost := map[string]bool{}
	var gates []string
	for _, s := range specs {
		if s.PerHost || s.Gate {
			perHost[s.Name] = true
		}
		if s.Gate {
			gates = append(gates, s.Name)
		}
	}
	// Every host's gates are checked, the hosts --on leaves out too: a
	// mistake in the configuration shows whatever the run picks.
	for _, name := range slices.Sorted(maps.Keys(cfg.Hosts)) {
		if h := cfg.Hosts[name]; h.Gates != nil {
			if err := checkHostGates(h, specs, gates); err != nil {
				return nil, err
			}
		}
	}
	if len(o.Hosts) == 0 {
		return dropHostsOnly(specs), nil
	}
	// has says whether host h has an instance of task.
	hostGates := map[string][]string{}
	for _, h := range o.Hosts {
		if h.Gates != nil {
			hostGates[h.Name] = h.Gates
		}
	}
	has := func(task, host string) bool {
		if !perHost[task] {
			return false
		}
		g, chosen := hostGates[host]
		return !slices.Contains(gates, task) || !chosen || slices.Contains(g, task)
	}
	mapEdges := func(targets []string, host string) []string {
		var out []string
		for _, t := range targets {
			switch {
			case !perHost[t]:
				out = append(out, t)
			case host != "":
				if has(t, host) {
					out = append(out, tasks.OnHost(t, host))
				}
			default:
				for _, h := range o.Hosts {
					if has(t, h.Name) {
						out = append(out, tasks.OnHost(t, h.Name))
					}
				}
			}
		}
		return out
	}

	out := make([]tasks.Spec, 0, len(specs)*len(o.Hosts))
	for _, s := range specs {
		if !perHost[s.Name] {
			s.Needs, s.After = mapEdges(s.Needs, ""), mapEdges(s.After, "")
			s.Groups = clone(s.Groups)
			out = append(out, s)
			continue
		}
		for _, h := range o.Hosts {
			if !has(s.Name, h.Name) {
				continue
			}
			inst := s
			inst.Name = tasks.OnHost(s.Name, h.Name)
			inst.Host = h.Name
			inst.Needs, inst.After = mapEdges(s.Needs, h.Name), mapEdges(s.After, h.Name)
			inst.Groups = clone(s.Groups)
			task, err := hostTask(cfg, s, h)
			if err != nil {
				return nil, err
			}
			inst.Task = task
			out = append(out, inst)
		}
	}
	rolloutEdges(out, o.Hosts, o.Rollout, has, gates)
	return out, nil
}

// dropHostsOnly leaves out the tasks that exist only with hosts, and the
// edges to them. specs comes back as it is when there are none.
func dropHostsOnly(specs []tasks.Spec) []tasks.Spec {
	var only []string
	for _, s := range specs {
		if s.HostsOnly {
			only = append(only, s.Name)
		}
	}
	if len(only) == 0 {
		return specs
	}
	out := make([]tasks.Spec, 0, len(specs))
	for _, s := range specs {
		if s.HostsOnly {
			continue
		}
		drop := func(n string) bool { return slices.Contains(only, n) }
		s.Needs = slices.DeleteFunc(clone(s.Needs), drop)
		s.After = slices.DeleteFunc(clone(s.After), drop)
		out = append(out, s)
	}
	return out
}

// checkHostGates refuses a host's gates entry that is not a gate task.
func checkHostGates(h config.Host, specs []tasks.Spec, gates []string) error {
	for _, g := range h.Gates {
		if slices.Contains(gates, g) {
			continue
		}
		allowed := "the gate tasks: none (a gate is a task with gate = true)"
		if len(gates) > 0 {
			allowed = "the gate tasks: " + strings.Join(gates, ", ")
		}
		msg := fmt.Sprintf("%s is not a gate task", g)
		if slices.ContainsFunc(specs, func(s tasks.Spec) bool { return s.Name == g }) {
			msg = fmt.Sprintf("%s is a task but not a gate (a gate is a task with gate = true)", g)
		} else if s := suggest.Closest(g, gates); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return h.ValueError("gates", h.Gates, msg, allowed)
	}
	return nil
}

// hostTask is the task of s's instance on h: s's own, or, when h
// overrides an option of it (keep, keep_since, confirm_timeout), s's task
// configured again with the option table those overrides change.
func hostTask(cfg *config.Config, s tasks.Spec, h config.Host) (tasks.Task, error) {
	if s.Disabled {
		return s.Task, nil
	}
	tc, changed := cfg.Tasks[s.Name], ""
	for _, ho := range hostOptions {
		if ho.task != s.Name {
			continue
		}
		v := hostOptionValue(h, ho.hostKey)
		if v == nil {
			continue
		}
		tc = tc.WithOption(ho.option, v, h.Source(ho.hostKey))
		changed = ho.hostKey
	}
	if changed == "" {
		return s.Task, nil
	}
	task, err := s.Configure(tc)
	if err != nil {
		// The value was the host's: say so, in the host's terms.
		var ce *config.Error
		if errors.As(err, &ce) && ce.Value != "" {
			for _, ho := range hostOptions {
				if ho.task == s.Name && strings.HasSuffix(ce.Key, ho.option) && hostOptionValue(h, ho.hostKey) != nil {
					return nil, h.ValueError(ho.hostKey, hostOptionValue(h, ho.hostKey), ce.Msg, ce.Allowed)
				}
			}
		}
		return nil, fmt.Errorf("host %s: %w", h.Name, err)
	}
	return task, nil
}

// hostOptionValue is h's value of key in the form a TOML file gives the
// task option it overrides; nil when h does not set it.
func hostOptionValue(h config.Host, key string) any {
	switch key {
	case "confirm_timeout":
		if h.ConfirmTimeout != nil {
			return h.ConfirmTimeout.String()
		}
	case "keep":
		if h.Keep != nil {
			return int64(*h.Keep)
		}
	case "keep_since":
		if h.KeepSince != "" {
			return h.KeepSince
		}
	}
	return nil
}

// rolloutEdges makes activations follow the rollout: with one-by-one,
// each host's activate needs the host before it checked (its gates, or
// its activate when it has none); with canary, every host's needs the
// first host checked. A failed gate so stops every activation after it.
// all adds nothing.
func rolloutEdges(specs []tasks.Spec, hosts []config.Host, rollout string, has func(task, host string) bool, gates []string) {
	if rollout != config.RolloutOne && rollout != config.RolloutCanary || len(hosts) < 2 {
		return
	}
	index := make(map[string]int, len(specs))
	for i, s := range specs {
		index[s.Name] = i
	}
	checked := func(host string) []string {
		var out []string
		for _, g := range gates {
			if has(g, host) {
				out = append(out, tasks.OnHost(g, host))
			}
		}
		if len(out) == 0 && has(activateTask, host) {
			out = append(out, tasks.OnHost(activateTask, host))
		}
		return out
	}
	for i, h := range hosts[1:] {
		at, ok := index[tasks.OnHost(activateTask, h.Name)]
		if !ok {
			continue
		}
		before := hosts[0].Name
		if rollout == config.RolloutOne {
			before = hosts[i].Name
		}
		specs[at].Needs = union(clone(specs[at].Needs), checked(before))
	}
}
