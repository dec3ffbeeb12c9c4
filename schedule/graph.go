package schedule

import (
	"errors"
	"fmt"

	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// Graph builds the task graph of specs and indexes the specs by name.
// An edge error on a task that came from a configuration file names the file.
func Graph(specs []tasks.Spec) (*dag.Graph, map[string]tasks.Spec, error) {
	nodes := make([]dag.Node, 0, len(specs))
	byName := make(map[string]tasks.Spec, len(specs))
	for _, s := range specs {
		nodes = append(nodes, dag.Node{
			Name: s.Name, Phase: s.Phase, Groups: s.Groups, Needs: s.Needs, After: s.After,
			Critical: s.Critical, Interactive: s.Interactive,
		})
		byName[s.Name] = s
	}
	g, err := dag.Build(nodes)
	if err != nil {
		var ue *dag.UnknownEdgeError
		var ce *dag.CycleError
		switch {
		case errors.As(err, &ue) && byName[ue.Task].Source != "":
			err = fmt.Errorf("%s: %w", byName[ue.Task].Source, err)
		case errors.As(err, &ce):
			// A cycle needs an edge the user wrote: name the file.
			for _, n := range ce.Cycle {
				if src := byName[n].Source; src != "" {
					err = fmt.Errorf("%s: %w", src, err)
					break
				}
			}
		}
		return nil, nil, err
	}
	return g, byName, nil
}
