package ablymsg

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ably/ably-go/ably"
)

// pageTimeout bounds the request of one history page. Each page has its
// own, so a long history is read whole as long as every page comes back.
const pageTimeout = 30 * time.Second

// HistoryRange says how far back HistoryUntilAttach and HistorySince read.
type HistoryRange struct {
	// Since, when set, is the oldest publish time to read; messages
	// published before it are not read.
	Since time.Time
	// PageSize is the page limit of each history request (1 to 1000).
	PageSize int
	// MaxMessages bounds the messages read, newest first, kept or not.
	MaxMessages int
	// Keep, when set, says which messages to return. It is asked once per
	// message, newest first (oldest first with Forwards), as each page
	// arrives; the others are dropped at once, so they hold no memory
	// however many there are.
	Keep func(*ably.Message) bool
	// Forwards reads oldest first, from Since on (HistorySince only):
	// MaxMessages then cuts the newest off, not the oldest.
	Forwards bool
}

// HistoryUntilAttach returns the messages published before the channel's
// attach point and within r that r.Keep keeps, oldest first, and whether
// it read all of them (false when MaxMessages cut the read). The channel
// must be attached.
func HistoryUntilAttach(ctx context.Context, ch *ably.RealtimeChannel, r HistoryRange) ([]*ably.Message, bool, error) {
	if r.Forwards {
		return nil, false, fmt.Errorf("history until attach reads newest first only")
	}
	req, err := ch.HistoryUntilAttach(r.options()...)
	if err != nil {
		return nil, false, fmt.Errorf("history: %w", err)
	}
	return r.read(ctx, *req)
}

// HistorySince returns the messages within r that r.Keep keeps, up to the
// newest, oldest first, and whether it read all of them (false when
// MaxMessages cut the read).
func HistorySince(ctx context.Context, ch *ably.RealtimeChannel, r HistoryRange) ([]*ably.Message, bool, error) {
	return r.read(ctx, ch.History(r.options()...))
}

// options are the history request's: newest first (oldest first with
// Forwards), pages of r.PageSize, back to (from) r.Since.
func (r HistoryRange) options() []ably.HistoryOption {
	dir := ably.Backwards
	if r.Forwards {
		dir = ably.Forwards
	}
	opts := []ably.HistoryOption{ably.HistoryWithLimit(r.PageSize), ably.HistoryWithDirection(dir)}
	if !r.Since.IsZero() {
		opts = append(opts, ably.HistoryWithStart(r.Since))
	}
	return opts
}

// read reads req's pages within r, newest first, and returns what r.Keep
// keeps, oldest first, and whether it read all of them.
func (r HistoryRange) read(ctx context.Context, req ably.HistoryRequest) ([]*ably.Message, bool, error) {
	var out []*ably.Message
	read := 0
	complete := true
	res, err := EachPage(ctx, req, func(items []*ably.Message) bool {
		if n := r.MaxMessages - read; len(items) > n {
			items = items[:n]
			complete = false
		}
		read += len(items)
		for _, m := range items {
			if r.Keep == nil || r.Keep(m) {
				out = append(out, m)
			}
		}
		return read < r.MaxMessages
	})
	if err != nil {
		return nil, false, err
	}
	if read >= r.MaxMessages && complete {
		// Read exactly MaxMessages: whole only if no page is left.
		pctx, cancel := context.WithTimeout(ctx, pageTimeout)
		complete = !res.HasNext(pctx)
		cancel()
	}
	if !r.Forwards {
		slices.Reverse(out)
	}
	return out, complete, nil
}

// EachPage requests req's pages one after another and calls page with each
// page's messages until it returns false or the pages run out. Each page
// has its own pageTimeout, so a long history is read whole as long as
// every page comes back. It returns the paginated result, whose HasNext
// says whether pages were left.
func EachPage(ctx context.Context, req ably.HistoryRequest, page func([]*ably.Message) bool) (*ably.MessagesPaginatedResult, error) {
	// Pages sends the first request; the first Next reads its body, so
	// both run under the first page's timeout. Each later Next requests
	// and reads a page under its own.
	pctx, cancel := context.WithTimeout(ctx, pageTimeout)
	res, err := req.Pages(pctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("history: %w", err)
	}
	for first := true; ; first = false {
		if !first {
			pctx, cancel = context.WithTimeout(ctx, pageTimeout)
		}
		more := res.Next(pctx)
		cancel()
		if !more || !page(res.Items()) {
			break
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return res, nil
}
