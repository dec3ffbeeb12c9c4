package main

import (
	"slices"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// taskEnv is what a run gives every task beyond what the scheduler owns:
// the scheduler imports neither config nor proc, so their parts of a
// task's environment are wired here (see schedule.EnvFunc).
type taskEnv struct {
	cfg *config.Config
	// prompter makes a task's own prompter (the run's conversation's),
	// labelled and ranked as askers says; nil: nobody is asked.
	prompter func(render.Asker) tasks.Prompter
	askers   map[string]render.Asker
	runner   *proc.Runner
	// term is the terminal when stdin and stdout are one and the live
	// display runs; only a task holding the tty resource gets it.
	term *proc.Terminal
	home string
	yes  bool
}

// fill is the run's schedule.EnvFunc.
func (s taskEnv) fill(env *tasks.Env, tty bool) {
	env.Config = s.cfg
	if s.prompter != nil {
		who, ok := s.askers[env.Name]
		if !ok {
			who = render.Asker{Label: env.Name}
		}
		env.Prompt = timeWaits(s.prompter(who), env)
	}
	env.Runner = s.runner
	env.Home = s.home
	env.Yes = s.yes
	if tty {
		env.Terminal = s.term
	}
}

// askers says, for each task, how its questions are labelled (its name)
// and ordered: the system first — a critical task (activate's --ask) and
// a task that needs one (accept's keep-or-roll-back: what to do with the
// system just switched) — then by phase.
func askers(specs map[string]tasks.Spec) map[string]render.Asker {
	out := make(map[string]render.Asker, len(specs))
	for name, s := range specs {
		system := s.Critical || slices.ContainsFunc(s.Needs, func(n string) bool { return specs[n].Critical })
		out[name] = render.Asker{Label: name, System: system, Phase: s.Phase}
	}
	return out
}
