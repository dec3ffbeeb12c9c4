package render

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rebuild-nixos/rebuild/internal/termtext"
	"github.com/rebuild-nixos/rebuild/tasks"
)

// attempts is how many bad answers a question takes before it settles on
// its default.
const attempts = 3

// Prompter is one task's way of asking: it implements tasks.Prompter
// through its Conversation, which shows its questions under the task's
// label, in their turn. Get one with Conversation.Prompter.
//
// Answers:
//   - Confirm: y, yes, n, no (any case); Enter = Default.
//   - Choose: a choice's key or its whole label (a key's case matters only
//     when two keys differ by case alone); Enter = Default, if it is a key.
//   - Input: the line, spaces trimmed; Enter = Default.
//   - MultiSelect: numbers and ranges from the numbered list, separated by
//     spaces or commas ("1 3 5", "2-4", "1,6-7"), "all", or "none"; Enter
//     keeps the preselected Default (marked [x]).
//
// A bad answer is asked again, at most 3 times in all; then Default is
// taken (NonInteractive for a Choose whose Default is not a key). Ctrl-D
// on an empty line, or the terminal ending, gives NonInteractive.
type Prompter struct {
	c   *Conversation
	who Asker
}

var _ tasks.Prompter = (*Prompter)(nil)

// Interactive reports whether questions are really asked.
func (p *Prompter) Interactive() bool { return p.c.asking() }

// Println keeps text for the task's next question (see tasks.Prompter).
func (p *Prompter) Println(text string) { p.c.hold(p.who.Label, text) }

// Confirm asks a yes/no question.
func (p *Prompter) Confirm(ctx context.Context, q tasks.Question[bool]) (bool, error) {
	hint := "[y/N]"
	if q.Default {
		hint = "[Y/n]"
	}
	v := questionView{text: cleanLines(q.Text), hint: hint}
	return ask(p, ctx, q, v, true, "please answer y or n", func(s string) (bool, bool) {
		switch strings.ToLower(s) {
		case "y", "yes":
			return true, true
		case "n", "no":
			return false, true
		}
		return false, false
	})
}

// Choose asks for one key among choices.
func (p *Prompter) Choose(ctx context.Context, q tasks.Question[rune], choices []tasks.Choice) (rune, error) {
	keys := make([]string, len(choices))
	for i, c := range choices {
		keys[i] = termtext.Escape(string(c.Key) + "=" + c.Label)
	}
	hint := "[" + strings.Join(keys, " ") + "]"
	hasDefault := valid(q.Default, choices)
	if hasDefault {
		hint += " (Enter: " + termtext.Escape(string(q.Default)) + ")"
	}
	v := questionView{text: cleanLines(q.Text), hint: hint}
	return ask(p, ctx, q, v, hasDefault, "please answer with one of the keys", func(s string) (rune, bool) {
		if r, size := utf8.DecodeRuneInString(s); size == len(s) {
			for _, c := range choices {
				if c.Key == r {
					return r, true
				}
			}
			for _, c := range choices {
				if unicode.ToLower(c.Key) == unicode.ToLower(r) {
					return c.Key, true
				}
			}
		}
		for _, c := range choices {
			if strings.EqualFold(c.Label, s) {
				return c.Key, true
			}
		}
		return 0, false
	})
}

func valid(k rune, choices []tasks.Choice) bool {
	for _, c := range choices {
		if c.Key == k {
			return true
		}
	}
	return false
}

// Input asks for a line of text.
func (p *Prompter) Input(ctx context.Context, q tasks.Question[string]) (string, error) {
	hint := ":"
	if q.Default != "" {
		hint = "[" + termtext.Escape(q.Default) + "]:"
	}
	v := questionView{text: cleanLines(q.Text), hint: hint}
	return ask(p, ctx, q, v, true, "", func(s string) (string, bool) { return s, true })
}

// MultiSelect shows options as a numbered list under the question and
// reads the numbers.
func (p *Prompter) MultiSelect(ctx context.Context, q tasks.Question[[]int], options []string) ([]int, error) {
	if !p.Interactive() {
		return q.NonInteractive, nil
	}
	if len(options) == 0 {
		return nil, nil
	}
	pre := map[int]bool{}
	for _, i := range q.Default {
		pre[i] = true
	}
	w := len(strconv.Itoa(len(options)))
	list := make([]string, len(options))
	for i, o := range options {
		mark := "[ ]"
		if pre[i] {
			mark = "[x]"
		}
		list[i] = fmt.Sprintf("  %*d %s %s", w, i+1, mark, clean(o))
	}
	v := questionView{text: cleanLines(q.Text), options: list,
		hint: "numbers or ranges (1 3 5, 2-4), all, none; Enter keeps the [x] ones:"}
	return ask(p, ctx, q, v, true, "", func(s string) ([]int, bool) { return parseSelection(s, len(options)) })
}

// parseSelection reads "1 3 5", "2-4", "1,6-7", "all" or "none" against n
// options; the result is 0-based, sorted, without duplicates.
func parseSelection(s string, n int) ([]int, bool) {
	switch strings.ToLower(s) {
	case "all", "*":
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all, true
	case "none", "-":
		return []int{}, true
	}
	seen := map[int]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, false
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, false
			}
		}
		if a < 1 || b > n || a > b {
			return nil, false
		}
		for i := a; i <= b; i++ {
			seen[i-1] = true
		}
	}
	if len(seen) == 0 {
		return nil, false
	}
	out := make([]int, 0, len(seen))
	for i := range seen {
		out = append(out, i)
	}
	sort.Ints(out)
	return out, true
}

// ask is what every question shares: not interactive → NonInteractive at
// once; else the question goes to the queue with the parse of its answer
// and waits. An empty answer is Default when hasDefault, else a bad
// answer; after attempts bad answers, Default (NonInteractive without
// one) is taken.
func ask[T any](p *Prompter, ctx context.Context, q tasks.Question[T], v questionView, hasDefault bool, again string, parse func(string) (T, bool)) (T, error) {
	if !p.Interactive() {
		return q.NonInteractive, nil
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	if again == "" {
		again = "that is not a valid answer"
	}
	v.label = p.who.Label
	v.body = cleanLines(q.Body)
	// answer is written under the conversation's lock and read after the
	// question's done channel is closed.
	answer := q.NonInteractive
	tries := 0
	it := &question{who: p.who, view: v,
		noAnswer: func() { answer = q.NonInteractive },
		submit: func(line string) (bool, string) {
			if line == "" && hasDefault {
				answer = q.Default
				return true, ""
			}
			if a, ok := parse(line); ok && line != "" {
				answer = a
				return true, ""
			}
			if tries++; tries < attempts {
				return false, again
			}
			if !hasDefault {
				answer = q.NonInteractive
				return true, "no valid answer: taking the answer for no terminal"
			}
			answer = q.Default
			return true, "no valid answer: taking the default"
		}}
	if err := p.c.ask(ctx, it); err != nil {
		var zero T
		return zero, err
	}
	return answer, nil
}
