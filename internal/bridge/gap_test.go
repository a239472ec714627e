package bridge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// A live response dropped because the bridge's buffer was full was
// replayed only by the catch-up after the next reattach or restart: its
// approver had seen "Decision sent", and the call could expire first. Now
// the bridge reads the channel's history from the first dropped one once
// it has caught up. Here Temporal holds every signal while 20 approvers
// publish 70 decisions each: one handler (Concurrency 1), its shard and
// the live buffer hold about 1,280 of the 1,400, the rest are dropped, and
// every one of the 1,400 is forwarded once Temporal lets signals through.
func TestBridgeReplaysLiveResponsesDroppedForRoom(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	const approvers, each = 20, 70
	addManyCalls(f, "wf-1", each)
	f.gate = make(chan struct{})
	logs := startBridge(t, ac, f, func(c *Config) {
		c.Concurrency = 1
		c.RetryEvery = 100 * time.Millisecond
		c.GapReadMax = 300 // several passes, each going on from the last
	})
	testutil.Eventually(t, 15*time.Second, "the first catch-up", func() bool { return strings.Contains(logs(), "catch-up done") })

	for a := range approvers {
		rest, err := ably.NewREST(approverOptions(t, ac, fmt.Sprint("approver-", a), "publisher")...)
		if err != nil {
			t.Fatal(err)
		}
		batch := make([]*ably.Message, 0, each)
		for i := range each {
			batch = append(batch, &ably.Message{
				Name: workflows.MsgApprovalResponse,
				Data: map[string]any{"decision": "approved"},
				Extras: map[string]any{"headers": map[string]any{
					workflows.HeaderToolCallID: fmt.Sprint("call_", i), workflows.HeaderWorkflowID: "wf-1",
				}},
			})
		}
		if err := rest.Channels.Get(testChannel).PublishMultiple(t.Context(), batch); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	testutil.Eventually(t, 30*time.Second, "live responses dropped for want of room", func() bool {
		return strings.Contains(logs(), "bridge busy: live approval-response dropped")
	})
	close(f.gate)

	testutil.Eventually(t, 60*time.Second, "every decision forwarded", func() bool { return len(f.sent()) >= approvers*each })
	forwarded := map[string]int{}
	for _, s := range f.sent() {
		forwarded[s.Decision.ApproverClientID+"/"+s.Decision.ToolCallID]++
	}
	if len(forwarded) != approvers*each || len(f.sent()) != approvers*each {
		t.Errorf("%d signals for %d distinct decisions, want %d of each", len(f.sent()), len(forwarded), approvers*each)
	}
	if !strings.Contains(logs(), "dropped live approval-responses replayed from history") || !strings.Contains(logs(), "goes on at the next pass") {
		t.Errorf("no replay in several passes logged")
	}
}

// TestNoteGap: the replay of dropped live responses starts at the first
// one dropped, whatever order the drops are noted in, and no further back
// than gapMaxAge (a publisher's clock far off); a drop without a publish
// time counts as now.
func TestNoteGap(t *testing.T) {
	now := time.Now()
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	tests := []struct {
		name  string
		drops []int64 // publish times in ms, 0 for none
		want  time.Time
	}{
		{"one drop", []int64{ms(-time.Minute)}, time.UnixMilli(ms(-time.Minute))},
		{"an earlier drop noted later", []int64{ms(-time.Minute), ms(-2 * time.Minute)}, time.UnixMilli(ms(-2 * time.Minute))},
		{"a later drop noted later", []int64{ms(-2 * time.Minute), ms(-time.Minute)}, time.UnixMilli(ms(-2 * time.Minute))},
		{"a publish time older than gapMaxAge", []int64{ms(-time.Hour)}, now.Add(-gapMaxAge)},
		{"no publish time", []int64{0}, now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &runner{}
			for _, d := range tt.drops {
				b.noteGap(d)
			}
			if d := b.gapFrom.Sub(tt.want); d < -time.Second || d > time.Second {
				t.Fatalf("gapFrom = %v, want %v", b.gapFrom, tt.want)
			}
		})
	}
}
