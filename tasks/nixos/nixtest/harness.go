package nixtest

import (
	"path/filepath"
	"sync"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// Config is a configuration pointing at the sandbox: its flake and host,
// profile, current and booted system links, and no elevation.
func (s *Sandbox) Config() *config.Config {
	return &config.Config{
		Flake:         s.Flake,
		Host:          s.Host,
		Profile:       s.Profile,
		CurrentSystem: s.CurrentSystem,
		BootedSystem:  s.BootedSystem,
		StateDir:      filepath.Join(s.Root, "state"),
		Elevate:       "none",
		KeepLogs:      1,
		Tasks:         map[string]config.Task{},
	}
}

// TaskEnv returns an Env for running the task name in the sandbox, the way
// the scheduler would: the sandbox's configuration, a runner with its
// environment, statuses recorded in rec (may be nil) and values shared
// through v. Its Log and Prompt are left to the caller, as by
// tasks.NewEnv: a test sets a taskstest.Buffer and taskstest.Prompter.
func (s *Sandbox) TaskEnv(name string, v *tasks.Values, rec *Statuses) *tasks.Env {
	var r tasks.Reporter
	if rec != nil {
		r = rec
	}
	env := tasks.NewEnv(name, r, v)
	env.Config = s.Config()
	env.Runner = s.Runner()
	env.Home = s.Home
	return env
}

// Statuses records status lines per task.
type Statuses struct {
	mu sync.Mutex
	m  map[string][]string
}

// Status implements tasks.Reporter.
func (s *Statuses) Status(task, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]string{}
	}
	s.m[task] = append(s.m[task], line)
}

// Of returns task's status lines in order.
func (s *Statuses) Of(task string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.m[task]...)
}
