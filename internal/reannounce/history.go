package reannounce

import (
	"context"
	"fmt"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablymsg"
)

// historyPage is the page size of a history read.
const historyPage = 100

// AblyHistory reads one channel's history over ably-go's REST client, as
// clientID, with a JWT it signs itself whose capability is history on that
// channel only.
type AblyHistory struct {
	rest    *ably.REST
	channel string
}

// NewAblyHistory returns a history reader of channel signing with cfg's
// API key.
func NewAblyHistory(cfg ablyconn.Config, clientID, channel string, extra ...ably.ClientOption) (*AblyHistory, error) {
	capability, err := ablyconn.ChannelCapability(channel, "history")
	if err != nil {
		return nil, err
	}
	opts, err := cfg.TrustedOptions(clientID, capability)
	if err != nil {
		return nil, fmt.Errorf("ably history: %w", err)
	}
	opts = append(append([]ably.ClientOption{ably.WithLogLevel(ably.LogNone)}, opts...), extra...)
	rest, err := ably.NewREST(opts...)
	if err != nil {
		return nil, fmt.Errorf("ably history: %w", err)
	}
	return &AblyHistory{rest: rest, channel: channel}, nil
}

// Newest calls visit with the channel's messages published since since,
// newest first, at most max of them; visit returning false ends the read.
func (h *AblyHistory) Newest(ctx context.Context, since time.Time, max int, visit func(*ably.Message) bool) error {
	req := h.rest.Channels.Get(h.channel).History(
		ably.HistoryWithLimit(min(historyPage, max)),
		ably.HistoryWithDirection(ably.Backwards),
		ably.HistoryWithStart(since),
	)
	read := 0
	_, err := ablymsg.EachPage(ctx, req, func(items []*ably.Message) bool {
		for _, m := range items {
			if read == max || !visit(m) {
				return false
			}
			read++
		}
		return read < max
	})
	return err
}
