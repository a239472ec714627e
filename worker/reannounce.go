package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/reannounce"
)

// DefaultReannounceEvery is the default of Config.ReannounceEvery. Each
// sweep lists the pending runs and reads the channel's newest
// reannounce.DefaultWindow messages; only runs whose request is out of
// view are queried, and only workflow ids with a request in view that is
// not resolved and not waiting are described (a run that ended without
// resolving it gets its approval-resolved then).
const DefaultReannounceEvery = 10 * time.Minute

// minReannounceEvery bounds HITL_REANNOUNCE_EVERY from below.
const minReannounceEvery = time.Minute

// resetWatchCapacity bounds the reset runs waiting for the keeper
// (reannounce.ResetWatch); more wait for its next sweep.
const resetWatchCapacity = 256

// startKeeper starts, when cfg asks for it, the keeper of pending requests
// in view, and returns the function that stops it and waits for it;
// resets, when not nil, brings it the runs made by a reset. It
// needs the history capability on the channel besides publish; the keeper
// asks Ably first, in its own goroutine (the worker does not wait for it):
// a key without it gets a warning and no keeper (the requests are still
// published once, and again at each revision, as before).
func startKeeper(ctx context.Context, cfg Config, c client.Client, pub *activities.AblyPublisher, resets *reannounce.ResetWatch, meter metric.Meter, logger *slog.Logger) (stop func(), err error) {
	if cfg.ReannounceEvery <= 0 {
		return func() {}, nil
	}
	capability, err := ablyconn.ChannelCapability(cfg.Channel, "history")
	if err != nil {
		return nil, err
	}
	hist, err := reannounce.NewAblyHistory(cfg.Ably, cfg.AgentClientID, cfg.Channel)
	if err != nil {
		return nil, err
	}
	k := &reannounce.Keeper{
		Pending:       reannounce.NewTemporal(c, cfg.Temporal.Namespace),
		History:       hist,
		Publisher:     pub,
		Channel:       cfg.Channel,
		AgentClientID: cfg.AgentClientID,
		IDKey:         cfg.Ably.MessageIDKey(),
		Log:           logger,
		Meter:         meter,
	}
	if resets != nil {
		k.Resets = resets.Runs()
	}
	kctx, stopKeeper := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cctx, cancel := context.WithTimeout(kctx, 15*time.Second)
		err := cfg.Ably.CheckKey(cctx, cfg.AgentClientID, capability)
		cancel()
		switch {
		case kctx.Err() != nil:
			return
		case errors.Is(err, ablyconn.ErrKeyRefused):
			logger.Warn("pending approval requests are not kept in approvers' view: the Ably key may not read the channel's history ("+config.EnvReannounceEvery+"=0 turns this off)",
				"channel", cfg.Channel, "err", err)
			return
		case err != nil:
			logger.Warn("could not check the Ably key's history capability; keeping pending requests in view anyway", "err", err)
		default:
			logger.Debug("keeping pending approval requests in view", "every", cfg.ReannounceEvery, "channel", cfg.Channel)
		}
		k.Run(kctx, cfg.ReannounceEvery)
	}()
	return func() { stopKeeper(); <-done }, nil
}
