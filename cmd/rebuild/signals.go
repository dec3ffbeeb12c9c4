package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// All of rebuild's signal handling is here.
//
// A run is stopped by SIGINT (Ctrl-C), SIGTERM (kill, a shutdown) and
// SIGHUP (the terminal or the SSH session went away — the most common way
// a rebuild is cut off). All three reach the scheduler the same way, as an
// interrupt: during activation the first is held back with a message and
// the second goes through; at any other time the first stops the run.
// The run does not need the terminal to finish: the display drops its
// output once it is gone (render's display), and the tasks write to their
// logs, not to it.

// catchBrokenPipe makes a write to a pipe nobody reads any more (`rebuild
// | tee log`, and the same Ctrl-C killed tee) fail with EPIPE instead of
// killing rebuild with SIGPIPE — which would leave activation half done,
// and its switch-to-configuration dying on its next write into our pipe.
// Notify rather than Ignore: an ignored SIGPIPE would be inherited by
// every command rebuild runs, and `yes | head` in a user task would then
// print "Broken pipe" errors instead of ending quietly. Once for the
// process, from Main.
func catchBrokenPipe() {
	// Nothing reads the channel: the signal only has to be caught. Go
	// drops what does not fit, it never blocks.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}

// onStopSignals calls interrupt for every SIGINT, SIGTERM and SIGHUP until
// the returned function is called (which waits for the goroutine).
func onStopSignals(interrupt func(os.Signal)) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case s := <-sigs:
				interrupt(s)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		<-finished
	}
}

// holdSignals is onStopSignals for a command that must not be cut in half
// (rollback switching the system): the first signal only calls notice,
// the second cancels the returned context.
func holdSignals(parent context.Context, notice func(os.Signal)) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	n := 0
	stop := onStopSignals(func(s os.Signal) {
		n++
		if n == 1 {
			notice(s)
			return
		}
		cancel()
	})
	return ctx, func() { stop(); cancel() }
}
