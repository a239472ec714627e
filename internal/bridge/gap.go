package bridge

import (
	"context"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablymsg"
)

// gapMargin is read before the publish time of the first live response
// dropped for want of room, for the order in which Ably stamps and
// delivers messages.
const gapMargin = 5 * time.Second

// gapMaxAge bounds how far back a replay starts: a publish time older than
// this (a clock far off) counts as this old.
const gapMaxAge = 10 * time.Minute

// DefaultGapReadMax is Config.GapReadMax's default.
const DefaultGapReadMax = 10 * liveBuffer

// noteGap records that a live response published at ms (Ably's
// timestamp, milliseconds; 0 for now) was dropped because the live buffer
// was full (not for its publisher's share: a flood's own messages wait for
// the catch-up after the next reattach or restart): replayGap then reads
// the channel's history from that time. It is safe for concurrent use.
func (b *runner) noteGap(ms int64) {
	now := time.Now()
	at := now
	if ms > 0 {
		at = time.UnixMilli(ms)
	}
	if oldest := now.Add(-gapMaxAge); at.Before(oldest) {
		at = oldest
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gapFrom.IsZero() || at.Before(b.gapFrom) {
		b.gapFrom = at
	}
}

// replayGap forwards the live responses dropped for want of room, once the
// bridge has caught up (nothing waits in the live buffer or for a shard,
// and no shard is handling one, so that it does not forward a response a
// shard is about to): it reads the channel's history oldest first from
// the first one's publish time, at most Config.GapReadMax messages (the next call
// goes on from the last one read), and handles it as a catch-up does (the
// responses this process handled already are passed over; the workflow
// deduplicates by Ably message id). Without it a dropped decision, which
// its approver saw as sent, waited for the next reattach or restart, and
// its call could expire meanwhile. A replayed response comes after the
// same approver's later ones that were not dropped: of one approver's
// decisions of one call, the workflow then counts the later first. A read
// that fails is tried again at the next call. It runs on the handling
// loop.
func (b *runner) replayGap(ctx context.Context) {
	b.mu.Lock()
	from := b.gapFrom
	if from.IsZero() || !b.caughtUp() {
		b.mu.Unlock()
		return
	}
	b.gapFrom = time.Time{}
	b.mu.Unlock()
	filter := newCatchUpFilter(b.cfg.AgentClientID, maxCatchUpPerApprover, false)
	var last int64 // publish time of the last message read
	keep := func(m *ably.Message) bool {
		last = m.Timestamp
		return filter.collect(m)
	}
	_, complete, err := ablymsg.HistorySince(ctx, b.ch, ablymsg.HistoryRange{
		Since: from.Add(-gapMargin), PageSize: b.cfg.HistoryPageSize, MaxMessages: b.cfg.GapReadMax, Keep: keep, Forwards: true,
	})
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("replay of dropped live approval-responses failed; trying again", "err", ablyconn.RedactError(err), "since", from)
			b.noteGap(from.UnixMilli())
		}
		return
	}
	if !complete && last > 0 {
		b.log.Warn("replay of dropped live approval-responses goes on at the next pass: more messages since the first dropped one than one pass reads",
			"since", from, "max", b.cfg.GapReadMax)
		// The next pass reads from the last message read on, not
		// gapMargin before it: with more than a pass's worth of messages
		// in gapMargin it would read the same ones again.
		b.noteGap(last + gapMargin.Milliseconds())
	}
	// Read oldest first, the filter kept each approver's oldest.
	b.logCapped(filter, "replay of dropped live approval-responses: an approver published more approval-responses since the first dropped one than the bridge replays per approver; their newest ones are not replayed")
	msgs := filter.messages()
	n := b.replayMessages(ctx, msgs)
	b.log.Info("dropped live approval-responses replayed from history", "responses", n, "messages", len(msgs), "since", from)
}

// caughtUp reports whether no live response waits in the live buffer or
// for a shard, and no shard is handling one (inShards counts both).
func (b *runner) caughtUp() bool {
	return len(b.live.ch) == 0 && b.inShards.Load() == 0
}
