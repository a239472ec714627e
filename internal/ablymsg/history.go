package ablymsg

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ably/ably-go/ably"
)

// historyTimeout bounds one history read.
const historyTimeout = 30 * time.Second

// HistoryUntilAttach returns up to pages*pageSize messages published
// before the channel's attach point, oldest first. The channel must be
// attached.
func HistoryUntilAttach(ctx context.Context, ch *ably.RealtimeChannel, pages, pageSize int) ([]*ably.Message, error) {
	req, err := ch.HistoryUntilAttach(ably.HistoryWithLimit(pageSize), ably.HistoryWithDirection(ably.Backwards))
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	hctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	res, err := req.Pages(hctx)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	var out []*ably.Message
	for i := 0; i < pages && res.Next(hctx); i++ {
		out = append(out, res.Items()...)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}
