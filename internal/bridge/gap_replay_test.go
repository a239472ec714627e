package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/internal/recent"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// historyRunner is the bridge's runner on the channel of the local Ably
// server ac, attached (so a catch-up reads what was published before),
// handling with f as Run's does but without its loops and rate limits: the
// test calls replay and replayGap itself. ops are the bridge's capability
// on the channel (Run's: subscribe, history).
func historyRunner(t *testing.T, ac ablyconn.Config, f *fakeTemporal, cfg Config, ops ...string) (*runner, func() string) {
	t.Helper()
	cfg.Ably, cfg.Temporal, cfg.Signer = ac, f, testSigner
	cfg.setDefaults()
	if len(ops) == 0 {
		ops = []string{"subscribe", "history"}
	}
	capability, err := ablyconn.ChannelCapability(testChannel, ops...)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := ac.TrustedOptions(cfg.ClientID, capability)
	if err != nil {
		t.Fatal(err)
	}
	client := newRealtime(t, append(opts, ably.WithLogLevel(ably.LogNone)))
	ch := client.Channels.Get(testChannel)
	actx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := ch.Attach(actx); err != nil {
		t.Fatalf("attach: %v", err)
	}
	log, logs := logBuffer(t)
	reqs := newRequests(cfg.AgentClientID, maxKnownRequests)
	h := fastHandler(f, log)
	h.requests = reqs
	unlimited := RateLimit{PerMinute: 1e9, Burst: 1e9}
	h.PreLimit, h.RateLimit = unlimited, unlimited
	b := &runner{cfg: cfg, log: log, client: client, ch: ch, handler: h, requests: reqs,
		live: newLiveQueue(), recent: recent.NewSet[string](10000)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bridge logs:\n%s", logs())
		}
	})
	return b, logs
}

// approvalOf is an approval of tool call call_0 of workflow wf.
func approvalOf(wf string) *ably.Message {
	return &ably.Message{
		Name: workflows.MsgApprovalResponse,
		Data: map[string]any{"decision": workflows.DecisionApproved},
		Extras: map[string]any{"headers": map[string]any{
			workflows.HeaderToolCallID: "call_0", workflows.HeaderWorkflowID: wf,
		}},
	}
}

// addWorkflows adds runs wf-0 to wf-<n-1> to f, each waiting for a
// publisher's approval of call_0.
func addWorkflows(f *fakeTemporal, n int) {
	for i := range n {
		view := publishView("publisher")
		view.Pending[0].ToolCallID = "call_0"
		f.addWorkflow(fmt.Sprint("wf-", i), view, "call_0")
	}
}

// forwarded lists the workflows signalled for approver, in the order
// signalled, from the signals sent[from:].
func forwarded(sent []sentSignal, from int, approver string) []string {
	var out []string
	for _, s := range sent[from:] {
		if s.Decision.ApproverClientID == approver {
			out = append(out, s.WorkflowID)
		}
	}
	return out
}

// wfRange is wf-<lo> to wf-<hi>, nil when hi < lo.
func wfRange(lo, hi int) []string {
	var out []string
	for i := lo; i <= hi; i++ {
		out = append(out, fmt.Sprint("wf-", i))
	}
	return out
}

// publishApartInTime publishes n approvals by alice, of wf-0 to
// wf-<n-1>, one a publish, each at a later millisecond than the one before
// (the local server stamps a publish with its clock, which is this
// process's), and returns their publish times as history reads them.
func publishApartInTime(t *testing.T, ac ablyconn.Config, b *runner, n int) []int64 {
	t.Helper()
	for i := range n {
		publishAs(t, ac, "alice", "publisher", approvalOf(fmt.Sprint("wf-", i)))
		done := time.Now().UnixMilli() // the message's publish time is no later
		testutil.Eventually(t, 5*time.Second, "the clock to pass the publish's millisecond", func() bool {
			return time.Now().UnixMilli() > done
		})
	}
	msgs, complete, err := ablymsg.HistorySince(t.Context(), b.ch, ablymsg.HistoryRange{PageSize: 100, MaxMessages: 100, Forwards: true})
	if err != nil || !complete || len(msgs) != n {
		t.Fatalf("history: %d messages, complete %v, err %v; want %d", len(msgs), complete, err, n)
	}
	ts := make([]int64, n)
	for i, m := range msgs {
		ts[i] = m.Timestamp
		if i > 0 && ts[i] <= ts[i-1] {
			t.Fatalf("publish times %d and %d not apart: %v", i-1, i, ts)
		}
	}
	return ts
}

