package taskstest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// Prompter is a scripted tasks.Prompter. It records the text of every
// question (asked with a terminal or without) and its Body, what each
// Choose and MultiSelect offered, and every text shown — with Println or
// as a question's Body; it is safe for concurrent use.
//
// Without Terminal every question gets its NonInteractive answer at
// once, like the real one. With it, questions take Answers in order: a
// bool for Confirm, a rune for Choose, an []int for MultiSelect, a string
// for Input. A question past the end of Answers, an answer of the wrong
// kind, or a Choose answer that is not one of the choices is an error
// naming the question, returned to the task and, when T is set, reported
// to T as well, so the test fails wherever the task handles the error.
type Prompter struct {
	T        testing.TB // optional: gets every unexpected question
	Terminal bool       // what Interactive reports
	Answers  []any
	// BeforeAnswer, when set, is called with each question's text before
	// it is answered (with a terminal or without): there a test changes
	// the disk between what a task listed and what it then does.
	BeforeAnswer func(question string)

	mu      sync.Mutex
	asked   []string
	bodies  []string
	offered [][]string
	printed []string
}

// Interactive implements tasks.Prompter.
func (p *Prompter) Interactive() bool { return p.Terminal }

// answer records question q with its body (and what it offers, when not
// nil) and returns the next scripted answer; ok is false without a
// terminal.
func answer[A any](p *Prompter, q, body string, offers []string) (a A, ok bool, err error) {
	if p.BeforeAnswer != nil {
		p.BeforeAnswer(q)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, q)
	p.bodies = append(p.bodies, body)
	if body != "" {
		p.printed = append(p.printed, body)
	}
	if offers != nil {
		p.offered = append(p.offered, offers)
	}
	if !p.Terminal {
		return a, false, nil
	}
	if len(p.Answers) == 0 {
		return a, false, p.unexpected("unexpected question %q", q)
	}
	next := p.Answers[0]
	p.Answers = p.Answers[1:]
	a, ok = next.(A)
	if !ok {
		return a, false, p.unexpected("answer %#v to %q is not a %T", next, q, a)
	}
	return a, true, nil
}

// unexpected reports an error to T, if any, and returns it; p.mu is held.
func (p *Prompter) unexpected(format string, args ...any) error {
	err := fmt.Errorf("taskstest: "+format, args...)
	if p.T != nil {
		p.T.Error(err)
	}
	return err
}

// Confirm implements tasks.Prompter.
func (p *Prompter) Confirm(_ context.Context, q tasks.Question[bool]) (bool, error) {
	a, ok, err := answer[bool](p, q.Text, q.Body, nil)
	if !ok {
		return q.NonInteractive, err
	}
	return a, nil
}

// Choose implements tasks.Prompter; it records the choices as "key=label".
func (p *Prompter) Choose(_ context.Context, q tasks.Question[rune], choices []tasks.Choice) (rune, error) {
	offers := []string{}
	for _, c := range choices {
		offers = append(offers, string(c.Key)+"="+c.Label)
	}
	a, ok, err := answer[rune](p, q.Text, q.Body, offers)
	if !ok {
		return q.NonInteractive, err
	}
	if !slices.ContainsFunc(choices, func(c tasks.Choice) bool { return c.Key == a }) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return q.NonInteractive, p.unexpected("answer %c is not among the choices of %q", a, q.Text)
	}
	return a, nil
}

// MultiSelect implements tasks.Prompter; it records the options.
func (p *Prompter) MultiSelect(_ context.Context, q tasks.Question[[]int], options []string) ([]int, error) {
	a, ok, err := answer[[]int](p, q.Text, q.Body, append([]string{}, options...))
	if !ok {
		return q.NonInteractive, err
	}
	return a, nil
}

// Input implements tasks.Prompter.
func (p *Prompter) Input(_ context.Context, q tasks.Question[string]) (string, error) {
	a, ok, err := answer[string](p, q.Text, q.Body, nil)
	if !ok {
		return q.NonInteractive, err
	}
	return a, nil
}

// Println implements tasks.Prompter; it records text with or without a
// terminal.
func (p *Prompter) Println(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printed = append(p.printed, text)
}

// Asked returns the questions' texts in the order they were asked.
func (p *Prompter) Asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.asked)
}

// Offered returns, for each Choose and MultiSelect in order, its choices
// ("key=label") or options.
func (p *Prompter) Offered() [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.offered)
}

// Bodies returns the questions' bodies, in the order they were asked
// ("" for a question without one).
func (p *Prompter) Bodies() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.bodies)
}

// Printed returns the texts shown, in order: with Println, and the
// questions' bodies.
func (p *Prompter) Printed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.printed)
}
