package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/activities"
)

// DefaultLedgerKeep is the default of Config.LedgerKeep: the longest
// approval wait and a day. A result younger than this is never touched;
// an older one is removed only once Temporal no longer knows its run (the
// namespace's retention after the run closed).
const DefaultLedgerKeep = 31 * 24 * time.Hour

// minLedgerKeep bounds HITL_LEDGER_KEEP from below.
const minLedgerKeep = 24 * time.Hour

// How often, and how much, the pruner works: a sweep examines at most
// pruneBatch old results, one Temporal call each (two or more only for a
// workflow id with ':'), and the next sweep goes on from there.
const (
	pruneEvery = 10 * time.Minute
	pruneBatch = 500
)

// pruner removes, every pruneEvery, the results of tool calls older than
// keep whose runs Temporal no longer knows: no retry, replay or reset can
// ask for them again. Workers sharing BLOG_DIR may all run it.
type pruner struct {
	blog  *activities.Blog
	known activities.RunKnown
	keep  time.Duration
	now   func() time.Time
	log   *slog.Logger
}

// startPruner starts, when cfg asks for it (HITL_LEDGER_KEEP above 0; 0
// keeps the results for ever), the pruner of old tool results, sweeping
// every every, and returns the function that stops it and waits for it.
func startPruner(ctx context.Context, cfg Config, blog *activities.Blog, known activities.RunKnown, every time.Duration, logger *slog.Logger) (stop func()) {
	if cfg.LedgerKeep <= 0 {
		return func() {}
	}
	pctx, cancel := context.WithCancel(ctx)
	p := pruner{blog: blog, known: known, keep: cfg.LedgerKeep, now: time.Now, log: logger}
	var wg sync.WaitGroup
	wg.Go(func() { p.run(pctx, every) })
	return func() { cancel(); wg.Wait() }
}

// run sweeps until ctx is done.
func (p pruner) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	// Each process starts somewhere else in the (hash) order of the
	// entries, so that workers sharing BLOG_DIR, and a worker restarted
	// often, do not all go over the same first entries.
	cursor := fmt.Sprintf("%02x", rand.N(256))
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cursor = p.sweep(ctx, cursor)
	}
}

// sweep examines one batch from cursor and returns the next cursor.
func (p pruner) sweep(ctx context.Context, cursor string) string {
	res, err := p.blog.Prune(ctx, p.now().Add(-p.keep), cursor, pruneBatch, p.known)
	if n := len(res.Removed); n > 0 {
		p.log.Info("tool results pruned", "removed", n, "olderThan", p.keep)
	}
	if err != nil && ctx.Err() == nil {
		// Temporal out of reach: nothing was removed for the entries it
		// was asked about; the next sweep asks again.
		p.log.Warn("tool results prune stopped", "err", err)
		return res.Next
	}
	if res.Skipped > 0 {
		// Kept, and asked about again on the next pass.
		p.log.Warn("tool results prune: some could not be checked", "skipped", res.Skipped, "last", res.LastSkip)
	}
	return res.Next
}

// temporalRunKnown asks Temporal whether it knows a workflow id: not
// found means its runs closed and outlived the namespace's retention (or
// never existed); any other error is no answer.
func temporalRunKnown(c client.Client) activities.RunKnown {
	return func(ctx context.Context, workflowID string) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
		var nf *serviceerror.NotFound
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &nf):
			return false, nil
		}
		return false, err
	}
}
