package bridge

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"go.temporal.io/api/serviceerror"

	"github.com/hitl/durable-approvals/internal/recent"
	"github.com/hitl/durable-approvals/workflows"
)

// testRunner is a runner without Ably around h, parking up to maxParked.
func testRunner(t *testing.T, h *Handler, maxParked int) (*runner, func() string) {
	t.Helper()
	log, logs := logBuffer(t)
	h.Log = log
	return &runner{cfg: Config{MaxParked: maxParked}, log: log, handler: h, recent: recent.NewSet[string](100), live: newLiveQueue()}, logs
}

// msgFrom is clientID's approval of call_<i>: each i is a decision of
// its own, which the bridge forwards once (decided).
func msgFrom(clientID string, i int) *ably.Message {
	return msg(func(m *ably.Message) {
		m.ClientID = clientID
		m.ID = fmt.Sprintf("%s-conn:0:%d", clientID, i)
		m.Extras["headers"] = map[string]any{"toolCallId": fmt.Sprint("call_", i)}
	})
}

// addManyCalls adds run wfID to f with n calls pending, call_0 to
// call_<n-1>, each listed in visibility.
func addManyCalls(f *fakeTemporal, wfID string, n int) {
	view := workflows.ApprovalsView{Roles: []string{"editor", "publisher", "admin"}}
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprint("call_", i)
		view.Pending = append(view.Pending, workflows.PendingApproval{ToolCallID: ids[i], Tool: "publish_blog_post", RequiredRole: "publisher"})
	}
	f.addWorkflow(wfID, view, ids...)
}

// An approver over the decision rate limit is slowed down, not ignored:
// the message is parked, not remembered as handled, and forwarded by a
// later retry pass; a rate-limited message does not end the pass.
func TestRunnerParksRateLimitedDecisions(t *testing.T) {
	f := newFakeTemporal()
	addManyCalls(f, "wf-1", 3)
	h := fastHandler(f, nil)
	h.RateLimit = RateLimit{PerMinute: 1, Burst: 1}
	now := time.Unix(1_700_000_000, 0)
	h.Now = func() time.Time { return now }
	b, logs := testRunner(t, h, 10)

	b.handle(t.Context(), msgFrom("alice", 1))
	if b.handle(t.Context(), msgFrom("alice", 2)) {
		t.Fatal("a rate-limited message reported as a temporary failure")
	}
	b.handle(t.Context(), msgFrom("bob", 1)) // bob has a bucket of his own
	if got := len(f.sent()); got != 2 || b.parkedLen() != 1 {
		t.Fatalf("%d signals, %d parked; want alice's first and bob's sent, alice's second parked:\n%s", got, len(b.parked), logs())
	}
	if key, _ := recentKey(msgFrom("alice", 2)); b.recent.Has(key) {
		t.Fatal("the rate-limited message was remembered as handled")
	}
	// Still limited: parked again, and the pass goes on to carol's message.
	b.parked = append(b.parked, msgFrom("carol", 1))
	b.retryParked(t.Context())
	if got := len(f.sent()); got != 3 || len(b.parked) != 1 {
		t.Fatalf("retry while alice is limited: %d signals, %d parked; want 3 and 1:\n%s", got, len(b.parked), logs())
	}
	now = now.Add(time.Minute)
	b.retryParked(t.Context())
	if got := len(f.sent()); got != 4 || len(b.parked) != 0 {
		t.Fatalf("after the limit refilled: %d signals, %d parked; want 4 and 0:\n%s", got, len(b.parked), logs())
	}
}

