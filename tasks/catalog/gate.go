package catalog

import (
	"fmt"
	"slices"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// gateEdges makes every task that needs what a gate checks wait for the
// gate too: accept (and through it commit, generations and push) only
// once the new system has passed its gates, so that a failed gate's
// rollback skips them instead of racing them. A gate needs the task it
// checks; one without needs checks nothing and is an error naming its
// table.
func gateEdges(specs []tasks.Spec) error {
	for _, g := range specs {
		if !g.Gate {
			continue
		}
		if len(g.Needs) == 0 {
			return &config.Error{File: g.Source, Key: "task." + g.Name + ".gate",
				Msg: fmt.Sprintf("task.%s.gate: a gate checks the task it needs; add needs = [\"activate\"]", g.Name)}
		}
		before := prerequisites(specs, g.Name)
		for i := range specs {
			s := &specs[i]
			// A task the gate itself waits for (build, when a gate needs
			// it too) cannot wait for the gate: that is a cycle.
			if s.Gate || s.Name == g.Name || before[s.Name] || slices.Contains(s.Needs, g.Name) {
				continue
			}
			for _, n := range g.Needs {
				if slices.Contains(s.Needs, n) {
					s.Needs = append(slices.Clone(s.Needs), g.Name)
					break
				}
			}
		}
	}
	return nil
}

// prerequisites is every task name runs after, through needs and after
// edges, directly or not.
func prerequisites(specs []tasks.Spec, name string) map[string]bool {
	byName := make(map[string]*tasks.Spec, len(specs))
	for i := range specs {
		byName[specs[i].Name] = &specs[i]
	}
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		s := byName[n]
		if s == nil {
			return
		}
		for _, p := range append(slices.Clone(s.Needs), s.After...) {
			if !seen[p] {
				seen[p] = true
				visit(p)
			}
		}
	}
	visit(name)
	return seen
}
