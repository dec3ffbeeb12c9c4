package main

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/creack/pty"
)

// testIO is an IOStreams for a test: no input, output into out and errw,
// no terminal, colour as NO_COLOR is unset. A test turns on what it needs
// with SetStdinTTY, SetStdoutTTY and SetColorEnabled.
func testIO(out, errw io.Writer) *IOStreams { return NewIOStreams(nil, out, errw, nil) }

// What NewIOStreams decides: a terminal on both sides can be prompted and
// gets a Terminal; a pipe or a buffer cannot; NO_COLOR (not empty) turns
// colour off. The decisions are made once: a test's Set… is what the
// commands see, whatever the files are.
func TestIOStreamsDecideOnce(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()

	for _, c := range []struct {
		name          string
		in            *os.File
		out           io.Writer
		environ       []string
		in1, out1     bool
		prompt, color bool
	}{
		{"terminal", tty, tty, nil, true, true, true, true},
		{"NO_COLOR", tty, tty, []string{"NO_COLOR=1"}, true, true, true, false},
		{"empty NO_COLOR", tty, tty, []string{"NO_COLOR="}, true, true, true, true},
		{"stdout a pipe", tty, w, nil, true, false, false, true},
		{"stdin a pipe", r, tty, nil, false, true, false, true},
		{"buffers", nil, &bytes.Buffer{}, nil, false, false, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewIOStreams(c.in, c.out, io.Discard, c.environ)
			if s.IsStdinTTY() != c.in1 || s.IsStdoutTTY() != c.out1 || s.CanPrompt() != c.prompt || s.ColorEnabled() != c.color {
				t.Errorf("stdin tty %v, stdout tty %v, can prompt %v, colour %v; want %v %v %v %v",
					s.IsStdinTTY(), s.IsStdoutTTY(), s.CanPrompt(), s.ColorEnabled(), c.in1, c.out1, c.prompt, c.color)
			}
			if term := s.Terminal(); (term != nil) != c.prompt || term != nil && (term.In != c.in || term.Out != c.out) {
				t.Errorf("terminal %+v, want one on the streams: %v", term, c.prompt)
			}
		})
	}

	// Overridden: a buffer taken for a terminal, colour off.
	s := testIO(&bytes.Buffer{}, io.Discard)
	s.SetStdinTTY(true)
	s.SetStdoutTTY(true)
	s.SetColorEnabled(false)
	if !s.CanPrompt() || !s.IsStdoutTTY() || s.ColorEnabled() {
		t.Errorf("the test's decisions were not kept: prompt %v, stdout tty %v, colour %v", s.CanPrompt(), s.IsStdoutTTY(), s.ColorEnabled())
	}
	if s.Terminal() != nil {
		t.Error("a Terminal without terminal files")
	}
}
