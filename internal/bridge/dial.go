package bridge

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// DialTemporal connects to Temporal, retrying with capped exponential
// backoff until it succeeds or ctx is done. opts must be complete (see
// config.TemporalOptions, which fills the defaults). A nil logger uses
// slog.Default.
func DialTemporal(ctx context.Context, opts client.Options, log *slog.Logger, retry Backoff) (client.Client, error) {
	if log == nil {
		log = slog.Default()
	}
	if opts.Logger == nil {
		opts.Logger = tlog.NewStructuredLogger(log.With("component", "temporal"))
	}
	for attempt := 0; ; attempt++ {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("temporal at %s: %w", opts.HostPort, err)
		}
		d := retry.Delay(attempt)
		log.Warn("temporal unreachable, retrying", "address", opts.HostPort, "namespace", opts.Namespace, "err", err, "in", d)
		if err := sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("temporal at %s: %w", opts.HostPort, err)
		}
	}
}
