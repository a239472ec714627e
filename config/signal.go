package config

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// NotifyContext is the mains' signal.NotifyContext for SIGINT and SIGTERM
// with one difference: once the first signal has cancelled the context
// and the program stops gracefully (a worker waits up to about 24 s for
// its tasks, the auth server 10 s for its requests), a second one ends
// the process at once, as a second Ctrl-C ends devstack, with status 128
// and the signal's number (130 for SIGINT, 143 for SIGTERM: what a shell
// reports of a process the signal killed, and devstack's statuses).
// Without it the second signal would be caught and ignored until the
// graceful stop was over. It exits rather than leave the signal its
// default action: a process that is PID 1 of its PID namespace (the
// compose images run the mains so, without an init) does not die of a
// signal it sends itself, and Go's runtime then exits 2, the status of
// bad input (ExitUsage).
//
// Once a signal cancelled the context, its cause (context.Cause) is an
// Interrupted naming the signal: a main whose command the signal cut
// short, rather than stopped gracefully, returns an error wrapping it, and
// ExitCode makes that 130 or 143.
func NotifyContext() (context.Context, context.CancelFunc) {
	ctx, cancelCause := context.WithCancelCause(context.Background())
	cancel := func() { cancelCause(nil) }
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancelCause(Interrupted{Signal: s})
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			os.Exit(Interrupted{Signal: s}.exitStatus())
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		signal.Stop(sigs)
		once.Do(func() { close(done) })
		cancel()
	}
}

// Interrupted is the cause of NotifyContext's context once a signal
// cancelled it.
type Interrupted struct{ Signal os.Signal }

func (e Interrupted) Error() string { return "interrupted by " + e.Signal.String() }

// exitStatus is 128 and the signal's number, as a shell reports a process
// the signal killed (130 for SIGINT, 143 for SIGTERM).
func (e Interrupted) exitStatus() int {
	if n, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 128 + int(syscall.SIGINT)
}
