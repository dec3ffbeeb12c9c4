package main

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/rebuild-nixos/rebuild/tasks/proc"
)

// IOStreams are the program's standard streams and what was decided about
// them, once, before any command runs: whether standard input and output
// are terminals, whether colour is wanted (NO_COLOR, --no-color), and so
// whether the person at the keyboard can be asked anything. Commands read
// these decisions and never look at the files again, so a test sets them
// (SetStdinTTY, SetStdoutTTY, SetColorEnabled) without a pseudo-terminal.
type IOStreams struct {
	// In is standard input; nil when there is none.
	In *os.File
	// Out and Err are standard output and error.
	Out, Err io.Writer
	// OutFile is Out when it is a file: the terminal the live display,
	// questions and interactive commands use. Nil otherwise.
	OutFile *os.File

	stdinTTY, stdoutTTY bool
	color               bool
	// width and height, when set, are the terminal's size (tests).
	width, height int
}

// NewIOStreams decides about the streams from what they are and from
// environ (NO_COLOR, set and not empty, turns colour off).
func NewIOStreams(in *os.File, out, errw io.Writer, environ []string) *IOStreams {
	s := &IOStreams{In: in, Out: out, Err: errw, color: getenv(environ, "NO_COLOR") == ""}
	if f, ok := out.(*os.File); ok {
		s.OutFile = f
	}
	s.stdinTTY = isTerminal(s.In)
	s.stdoutTTY = isTerminal(s.OutFile)
	return s
}

func isTerminal(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// SetStdinTTY overrides what was decided about standard input.
func (s *IOStreams) SetStdinTTY(tty bool) { s.stdinTTY = tty }

// SetStdoutTTY overrides what was decided about standard output.
func (s *IOStreams) SetStdoutTTY(tty bool) { s.stdoutTTY = tty }

// ColorEnabled reports whether colour is wanted at all; the live display
// is the only output that uses it.
func (s *IOStreams) ColorEnabled() bool { return s.color }

// SetColorEnabled overrides the colour decision (--no-color turns it off).
func (s *IOStreams) SetColorEnabled(on bool) { s.color = on }

// CanPrompt reports whether there is someone to ask: standard input and
// output are both terminals.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stdoutTTY }

// Terminal is the terminal handed to interactive commands and to the
// password prompt of elevation; nil when nobody can be prompted.
func (s *IOStreams) Terminal() *proc.Terminal {
	if !s.CanPrompt() || s.In == nil || s.OutFile == nil {
		return nil
	}
	return &proc.Terminal{In: s.In, Out: s.OutFile, Err: s.OutFile}
}

// SetTerminalSize fixes the terminal's size, as a test's terminal.
func (s *IOStreams) SetTerminalSize(width, height int) { s.width, s.height = width, height }

// TerminalWidth is the width of the terminal on standard output, asked
// each time so a resize is followed; 100 when unknown.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	if s.OutFile != nil {
		if w, _, err := term.GetSize(int(s.OutFile.Fd())); err == nil && w > 20 {
			return w
		}
	}
	return 100
}

// TerminalHeight is the height of the terminal on standard output, asked
// each time like its width; 0 when unknown.
func (s *IOStreams) TerminalHeight() int {
	if s.height > 0 {
		return s.height
	}
	if s.OutFile != nil {
		if _, h, err := term.GetSize(int(s.OutFile.Fd())); err == nil && h > 0 {
			return h
		}
	}
	return 0
}
