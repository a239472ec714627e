package bridge

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ably/ably-go/ably"
)

// A red-team probe: erin (an editor) published 32,000 approval-responses
// in half a second and then pat approved; the live buffer was full of
// erin's messages, pat's decision was dropped, nothing replayed it (no
// reattach followed) and the call expired. Now, once the buffer is half
// full, an approver with half of all that wait gets no more in: erin's flood drops erin's messages, and
// pat's burst waits its turn.
func TestEnqueueFloodDropsTheFloodersMessagesOnly(t *testing.T) {
	h := &Handler{}
	reader := meterOn(h)
	b, logs := testRunner(t, h, 10)
	const flood = 2 * liveBuffer
	for i := range flood {
		b.enqueue(msgFrom("erin", i))
	}
	// pat approves 200 requests from a list in one burst, during erin's
	// flood: every one gets in.
	pat := msgFrom("pat", 0)
	b.enqueue(pat)
	for i := 1; i < 200; i++ {
		b.enqueue(msgFrom("pat", i))
	}
	// Other approvers, one decision each, fill the rest of the buffer.
	others := 0
	for i := 0; len(b.live.ch) < liveBuffer; i++ {
		b.enqueue(msgFrom(fmt.Sprint("approver-", i), 0))
		others++
	}
	b.enqueue(msgFrom("late", 0)) // the buffer is full now: dropped

	queued := map[string]int{}
	var gotPat bool
	for len(b.live.ch) > 0 {
		m := <-b.live.ch
		b.live.taken(m)
		queued[m.ClientID]++
		gotPat = gotPat || m == pat
	}
	if !gotPat || queued["pat"] != 200 {
		t.Fatalf("%d of pat's 200 decisions queued behind erin's flood (%d of erin's)", queued["pat"], queued["erin"])
	}
	if want := liveBuffer / 2; queued["erin"] != want {
		t.Errorf("%d of erin's messages queued, want %d (up to half the buffer, then her share is spent)", queued["erin"], want)
	}
	if queued["late"] != 0 {
		t.Errorf("a message was queued in a full buffer")
	}
	if got, want := strings.Count(logs(), "holds its share of the live buffer"), flood-liveBuffer/2; got != want {
		t.Errorf("%d share drops logged, want %d", got, want)
	}
	if got := strings.Count(logs(), `"bridge busy: live approval-response dropped`); got != 1 {
		t.Errorf("%d full-buffer drops logged, want 1 (late's)", got)
	}
	wantCounted(t, reader, MetricDropped, DropReasonBufferShareFull, flood-liveBuffer/2)
	wantCounted(t, reader, MetricDropped, DropReasonBufferFull, 1)
	if len(b.live.by) != 0 {
		t.Errorf("counts left after the queue drained: %v", b.live.by)
	}
}

// TestLiveQueueOffer: the rules of the live buffer, message by message.
func TestLiveQueueOffer(t *testing.T) {
	from := func(who string) *ably.Message { return &ably.Message{ClientID: who} }
	tests := []struct {
		name    string
		fill    map[string]int // messages waiting, by publisher
		offer   string
		wantWhy string
	}{
		{name: "an empty buffer takes anyone's", offer: "pat", wantWhy: ""},
		{name: "under half full, one approver may fill it", fill: map[string]int{"erin": liveBuffer/2 - 1}, offer: "erin", wantWhy: ""},
		{name: "half full, all of it one approver's: refused", fill: map[string]int{"erin": liveBuffer / 2}, offer: "erin", wantWhy: liveShared},
		{name: "half full, another approver is taken", fill: map[string]int{"erin": liveBuffer / 2}, offer: "pat", wantWhy: ""},
		{name: "half full, less than half of what waits: taken (a burst beside a flood)", fill: map[string]int{"erin": liveBuffer/2 - 212, "pat": 212}, offer: "pat", wantWhy: ""},
		{name: "half full, one less than half of what waits: taken", fill: map[string]int{"erin": liveBuffer/4 + 1, "pat": liveBuffer/4 - 1}, offer: "pat", wantWhy: ""},
		{name: "half full, exactly half of what waits: refused", fill: map[string]int{"erin": liveBuffer / 4, "pat": liveBuffer / 4}, offer: "pat", wantWhy: liveShared},
		{name: "half full, more than half of what waits: refused", fill: map[string]int{"erin": liveBuffer/4 - 1, "pat": liveBuffer/4 + 1}, offer: "pat", wantWhy: liveShared},
		{name: "full, anyone is refused", fill: map[string]int{"erin": liveBuffer / 2, "pat": liveBuffer / 2}, offer: "ada", wantWhy: liveFull},
		// Full is full, whoever fills it: the drop is then replayed from
		// history (replayGap), which a share drop is not.
		{name: "full, all of it the offerer's: refused as full", fill: map[string]int{"erin": liveBuffer}, offer: "erin", wantWhy: liveFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newLiveQueue()
			for who, n := range tt.fill {
				for range n {
					q.ch <- from(who)
					q.by[who]++
				}
			}
			if why := q.offer(from(tt.offer)); why != tt.wantWhy {
				t.Fatalf("offer(%s) = %q, want %q", tt.offer, why, tt.wantWhy)
			}
		})
	}
}
