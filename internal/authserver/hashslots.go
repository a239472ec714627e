package authserver

import (
	"context"
	"errors"
	"sync"
	"time"
)

// hashSlots bounds the bcrypt comparisons, nearly all of a login's cost:
// at most cap(slots) at once in all, at most perAddr at once (running or
// waiting for a slot) per client address, and none that waits longer than
// wait for its slot. Without the per-address bound one address flooding
// the server with guesses (every one of them answered 429, but each still
// checked, since a correct password is never refused for the address's
// failures) held every slot, and an approver's login elsewhere queued past
// the server's write timeout.
type hashSlots struct {
	slots   chan struct{}
	perAddr int
	wait    time.Duration

	mu     sync.Mutex
	byAddr map[string]int // checks running or waiting, per address key; no zero entries
}

// Errors of hashSlots.acquire besides the context's.
var (
	errAddrBusy = errors.New("this client address has as many password checks under way as it may")
	errNoSlot   = errors.New("no password check slot free in time")
)

// maxSlotWait bounds a check's wait for a bcrypt slot: with the name
// gate's 5 s at most, a login is answered well within the server's 10 s
// write timeout.
const maxSlotWait = 3 * time.Second

// hashSlotsFor returns the server's bounds on a machine of procs
// processors: 2×procs checks at once (at least 2), half of them from one
// address (at least 1), 3 s at most waiting for a slot.
func hashSlotsFor(procs int) (n, perAddr int, wait time.Duration) {
	n = max(2, 2*procs)
	return n, max(1, n/2), maxSlotWait
}

func newHashSlots(n, perAddr int, wait time.Duration) *hashSlots {
	return &hashSlots{slots: make(chan struct{}, n), perAddr: perAddr, wait: wait, byAddr: map[string]int{}}
}

// acquire waits for a slot for a check from addrKey and returns its
// release, or errAddrBusy at once, or errNoSlot after the wait, or the
// context's error.
func (h *hashSlots) acquire(ctx context.Context, addrKey string) (func(), error) {
	h.mu.Lock()
	if h.byAddr[addrKey] >= h.perAddr {
		h.mu.Unlock()
		return nil, errAddrBusy
	}
	h.byAddr[addrKey]++
	h.mu.Unlock()
	leave := func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.byAddr[addrKey]--; h.byAddr[addrKey] <= 0 {
			delete(h.byAddr, addrKey)
		}
	}
	timer := time.NewTimer(h.wait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots; leave() }, nil
	case <-timer.C:
		leave()
		return nil, errNoSlot
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}