// A full retry queue drops the new message, loudly, and does not remember
// it as handled, so a catch-up can still forward it.
func TestRunnerParkQueueFull(t *testing.T) {
	f := newFakeTemporal()
	addManyCalls(f, "wf-1", 3)
	h := fastHandler(f, nil)
	h.RateLimit = RateLimit{PerMinute: 1, Burst: 1}
	now := time.Unix(1_700_000_000, 0)
	h.Now = func() time.Time { return now }
	reader := meterOn(h)
	b, logs := testRunner(t, h, 1)
	for i := range 3 {
		b.handle(t.Context(), msgFrom("alice", i))
	}
	if len(b.parked) != 1 || b.parked[0].ID != msgFrom("alice", 1).ID {
		t.Fatalf("parked %d, want only alice's second message", len(b.parked))
	}
	if !strings.Contains(logs(), "retry queue full: approval-response dropped") {
		t.Fatalf("no error log for the dropped message:\n%s", logs())
	}
	// What README's "What to monitor" tells operators to watch.
	wantCounted(t, reader, MetricParked, ParkReasonRateLimited, 1)
	wantCounted(t, reader, MetricDropped, DropReasonQueueFull, 1)
	wantCounted(t, reader, MetricForwarded, "", 1)
	now = now.Add(time.Hour)
	b.handle(t.Context(), msgFrom("alice", 2)) // the catch-up's replay
	if got := len(f.sent()); got != 2 {
		t.Fatalf("%d signals, want 2: the dropped message must stay replayable", got)
	}
}

// The per-client pre-limit applies before any Temporal call.
func TestHandlePreLimitBeforeTemporal(t *testing.T) {
	f := newFakeTemporal()
	addManyCalls(f, "wf-1", 4)
	h := fastHandler(f, nil)
	h.PreLimit = RateLimit{PerMinute: 1, Burst: 2}
	h.RateLimit = RateLimit{PerMinute: 100, Burst: 100}
	now := time.Unix(1_700_000_000, 0)
	h.Now = func() time.Time { return now }
	var errs []error
	for i := range 4 {
		errs = append(errs, h.Handle(t.Context(), msgFrom("mallory", i)))
	}
	f.mu.Lock()
	lists, queries := len(f.queries), f.queryCalls
	f.mu.Unlock()
	if lists != 2 || queries != 2 {
		t.Fatalf("%d lookups and %d queries for 4 messages, want 2 and 2 (pre-limit burst)", lists, queries)
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ErrRateLimited) || !errors.Is(errs[3], ErrRateLimited) {
		t.Fatalf("errors = %v, want nil, nil, rate limited, rate limited", errs)
	}
	if err := h.Handle(t.Context(), msgFrom("alice", 0)); err != nil {
		t.Fatalf("alice: %v", err)
	}
}

// A lookup that finds no workflow is an answer: it is not retried. Only
// transient errors are retried in place; other errors park the message
// at once.
func TestLookupRetries(t *testing.T) {
	tests := []struct {
		name      string
		listErrs  []error
		workflows []string
		wantCalls int
		wantErr   error
	}{
		{name: "no workflow: one call, dropped", wantCalls: 1},
		{name: "unavailable retried", listErrs: []error{serviceerror.NewUnavailable("down")}, workflows: []string{"call_abc123"}, wantCalls: 2},
		{name: "deadline retried", listErrs: []error{serviceerror.NewDeadlineExceeded("slow")}, workflows: []string{"call_abc123"}, wantCalls: 2},
		{name: "internal error: parked without sleeping", listErrs: []error{serviceerror.NewInternal("boom")}, workflows: []string{"call_abc123"}, wantCalls: 1, wantErr: ErrTemporary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTemporal()
			f.addWorkflow("wf-1", publishView("publisher"), tt.workflows...)
			f.listErrs = tt.listErrs
			err := fastHandler(f, nil).Handle(t.Context(), msg(nil))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			f.mu.Lock()
			calls := len(f.queries)
			f.mu.Unlock()
			if calls != tt.wantCalls {
				t.Fatalf("%d ListWorkflow calls, want %d", calls, tt.wantCalls)
			}
		})
	}
}

