package render

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// pollMS is how long one wait for input lasts before the reader looks
// again at whether it should still read.
const pollMS = 100

// The terminal's file is only ever touched through SyscallConn: f.Fd()
// would switch it to blocking mode for good.

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	ok := false
	_ = control(f, func(fd int) error { ok = term.IsTerminal(fd); return nil })
	return ok
}

func control(f *os.File, fn func(fd int) error) error {
	if f == nil {
		return errors.New("no terminal")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// rawInput switches f's terminal to reading key by key without echo, and
// returns what puts the mode back as it was.
//
// It is term.MakeRaw without two of its changes. Output processing (OPOST)
// stays on: the live display goes on writing lines above the question
// while it is open, and each "\n" must still start its line at the
// left. Signals (ISIG) stay on: Ctrl-C is the terminal's, and interrupts
// the run exactly as when no question is open (SIGINT to the process
// group, the first one held back during activation).
func rawInput(f *os.File) (restore func(), err error) {
	var saved *unix.Termios
	err = control(f, func(fd int) error {
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			return err
		}
		old := *t
		saved = &old
		t.Lflag &^= unix.ICANON | unix.ECHO | unix.ECHONL | unix.IEXTEN
		t.Iflag &^= unix.IXON // Ctrl-S would freeze the display
		t.Cc[unix.VMIN] = 1
		t.Cc[unix.VTIME] = 0
		return unix.IoctlSetTermios(fd, unix.TCSETS, t)
	})
	if err != nil {
		return nil, err
	}
	return func() {
		_ = control(f, func(fd int) error { return unix.IoctlSetTermios(fd, unix.TCSETS, saved) })
	}, nil
}

// flushInput discards what was typed and not read yet: an answer typed
// before its question was on screen.
func flushInput(f *os.File) {
	_ = control(f, func(fd int) error { return unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH) })
}

// waitReadable waits up to ms milliseconds for f to have input (or to
// end: a hang-up counts as readable, and the read then says so).
func waitReadable(f *os.File, ms int) (bool, error) {
	ready := false
	err := control(f, func(fd int) error {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		ready = n > 0
		return nil
	})
	return ready, err
}
