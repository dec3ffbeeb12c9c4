package taskstest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks"
)

// reporter is a testing.TB that keeps what Error was given.
type reporter struct {
	testing.TB
	got []string
}

func (e *reporter) Error(args ...any) { e.got = append(e.got, fmt.Sprint(args...)) }

var keys = []tasks.Choice{{Key: 'y', Label: "yes"}, {Key: 'n', Label: "no"}}

func TestPrompterWithoutTerminalAnswersNonInteractive(t *testing.T) {
	ctx := context.Background()
	p := &Prompter{T: t, Answers: []any{false}}
	if p.Interactive() {
		t.Error("Interactive without Terminal")
	}
	c, err1 := p.Confirm(ctx, tasks.Question[bool]{Text: "c?", Default: false, NonInteractive: true})
	r, err2 := p.Choose(ctx, tasks.Question[rune]{Text: "r?", NonInteractive: 'n'}, keys)
	m, err3 := p.MultiSelect(ctx, tasks.Question[[]int]{Text: "m?", NonInteractive: []int{1}}, []string{"a", "b"})
	i, err4 := p.Input(ctx, tasks.Question[string]{Text: "i?", NonInteractive: "none"})
	p.Println("table")
	if !c || r != 'n' || !slices.Equal(m, []int{1}) || i != "none" || err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		t.Errorf("got %v %c %v %q, errors %v %v %v %v", c, r, m, i, err1, err2, err3, err4)
	}
	if got := p.Asked(); !slices.Equal(got, []string{"c?", "r?", "m?", "i?"}) {
		t.Errorf("asked %q", got)
	}
	if got := p.Offered(); len(got) != 2 || !slices.Equal(got[0], []string{"y=yes", "n=no"}) || !slices.Equal(got[1], []string{"a", "b"}) {
		t.Errorf("offered %q", got)
	}
	if got := p.Printed(); !slices.Equal(got, []string{"table"}) {
		t.Errorf("printed %q", got)
	}
}

func TestPrompterAnswersInOrder(t *testing.T) {
	ctx := context.Background()
	p := &Prompter{T: t, Terminal: true, Answers: []any{true, 'y', []int{0}, "text"}}
	c, _ := p.Confirm(ctx, tasks.Question[bool]{Text: "c?"})
	r, _ := p.Choose(ctx, tasks.Question[rune]{Text: "r?", NonInteractive: 'n'}, keys)
	m, _ := p.MultiSelect(ctx, tasks.Question[[]int]{Text: "m?"}, []string{"a"})
	i, err := p.Input(ctx, tasks.Question[string]{Text: "i?"})
	if !c || r != 'y' || !slices.Equal(m, []int{0}) || i != "text" || err != nil {
		t.Errorf("got %v %c %v %q %v", c, r, m, i, err)
	}
}

func TestPrompterUnexpectedQuestions(t *testing.T) {
	ctx := context.Background()
	for name, ask := range map[string]func(p *Prompter) error{
		"past the script": func(p *Prompter) error {
			_, err := p.Input(ctx, tasks.Question[string]{Text: "q?"})
			return err
		},
		"wrong kind": func(p *Prompter) error {
			p.Answers = []any{"yes"}
			_, err := p.Confirm(ctx, tasks.Question[bool]{Text: "q?"})
			return err
		},
		"not a choice": func(p *Prompter) error {
			p.Answers = []any{'x'}
			_, err := p.Choose(ctx, tasks.Question[rune]{Text: "q?"}, keys)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			// Without T the task gets the error; with T the test is told too.
			if err := ask(&Prompter{Terminal: true}); err == nil || !strings.Contains(err.Error(), `"q?"`) {
				t.Errorf("without T: %v", err)
			}
			rec := &reporter{TB: t}
			err := ask(&Prompter{T: rec, Terminal: true})
			if err == nil || len(rec.got) != 1 || rec.got[0] != err.Error() {
				t.Errorf("with T: %v, reported %q", err, rec.got)
			}
		})
	}
}
