package config

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// NotifyContext is the mains' signal.NotifyContext for SIGINT and SIGTERM
// with one difference: once the first signal has cancelled the context
// and the program stops gracefully (a worker waits up to about 24 s for
// its tasks, the auth server 10 s for its requests), a second one ends
// the process at once, by the signal's default action, as a second Ctrl-C
// ends devstack. Without it the second signal would be caught and
// ignored until the graceful stop was over. The handler is gone before
// the context is cancelled, so a second signal sent once the stop is
// seen under way always has the default action.
func NotifyContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
		}
		signal.Stop(sigs)
		cancel()
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel()
	}
}