// The subscription callback never blocks ably-go: with the buffer full it
// drops the live message (the catch-up replays it) and logs it.
func TestEnqueueNeverBlocks(t *testing.T) {
	b, logs := testRunner(t, fastHandler(newFakeTemporal(), nil), 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range liveBuffer + 2 {
			b.enqueue(msgFrom(fmt.Sprint("approver-", i), i))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("enqueue blocked on a full buffer")
	}
	if n := strings.Count(logs(), `"bridge busy: live approval-response dropped`); n != 2 {
		t.Fatalf("%d drop log lines, want 2:\n%s", n, logs())
	}
}

// One approver's flood must not crowd the others out of the retry queue:
// once it is half full each publisher may hold only its share, so a
// decision of another approver that meets a Temporal outage is still kept
// and forwarded when Temporal is back.
func TestRunnerParkShareOfFlooder(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := newFakeTemporal()
	addManyCalls(f, "wf-1", 1) // alice's call_0
	h := fastHandler(f, nil)
	h.Now = func() time.Time { return now }
	reader := meterOn(h)
	b, logs := testRunner(t, h, 1000) // the default MaxParked
	// mallory (editor), junk call ids, all at one instant: past the
	// pre-limit's burst every message is parked as rate limited.
	for i := range 1300 {
		b.handle(t.Context(), msg(func(m *ably.Message) {
			m.ClientID, m.ID, m.Extras["userClaim"] = "mallory", fmt.Sprint("mallory:", i), "editor"
			m.Extras["headers"] = map[string]any{"toolCallId": fmt.Sprint("call_junk", i)}
		}))
	}
	if got := b.parkedLen(); got != 500 {
		t.Fatalf("%d of mallory's messages parked, want 500 (half the queue)", got)
	}
	if n := strings.Count(logs(), "this approver holds its share"); n != 500 {
		t.Fatalf("%d share drops logged, want 500", n)
	}
	down := serviceerror.NewUnavailable("down")
	f.mu.Lock()
	f.listErrs = []error{down, down, down}
	f.mu.Unlock()
	if !b.handle(t.Context(), msgFrom("alice", 0)) {
		t.Fatal("alice's decision was not parked for a temporary failure")
	}
	if got := b.parkedLen(); got != 501 {
		t.Fatalf("%d parked, want 501 (mallory's 500 and alice's)", got)
	}
	wantCounted(t, reader, MetricDropped, DropReasonQueueShareFull, 500)
	wantCounted(t, reader, MetricParked, ParkReasonRateLimited, 500)
	wantCounted(t, reader, MetricParked, ParkReasonTemporary, 1)
	b.retryParked(t.Context())
	if sent := f.sent(); len(sent) != 1 || sent[0].Decision.ApproverClientID != "alice" {
		t.Fatalf("signals after Temporal is back = %+v, want alice's", sent)
	}
}

func TestRunnerParkShare(t *testing.T) {
	tests := []struct{ maxParked, want int }{
		{1000, 100},
		{100, 10},
		{20, 5},
		{3, 3},
		{1, 1},
	}
	for _, tt := range tests {
		b := &runner{cfg: Config{MaxParked: tt.maxParked}}
		if got := b.parkShare(); got != tt.want {
			t.Errorf("parkShare with MaxParked %d = %d, want %d", tt.maxParked, got, tt.want)
		}
	}
}

// TestRunnerParkShareBoundary: once the retry queue is half full, a
// publisher holding exactly its share gets no more in; one below it
// does.
func TestRunnerParkShareBoundary(t *testing.T) {
	for _, tt := range []struct {
		name   string
		held   int // alice's parked messages, of 10 (half of 20; the share is 5)
		parked bool
	}{
		{"holding its share", 5, false},
		{"one below its share", 4, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := fastHandler(newFakeTemporal(), nil)
			reader := meterOn(h)
			b, _ := testRunner(t, h, 20)
			for i := range 10 {
				who := "bob"
				if i < tt.held {
					who = "alice"
				}
				b.addParked(msgFrom(who, i))
			}
			b.park(msgFrom("alice", 99), ErrTemporary)
			if got := b.parkedLen() == 11; got != tt.parked {
				t.Fatalf("parked = %v (%d waiting), want %v", got, b.parkedLen(), tt.parked)
			}
			if !tt.parked {
				wantCounted(t, reader, MetricDropped, DropReasonQueueShareFull, 1)
			}
		})
	}
}

// TestLogUnforwardedQuietWhenNothingWaits: a bridge that stops with
// nothing left to forward says nothing about it.
func TestLogUnforwardedQuietWhenNothingWaits(t *testing.T) {
	b, logs := testRunner(t, fastHandler(newFakeTemporal(), nil), 10)
	b.logUnforwarded()
	if strings.Contains(logs(), "bridge stopping") {
		t.Fatalf("logged unforwarded responses with none:\n%s", logs())
	}
	b.addParked(msgFrom("alice", 0))
	b.logUnforwarded()
	if !strings.Contains(logs(), `"parked":1`) {
		t.Fatalf("one parked response not reported:\n%s", logs())
	}
}
