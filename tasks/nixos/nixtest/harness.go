package nixtest

import (
	"bytes"
	"context"
	"fmt"
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
		Elevate:       "none",
		KeepLogs:      1,
		Tasks:         map[string]config.Task{},
	}
}

// TaskEnv returns an Env for running the task name in the sandbox, the way
// the scheduler would: the sandbox's configuration, a runner with its
// environment, a *Buffer as Log, statuses recorded in rec (may be nil) and
// values shared through v.
func (s *Sandbox) TaskEnv(name string, v *tasks.Values, rec *Statuses) *tasks.Env {
	var r tasks.Reporter
	if rec != nil {
		r = rec
	}
	env := tasks.NewEnv(name, r, v)
	env.Log = &Buffer{}
	env.Config = s.Config()
	env.Options = config.Task{Name: name}
	env.Runner = s.Runner()
	env.Home = s.Home
	env.Prompt = &Prompter{}
	return env
}

// Buffer is a log safe for concurrent writes.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
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

// Prompter is a scripted tasks.Prompter: it answers from its queues in
// order and records what it was asked. A question with no answer left
// is an error naming it, so a test sees an unexpected question at once.
type Prompter struct {
	Terminal   bool // what Interactive reports
	Confirms   []bool
	Inputs     []string
	Selections [][]int

	mu      sync.Mutex
	asked   []string
	offered [][]string
	printed []string
}

// Interactive implements tasks.Prompter.
func (p *Prompter) Interactive() bool { return p.Terminal }

// Confirm implements tasks.Prompter.
func (p *Prompter) Confirm(_ context.Context, q tasks.Question[bool]) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, q.Text)
	if !p.Terminal {
		return q.NonInteractive, nil
	}
	if len(p.Confirms) == 0 {
		return false, fmt.Errorf("nixtest: unexpected question %q", q.Text)
	}
	a := p.Confirms[0]
	p.Confirms = p.Confirms[1:]
	return a, nil
}

// Choose implements tasks.Prompter; no task here asks it.
func (p *Prompter) Choose(_ context.Context, q tasks.Question[rune], _ []tasks.Choice) (rune, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, q.Text)
	return q.NonInteractive, fmt.Errorf("nixtest: unexpected choice %q", q.Text)
}

// MultiSelect implements tasks.Prompter and records the options offered.
func (p *Prompter) MultiSelect(_ context.Context, q tasks.Question[[]int], options []string) ([]int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, q.Text)
	p.offered = append(p.offered, append([]string(nil), options...))
	if !p.Terminal {
		return q.NonInteractive, nil
	}
	if len(p.Selections) == 0 {
		return nil, fmt.Errorf("nixtest: unexpected question %q", q.Text)
	}
	a := p.Selections[0]
	p.Selections = p.Selections[1:]
	return a, nil
}

// Input implements tasks.Prompter.
func (p *Prompter) Input(_ context.Context, q tasks.Question[string]) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, q.Text)
	if !p.Terminal {
		return q.NonInteractive, nil
	}
	if len(p.Inputs) == 0 {
		return "", fmt.Errorf("nixtest: unexpected question %q", q.Text)
	}
	a := p.Inputs[0]
	p.Inputs = p.Inputs[1:]
	return a, nil
}

// Println implements tasks.Prompter.
func (p *Prompter) Println(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printed = append(p.printed, text)
}

// Asked returns the questions' texts in order.
func (p *Prompter) Asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// Offered returns the options of each MultiSelect.
func (p *Prompter) Offered() [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]string(nil), p.offered...)
}

// Printed returns what was shown with Println.
func (p *Prompter) Printed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.printed...)
}
