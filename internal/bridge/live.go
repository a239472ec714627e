package bridge

import (
	"sync"

	"github.com/ably/ably-go/ably"
)

// liveBuffer is how many live approval-responses wait for the handling
// loop before the subscription callback starts dropping them (see
// runner.enqueue).
const liveBuffer = 1024

// liveQueue holds the live approval-responses between ably-go's
// subscription callback, which must never block, and the handling loop.
// It is shared fairly: once it is half full, a publisher clientId that has
// at least half of all that wait (so at least a quarter of it) gets no
// more in, so that one approver's flood drops that approver's
// messages, not another's decision, while another approver's burst (one
// person approving 200 requests from a list) still gets in (the flood's
// messages need not even be valid: they are sorted out after the queue).
// It is safe for concurrent use.
type liveQueue struct {
	ch chan *ably.Message

	mu sync.Mutex
	by map[string]int // messages waiting in ch, by publisher clientId
}

func newLiveQueue() *liveQueue {
	return &liveQueue{ch: make(chan *ably.Message, liveBuffer), by: map[string]int{}}
}

// Why offer refused a message.
const (
	liveFull   = "full"  // the queue was full
	liveShared = "share" // the queue was half full and m's publisher had half of what waited
)

// offer queues m without blocking. It returns "" when m was queued, or why
// it was not (liveFull, liveShared).
func (q *liveQueue) offer(m *ably.Message) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	waiting := len(q.ch)
	switch {
	case waiting >= cap(q.ch):
		return liveFull
	case 2*waiting >= cap(q.ch) && 2*q.by[m.ClientID] >= waiting:
		return liveShared
	}
	select {
	case q.ch <- m:
		q.by[m.ClientID]++
		return ""
	default:
		return liveFull
	}
}

// taken records that the handling loop took m out of q.ch.
func (q *liveQueue) taken(m *ably.Message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.by[m.ClientID]--; q.by[m.ClientID] <= 0 {
		delete(q.by, m.ClientID)
	}
}
