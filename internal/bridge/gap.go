package bridge

import (
	"context"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
)

// gapMargin is read before the publish time of the first live response
// dropped for want of room, for the order in which Ably stamps and
// delivers messages.
const gapMargin = 5 * time.Second

// noteGap records that live response m was dropped because the live
// buffer was full (not for its publisher's share: a flood's own messages
// wait for the catch-up after the next reattach or restart): replayGap
// then reads the channel's history from its publish time. It is safe for
// concurrent use.
func (b *runner) noteGap(m *ably.Message) {
	at := time.Now()
	if m.Timestamp > 0 {
		at = time.UnixMilli(m.Timestamp)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gapFrom.IsZero() || at.Before(b.gapFrom) {
		b.gapFrom = at
	}
}

// replayGap forwards the live responses dropped for want of room, once the
// bridge has caught up (nothing waits in the live buffer or the shards,
// so that it does not forward a response a shard is about to): it reads the channel's history
// from the first one's publish time to the newest message, and handles it
// as a catch-up does (the responses this process handled already are
// passed over; the workflow deduplicates by Ably message id). Without it a
// dropped decision, which its approver saw as sent, waited for the next
// reattach or restart, and its call could expire meanwhile. A read that
// fails is tried again at the next call. It runs on the handling loop.
func (b *runner) replayGap(ctx context.Context) {
	b.mu.Lock()
	from := b.gapFrom
	if from.IsZero() || !b.caughtUp() {
		b.mu.Unlock()
		return
	}
	b.gapFrom = time.Time{}
	b.mu.Unlock()
	keep := newCatchUpFilter(b.cfg.AgentClientID, maxCatchUpPerApprover)
	msgs, complete, err := ablymsg.HistorySince(ctx, b.ch, ablymsg.HistoryRange{
		Since: from.Add(-gapMargin), PageSize: b.cfg.HistoryPageSize, MaxMessages: b.cfg.MaxCatchUp, Keep: keep.keep,
	})
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("replay of dropped live approval-responses failed; trying again", "err", err, "since", from)
			b.noteGap(&ably.Message{Timestamp: from.UnixMilli()})
		}
		return
	}
	if !complete {
		b.log.Error("replay of dropped live approval-responses cut: more messages since the first dropped one than the bridge reads at once",
			"since", from, "kept", len(msgs), "max", b.cfg.MaxCatchUp)
	}
	for _, who := range keep.capped() {
		b.log.Error("replay of dropped live approval-responses: an approver published more approval-responses since the first dropped one than the bridge replays per approver; their oldest ones are not replayed",
			"clientId", who, "max", maxCatchUpPerApprover)
	}
	n := b.replayMessages(ctx, msgs)
	b.log.Info("dropped live approval-responses replayed from history", "responses", n, "messages", len(msgs), "since", from)
}

// caughtUp reports whether no live response waits in the live buffer or
// for a shard.
func (b *runner) caughtUp() bool {
	if len(b.live.ch) > 0 {
		return false
	}
	for _, s := range b.shards {
		if len(s) > 0 {
			return false
		}
	}
	return true
}
