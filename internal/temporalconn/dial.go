// Package temporalconn owns how the project's long-running programs (the
// worker and the bridge) reach Temporal at start: they wait for a server
// that is not up yet, as they would for one that restarts while they run,
// and give up at once on an answer that waiting cannot change (credentials
// refused, a request the server rejects).
package temporalconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/grpc/codes"
)

// Delays between attempts: the first after firstDelay, then doubling up to
// maxDelay.
const (
	firstDelay = 200 * time.Millisecond
	maxDelay   = 10 * time.Second
)

// ErrRefused marks a dial that the server answered with a refusal that
// retrying cannot mend: the credentials (API key, client certificate) or
// the request were rejected.
var ErrRefused = errors.New("refused")

// Dial connects to Temporal, retrying with capped exponential backoff while
// the server is unreachable or unavailable, until it answers or ctx is
// done. A refusal (unauthenticated, permission denied, invalid argument)
// is returned at once, wrapping ErrRefused. opts must be complete (see
// config.TemporalOptions, which fills the defaults); a nil opts.Logger
// logs to log, and a nil log to slog.Default.
func Dial(ctx context.Context, opts client.Options, log *slog.Logger) (client.Client, error) {
	if log == nil {
		log = slog.Default()
	}
	if opts.Logger == nil {
		opts.Logger = tlog.NewStructuredLogger(log.With("component", "temporal"))
	}
	for attempt := 0; ; attempt++ {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			if attempt > 0 {
				log.Info("temporal reachable", "address", opts.HostPort, "namespace", opts.Namespace, "attempts", attempt+1)
			}
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("temporal at %s: %w", opts.HostPort, err)
		}
		if refused(err) {
			return nil, fmt.Errorf("temporal at %s: %w: %w", opts.HostPort, ErrRefused, err)
		}
		d := delay(attempt)
		log.Warn("temporal unreachable, retrying", "address", opts.HostPort, "namespace", opts.Namespace, "err", err, "in", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("temporal at %s: %w (last error: %w)", opts.HostPort, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// refused reports whether err is the server's refusal rather than its
// absence: waiting for it would only repeat the same answer.
func refused(err error) bool {
	switch serviceerror.ToStatus(err).Code() {
	case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument:
		return true
	}
	return false
}

// delay is the wait before retry number n (0-based).
func delay(n int) time.Duration {
	d := firstDelay
	for i := 0; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}