// TestReplayGapPasses: a replay of the live responses dropped for want of
// room reads the channel's history oldest first, from gapMargin before the
// first one dropped, at most GapReadMax messages a pass, whatever the page
// size; a pass cut by GapReadMax notes that the next goes on from the last
// message it read (gapMargin after it, since the next reads gapMargin
// before), and the last pass notes nothing. Every response is forwarded
// once, in the order published: a message read again at a pass's edge is
// passed over. (The bridge's mutation review found neither the reading
// direction nor the note of where the next pass starts tested.)
func TestReplayGapPasses(t *testing.T) {
	const n = 10
	tests := []struct {
		name        string
		gapReadMax  int
		pageSize    int
		firstDrop   int     // which message was dropped first
		wantPerPass [][]int // the workflows (wf-<i>) each pass forwards
	}{
		{name: "one pass reads it all", gapReadMax: 100, pageSize: 3, firstDrop: 0,
			wantPerPass: [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}},
		{name: "a pass at a time, pages smaller than a pass", gapReadMax: 4, pageSize: 3, firstDrop: 0,
			wantPerPass: [][]int{{0, 1, 2, 3}, {4, 5, 6}, {7, 8, 9}}},
		{name: "a pass at a time, a page larger than a pass", gapReadMax: 4, pageSize: 10, firstDrop: 0,
			wantPerPass: [][]int{{0, 1, 2, 3}, {4, 5, 6}, {7, 8, 9}}},
		{name: "what came gapMargin before the first dropped is read too", gapReadMax: 100, pageSize: 3, firstDrop: 5,
			wantPerPass: [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ac := startAbly(t)
			f := newFakeTemporal()
			addWorkflows(f, n)
			b, _ := historyRunner(t, ac, f, Config{GapReadMax: tt.gapReadMax, HistoryPageSize: tt.pageSize})
			ts := publishApartInTime(t, ac, b, n)

			b.noteGap(ts[tt.firstDrop])
			for pass, want := range tt.wantPerPass {
				before := len(f.sent())
				b.replayGap(t.Context())
				var wantWF []string
				for _, i := range want {
					wantWF = append(wantWF, fmt.Sprint("wf-", i))
				}
				if got := forwarded(f.sent(), before, "alice"); !slices.Equal(got, wantWF) {
					t.Fatalf("pass %d forwarded %v, want %v", pass+1, got, wantWF)
				}
				b.mu.Lock()
				next := b.gapFrom
				b.mu.Unlock()
				wantNext := time.Time{}
				if pass < len(tt.wantPerPass)-1 {
					wantNext = time.UnixMilli(ts[want[len(want)-1]]).Add(gapMargin)
				}
				if !next.Equal(wantNext) {
					t.Fatalf("after pass %d the next starts at %v, want %v (publish times %v)", pass+1, next, wantNext, ts)
				}
			}
			if got := len(f.sent()); got != n {
				t.Errorf("%d signals, want %d", got, n)
			}
		})
	}
}

// TestReplayGapWaitsAndRetries: a replay waits while the bridge is behind
// (a live response in the buffer, or one handed to a shard), keeping where
// it is to start; a history read that fails (here Ably refuses the
// bridge's history capability) is tried again at the next call, from the
// same point.
func TestReplayGapWaitsAndRetries(t *testing.T) {
	tests := []struct {
		name    string
		ops     []string // the bridge's capability; nil for Run's
		behind  func(b *runner) (caughtUp func())
		wantNow int // signals at the first call
	}{
		{name: "caught up", wantNow: 1},
		{name: "a live response waits in the buffer", behind: func(b *runner) func() {
			m := approvalOf("wf-9")
			m.ClientID = "bob"
			if why := b.live.offer(m); why != "" {
				panic(why)
			}
			return func() { b.live.taken(<-b.live.ch) }
		}},
		{name: "a shard is handling a live response", behind: func(b *runner) func() {
			b.inShards.Add(1)
			return func() { b.inShards.Add(-1) }
		}},
		{name: "the history read fails", ops: []string{"subscribe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ac := startAbly(t)
			f := newFakeTemporal()
			addWorkflows(f, 1)
			b, logs := historyRunner(t, ac, f, Config{}, tt.ops...)
			publishAs(t, ac, "alice", "publisher", approvalOf("wf-0"))
			from := time.Now().Add(-time.Second).Truncate(time.Millisecond)
			b.noteGap(from.UnixMilli())
			caughtUp := func() {}
			if tt.behind != nil {
				caughtUp = tt.behind(b)
			}

			b.replayGap(t.Context())
			if got := len(f.sent()); got != tt.wantNow {
				t.Fatalf("%d signals, want %d", got, tt.wantNow)
			}
			b.mu.Lock()
			next := b.gapFrom
			b.mu.Unlock()
			if tt.wantNow > 0 {
				if !next.IsZero() {
					t.Fatalf("after a whole replay the next starts at %v, want none", next)
				}
				return
			}
			if !next.Equal(from) {
				t.Fatalf("the next replay starts at %v, want %v as before", next, from)
			}
			if tt.ops != nil {
				if !strings.Contains(logs(), "replay of dropped live approval-responses failed; trying again") {
					t.Errorf("the failed read is not logged")
				}
				return
			}
			caughtUp()
			b.replayGap(t.Context())
			if got := len(f.sent()); got != 1 {
				t.Fatalf("caught up: %d signals, want 1", got)
			}
		})
	}
}
