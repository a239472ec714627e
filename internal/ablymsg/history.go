package ablymsg

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ably/ably-go/ably"
)

// historyTimeout bounds one history read, all pages together.
const historyTimeout = 2 * time.Minute

// HistoryRange says how far back HistoryUntilAttach reads.
type HistoryRange struct {
	// Since, when set, is the oldest publish time to read; messages
	// published before it are not read.
	Since time.Time
	// PageSize is the page limit of each history request (1 to 1000).
	PageSize int
	// MaxMessages bounds the messages read, newest first.
	MaxMessages int
}

// HistoryUntilAttach returns the messages published before the channel's
// attach point and within r, oldest first, and whether it read all of them
// (false when MaxMessages cut the read). The channel must be attached.
func HistoryUntilAttach(ctx context.Context, ch *ably.RealtimeChannel, r HistoryRange) ([]*ably.Message, bool, error) {
	opts := []ably.HistoryOption{ably.HistoryWithLimit(r.PageSize), ably.HistoryWithDirection(ably.Backwards)}
	if !r.Since.IsZero() {
		opts = append(opts, ably.HistoryWithStart(r.Since))
	}
	req, err := ch.HistoryUntilAttach(opts...)
	if err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	hctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	res, err := req.Pages(hctx)
	if err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	var out []*ably.Message
	complete := true
	for res.Next(hctx) {
		out = append(out, res.Items()...)
		if len(out) >= r.MaxMessages {
			complete = !res.HasNext(hctx)
			out = out[:min(len(out), r.MaxMessages)]
			break
		}
	}
	if err := res.Err(); err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	slices.Reverse(out)
	return out, complete, nil
}
