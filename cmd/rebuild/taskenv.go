package main

import (
	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// taskEnv is what a run gives every task beyond what the scheduler owns:
// the scheduler imports neither config nor proc, so their parts of a
// task's environment are wired here (see schedule.EnvFunc).
type taskEnv struct {
	cfg    *config.Config
	prompt tasks.Prompter
	runner *proc.Runner
	// term is the terminal when stdin and stdout are one and the live
	// display runs; only a task holding the tty resource gets it.
	term *proc.Terminal
	home string
	yes  bool
}

// fill is the run's schedule.EnvFunc.
func (s taskEnv) fill(env *tasks.Env, tty bool) {
	env.Config = s.cfg
	env.Prompt = timeWaits(s.prompt, env)
	env.Runner = s.runner
	env.Home = s.home
	env.Yes = s.yes
	if tty {
		env.Terminal = s.term
	}
}
