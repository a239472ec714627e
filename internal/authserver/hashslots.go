package authserver

import (
	"context"
	"errors"
	"sync"
	"time"
)

// hashSlots bounds the bcrypt comparisons, nearly all of a login's cost:
// at most n at once in all, and at most perAddr at once for one client
// address; a check waits for its turn at most wait. A check from an
// address that has its share running waits even while other slots are
// free, so one address flooding the server with guesses (every one of them
// still checked, since a correct password is never refused for the
// address's failures) cannot hold every slot: approvers elsewhere get
// theirs at once. Logins from one shared address (a NAT, a bench) take
// turns instead of being refused; only beyond maxWaiting waiting at once
// from one address is a check refused without waiting.
type hashSlots struct {
	n, perAddr, maxWaiting int
	wait                   time.Duration

	mu      sync.Mutex
	running int                 // checks running in all
	byAddr  map[string]*addrUse // per address key; no entry when both counts are zero
	freed   chan struct{}       // closed, and replaced, whenever a check ends
}

type addrUse struct{ running, waiting int }

// Errors of hashSlots.acquire besides the context's.
var (
	errAddrBusy = errors.New("this client address has as many password checks waiting as it may")
	errNoSlot   = errors.New("no password check slot free in time")
)

// maxSlotWait bounds a check's wait for a bcrypt slot: with the name
// gate's 5 s at most, a login is answered well within the server's 10 s
// write timeout.
const maxSlotWait = 3 * time.Second

// maxWaitingPerAddr bounds the checks of one address waiting at once (each
// is a request held open): beyond it, 429 at once.
const maxWaitingPerAddr = 64

// hashSlotsFor returns the server's bounds on a machine of procs
// processors: 2×procs checks at once (at least 2), half of them from one
// address (at least 1), 3 s at most waiting for a turn.
func hashSlotsFor(procs int) (n, perAddr, maxWaiting int, wait time.Duration) {
	n = max(2, 2*procs)
	return n, max(1, n/2), maxWaitingPerAddr, maxSlotWait
}

func newHashSlots(n, perAddr, maxWaiting int, wait time.Duration) *hashSlots {
	return &hashSlots{n: n, perAddr: perAddr, maxWaiting: maxWaiting, wait: wait, byAddr: map[string]*addrUse{}, freed: make(chan struct{})}
}

// acquire waits for a slot for a check from addrKey and returns its
// release; or errAddrBusy at once, when maxWaiting checks of the address
// wait already; or errNoSlot after the wait; or the context's error.
func (h *hashSlots) acquire(ctx context.Context, addrKey string) (func(), error) {
	var timer *time.Timer
	waiting := false
	h.mu.Lock()
	defer h.mu.Unlock()
	use := h.byAddr[addrKey]
	if use == nil {
		use = &addrUse{}
		h.byAddr[addrKey] = use
	}
	defer func() {
		if waiting {
			use.waiting--
		}
		if use.running == 0 && use.waiting == 0 {
			delete(h.byAddr, addrKey)
		}
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if h.running < h.n && use.running < h.perAddr {
			h.running++
			use.running++
			return func() { h.release(addrKey) }, nil
		}
		if !waiting {
			if use.waiting >= h.maxWaiting {
				return nil, errAddrBusy
			}
			use.waiting++
			waiting = true
			timer = time.NewTimer(h.wait)
		}
		freed := h.freed
		h.mu.Unlock()
		select {
		case <-freed:
			h.mu.Lock()
		case <-timer.C:
			h.mu.Lock()
			return nil, errNoSlot
		case <-ctx.Done():
			h.mu.Lock()
			return nil, ctx.Err()
		}
	}
}

// release ends a check of addrKey and wakes the waiting ones, which look
// again whether their turn has come.
func (h *hashSlots) release(addrKey string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running--
	use := h.byAddr[addrKey]
	use.running--
	if use.running == 0 && use.waiting == 0 {
		delete(h.byAddr, addrKey)
	}
	close(h.freed)
	h.freed = make(chan struct{})
}
