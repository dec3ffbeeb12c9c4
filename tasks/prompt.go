package tasks

import "context"

// Prompter asks the person at the keyboard. Every interactive task asks
// through it, never through the terminal directly: it asks only when stdin
// and stdout are terminals, and otherwise returns the non-interactive
// answer the caller documents, at once, without touching the terminal.
//
// Each task gets its own Prompter, which names the task: a question is
// shown as one block under the task's label — its Body, the question,
// the prompt — and never mixed with another task's text. One question is
// on screen at a time; the progress display goes on above it.
type Prompter interface {
	// Interactive reports whether questions are really asked.
	Interactive() bool
	// Confirm asks a yes/no question; def is the answer on Enter.
	Confirm(ctx context.Context, q Question[bool]) (bool, error)
	// Choose asks for one key among choices, e.g. y/n/a/s/q.
	Choose(ctx context.Context, q Question[rune], choices []Choice) (rune, error)
	// MultiSelect lets the person pick any of options; returns indexes.
	MultiSelect(ctx context.Context, q Question[[]int], options []string) ([]int, error)
	// Input asks for a line of text.
	Input(ctx context.Context, q Question[string]) (string, error)
	// Println shows text to the person (a table, a list) under the task's
	// label when interactive; without a terminal it is dropped (tasks log
	// it too). The text is not written at once: it goes with the task's
	// next question, above that question's Body, so that nothing can come
	// between them; when the task asks nothing more, it is shown when the
	// task ends. Text that belongs to a question is better given as its
	// Body.
	Println(text string)
}

// Question is one prompt: its text, what to read before answering, the
// answer on Enter, and the answer given without a terminal.
type Question[T any] struct {
	Text string
	// Body is shown with the question, above it, in the same block: the
	// diff, the table or the list the answer is about. Optional.
	Body           string
	Default        T
	NonInteractive T
}

// Choice is one key of a Choose prompt.
type Choice struct {
	Key   rune
	Label string
}
