package tasks

import "context"

// Prompter asks the person at the keyboard. Every interactive task asks
// through it, never through the terminal directly: it asks only when stdin
// and stdout are terminals, and otherwise returns the non-interactive
// answer the caller documents, at once, without touching the terminal.
// It also pauses the live progress display while a question is on screen.
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
	// Println shows a line of text to the person (a diff, a table) when
	// interactive; without a terminal it is dropped (tasks log it too).
	Println(text string)
}

// Question is one prompt: its text, the answer on Enter, and the answer
// given without a terminal.
type Question[T any] struct {
	Text           string
	Default        T
	NonInteractive T
}

// Choice is one key of a Choose prompt.
type Choice struct {
	Key   rune
	Label string
}
