package main

import (
	"slices"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/dag"
	"github.com/rebuild-nixos/rebuild/render"
	"github.com/rebuild-nixos/rebuild/schedule"
	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// taskEnv is what a run gives every task beyond what the scheduler owns:
// the scheduler imports neither config nor proc, so their parts of a
// task's environment are wired here (see schedule.EnvFunc).
type taskEnv struct {
	cfg *config.Config
	// hosts are what a per-host task's environment gets, by host.
	hosts map[string]hostEnv
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
	// cleanup is the run's one cleanup question.
	cleanup *tasks.CleanupBoard
	// sshControl is the directory of the run's shared ssh connections.
	sshControl string
	// screen is the live display's terminal size (nil in plain and json
	// output, which show no tables).
	screen func() (width, height int)
}

// hostEnv is what a per-host task's environment has of its host: the
// host, and a copy of the configuration whose Host is its name (so
// nixosConfigurations.<Config.Host> is the host's) and whose Elevate is
// its own when it sets one.
type hostEnv struct {
	host *config.Host
	cfg  *config.Config
}

// hostEnvs makes the hostEnv of each host, once per run: every task of a
// host shares them.
func hostEnvs(cfg *config.Config, hosts []config.Host) map[string]hostEnv {
	out := make(map[string]hostEnv, len(hosts))
	for _, h := range hosts {
		c := *cfg
		c.Host = h.Name
		if h.Elevate != "" {
			c.Elevate = h.Elevate
		}
		out[h.Name] = hostEnv{host: &h, cfg: &c}
	}
	return out
}

// fill is the run's schedule.EnvFunc.
func (s taskEnv) fill(env *tasks.Env, tty bool) {
	env.Config = s.cfg
	if _, host := tasks.SplitHost(env.Name); host != "" {
		if h, ok := s.hosts[host]; ok {
			env.Host, env.Config = h.host, h.cfg
		}
	}
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
	env.Cleanup = s.cleanup
	env.Screen = s.screen
	env.SSHControl = s.sshControl
	if tty {
		env.Terminal = s.term
	}
}

// cleanupBoard returns the run's cleanup board: its members are the
// selected, enabled cleanup tasks (Spec.Cleanup), so that with --only a
// plan never waits for a task that is not in the run. A cleanup task that
// runs after another one (an edge, direct or not) cannot be waited for by
// it: it is left out and asks its plan alone, after.
func cleanupBoard(g *dag.Graph, specs map[string]tasks.Spec) *tasks.CleanupBoard {
	var cands []string
	for _, n := range g.Order() {
		if s := specs[n]; s.Cleanup && !s.Disabled {
			cands = append(cands, n)
		}
	}
	var members []string
	for _, n := range cands {
		if !afterAny(g, n, cands) {
			members = append(members, n)
		}
	}
	return tasks.NewCleanupBoard(members...)
}

// cleanupLabel is the label the one cleanup plan is asked under: the plan
// is every cleanup task's, not the one that happened to submit last.
const cleanupLabel = "cleanup"

// askCleanupAs makes board ask under cleanupLabel, ranked at the earliest
// phase of its members, through the run's conversation (prompter; nil:
// nobody is asked, and the board is left as it is). The asking task still
// has its wait for the answer recorded.
func askCleanupAs(board *tasks.CleanupBoard, prompter func(render.Asker) tasks.Prompter, specs map[string]tasks.Spec) {
	if prompter == nil {
		return
	}
	phase := 0
	for name, s := range specs {
		if board.Member(name) && s.Phase > 0 && (phase == 0 || s.Phase < phase) {
			phase = s.Phase
		}
	}
	who := render.Asker{Label: cleanupLabel, Phase: phase}
	board.AskThrough(func(env *tasks.Env) tasks.Prompter { return timeWaits(prompter(who), env) })
}

// afterAny reports whether one of others is among n's ancestors.
func afterAny(g *dag.Graph, n string, others []string) bool {
	seen := map[string]bool{}
	stack := []string{n}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range g.Prereqs(cur) {
			if seen[e.From] {
				continue
			}
			seen[e.From] = true
			for _, o := range others {
				if o == e.From {
					return true
				}
			}
			stack = append(stack, e.From)
		}
	}
	return false
}

// withdrawOnFinish takes every finished task off the board, whatever
// ended it (run, skipped, declined upstream, canceled): the board then
// never waits for a plan that cannot come.
func withdrawOnFinish(b *tasks.CleanupBoard) schedule.Sink {
	return schedule.SinkFunc(func(e schedule.Event) {
		if e.Kind == schedule.Finish {
			b.Withdraw(e.Task)
		}
	})
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
