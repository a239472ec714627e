package reannounce

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestKeeperResetRun: a run made by a Temporal reset waits for a call of
// the run it replaced, whose messages may be in view; the keeper publishes
// the call again with the reset run's RunID (readers then show it asked
// again) unless a request of the reset run itself is in view.
func TestKeeperResetRun(t *testing.T) {
	tests := []struct {
		name          string
		original      []int // revisions of the replaced run's requests in view
		resolved      bool  // and its resolution
		resetAnnounce bool  // the reset run published its own request
		wantPublished int
	}{
		{name: "the replaced run's request and resolution in view", original: []int{0}, resolved: true, wantPublished: 1},
		{name: "the replaced run's request in view, still pending (a reset to the last task)", original: []int{0}, wantPublished: 1},
		{name: "the replaced run's edited revision in view (a reset to before the edit)", original: []int{0, 1}, wantPublished: 1},
		{name: "the reset run's own request in view", original: []int{0}, resolved: true, resetAnnounce: true, wantPublished: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newKeeperRig(t)
			for _, rev := range tt.original {
				r.announce(t, requestData("wf-1", "call_1", rev))
			}
			if tt.resolved {
				r.resolve(t, "wf-1", "call_1")
			}
			reset := requestData("wf-1", "call_1", 0)
			reset.RunID = "run-b"
			if tt.resetAnnounce {
				r.announce(t, reset)
			}
			r.pending.pend("wf-1", "call_1")
			r.pending.runs[0].RunID, r.pending.resets = "run-b", map[string]string{"run-b": "run-b"}
			r.pending.reqs["wf-1"][0] = reset
			k := r.keeper(nil)
			res, err := k.Sweep(t.Context())
			if err != nil || res.Published != tt.wantPublished {
				t.Fatalf("sweep: %+v, %v; want %d published", res, err, tt.wantPublished)
			}
			runs := requestRuns(t, r.hist, reset.RequestedAt.Add(-1))
			if len(runs) == 0 || runs[0] != "run-b" {
				t.Errorf("the runs of the requests on the channel, newest first: %q; want run-b first", runs)
			}
			// The next sweep finds the reset run's request in view.
			if res, err := k.Sweep(t.Context()); err != nil || res.Published != 0 {
				t.Errorf("second sweep: %+v, %v; want nothing published", res, err)
			}
		})
	}
}

// TestKeeperResetsBrought: a reset run that Resets brings (ResetWatch, as
// the worker first runs it) is swept Settle later, not at the next sweep:
// the call the replaced run asked for in view is published again with the
// reset run's RunID, once, however often the run is brought again.
func TestKeeperResetsBrought(t *testing.T) {
	r := newKeeperRig(t)
	r.announce(t, requestData("wf-1", "call_1", 0))
	reset := requestData("wf-1", "call_1", 0)
	reset.RunID = "run-b"
	r.pending.reqs["wf-1"] = []workflows.ApprovalRequestData{reset}
	r.pending.resets = map[string]string{"run-b": "run-b"}
	// Nothing is listed: only what Resets brings is swept (the ticker's
	// hour does not pass).
	brought := make(chan PendingRun, 4)
	k := r.keeper(nil)
	k.Resets, k.Settle = brought, 10*time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); k.Run(ctx, time.Hour) }()
	t.Cleanup(func() { cancel(); <-done })

	// The keeper's history reader is its own (one ably-go client is not
	// for two goroutines at once).
	reader, err := NewAblyHistory(r.conn, workflows.DefaultAgentClientID, testChannel)
	if err != nil {
		t.Fatal(err)
	}
	runsOnChannel := func() []string { return requestRuns(t, reader, reset.RequestedAt.Add(-time.Second)) }
	brought <- PendingRun{WorkflowID: "wf-1", RunID: "run-b"}
	testutil.Eventually(t, 10*time.Second, "the reset run's request published", func() bool {
		runs := runsOnChannel()
		return len(runs) == 2 && runs[0] == "run-b"
	})
	// Brought again (the worker set the run up anew): not swept again.
	brought <- PendingRun{WorkflowID: "wf-1", RunID: "run-b"}
	brought <- PendingRun{WorkflowID: "wf-1", RunID: "run-b"}
	testutil.Consistently(t, 200*time.Millisecond, "no second copy", func() bool { return len(runsOnChannel()) == 2 })
	cancel()
	<-done
	if got := len(r.pending.queried); got != 1 {
		t.Errorf("runs queried: %q, want wf-1 once", r.pending.queried)
	}
}

// TestSweepRunsUnknownPending: SweepRuns of a run whose pending count is
// not known queries it unless the requests of all its calls are in view,
// and publishes only those out of view.
func TestSweepRunsUnknownPending(t *testing.T) {
	tests := []struct {
		name          string
		calls         []string // pending in the run
		inView        []string // of them, requested on the channel
		wantPublished int
	}{
		{name: "its one request in view", calls: []string{"call_a"}, inView: []string{"call_a"}},
		{name: "one of two in view", calls: []string{"call_a", "call_b"}, inView: []string{"call_b"}, wantPublished: 1},
		{name: "none in view", calls: []string{"call_a", "call_b"}, wantPublished: 2},
		{name: "nothing pending any more", wantPublished: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newKeeperRig(t)
			for _, c := range tt.calls {
				r.pending.reqs["wf-1"] = append(r.pending.reqs["wf-1"], requestData("wf-1", c, 0))
			}
			for _, c := range tt.inView {
				r.announce(t, requestData("wf-1", c, 0))
			}
			res, err := r.keeper(nil).SweepRuns(t.Context(), []PendingRun{{WorkflowID: "wf-1", RunID: "run-a"}})
			if err != nil || res.Published != tt.wantPublished {
				t.Fatalf("SweepRuns: %+v, %v; want %d published", res, err, tt.wantPublished)
			}
			if want := []string{"wf-1"}; !slices.Equal(r.pending.queried, want) && len(tt.inView) < len(tt.calls) {
				t.Errorf("queried %q, want %q", r.pending.queried, want)
			}
			if len(tt.calls) > 0 && len(tt.inView) == len(tt.calls) && len(r.pending.queried) != 1 {
				// Not known how many are pending: the run is queried all
				// the same, and nothing published.
				t.Errorf("queried %q, want wf-1", r.pending.queried)
			}
		})
	}
}

// requestRuns returns the RunID of each approval-request on the channel
// since since, newest first.
func requestRuns(t *testing.T, h *AblyHistory, since time.Time) []string {
	t.Helper()
	var runs []string
	if err := h.Newest(t.Context(), since, 100, func(m *ably.Message) bool {
		var d workflows.ApprovalRequestData
		if m.Name == workflows.MsgApprovalRequest && ablymsg.DecodeData(m.Data, m.Encoding, &d) == nil {
			runs = append(runs, d.RunID)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return runs
}

// notifyPending is fakePending telling each run it queries on queried.
type notifyPending struct {
	*fakePending
	queried chan<- string
}

func (p notifyPending) Requests(ctx context.Context, run PendingRun) ([]workflows.ApprovalRequestData, error) {
	defer func() { p.queried <- run.WorkflowID }()
	return p.fakePending.Requests(ctx, run)
}

// TestKeeperResetsBroughtBounds: the runs Resets brings are swept once
// each, at most MaxPublish of them at a time (the rest wait for the next
// sweep), and a run whose sweep failed is swept again when it is brought
// again.
func TestKeeperResetsBroughtBounds(t *testing.T) {
	tests := []struct {
		name       string
		maxPublish int
		failing    bool
		first      []PendingRun // brought before Run starts
		again      []PendingRun // brought once the first sweep queried
		want       []string     // the runs queried, in order
	}{
		{
			name:  "brought twice before it settles: swept once",
			first: []PendingRun{{WorkflowID: "wf-1", RunID: "run-b"}, {WorkflowID: "wf-1", RunID: "run-b"}},
			want:  []string{"wf-1"},
		},
		{
			// The run beyond is not swept (nor taken for swept): brought
			// again, it is.
			name: "at most MaxPublish at a time", maxPublish: 1,
			first: []PendingRun{{WorkflowID: "wf-1", RunID: "run-b"}, {WorkflowID: "wf-2", RunID: "run-c"}},
			again: []PendingRun{{WorkflowID: "wf-2", RunID: "run-c"}},
			want:  []string{"wf-1", "wf-2"},
		},
		{
			name: "a failed sweep is tried again when the run is brought again", failing: true,
			first: []PendingRun{{WorkflowID: "wf-1", RunID: "run-b"}},
			again: []PendingRun{{WorkflowID: "wf-1", RunID: "run-b"}},
			want:  []string{"wf-1", "wf-1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newKeeperRig(t)
			r.pending.failing = map[string]bool{"wf-1": tc.failing}
			queried := make(chan string, 16)
			brought := make(chan PendingRun, 16)
			for _, run := range tc.first {
				brought <- run
			}
			k := r.keeper(nil)
			k.Pending = notifyPending{r.pending, queried}
			k.MaxPublish = tc.maxPublish
			// Settle is long enough for Run to take every run brought
			// first before the sweep.
			k.Resets, k.Settle = brought, time.Second
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); k.Run(ctx, time.Hour) }()
			t.Cleanup(func() { cancel(); <-done })

			var got []string
			take := func(n int) {
				t.Helper()
				testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d runs queried", n), func() bool {
					for {
						select {
						case wf := <-queried:
							got = append(got, wf)
						default:
							return len(got) >= n
						}
					}
				})
			}
			take(1)
			if len(tc.again) > 0 {
				for _, run := range tc.again {
					brought <- run
				}
				take(2)
			}
			// Run's sweep is over once it is done: nothing is queried after.
			cancel()
			<-done
			close(queried)
			for wf := range queried {
				got = append(got, wf)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("queried %q, want %q", got, tc.want)
			}
		})
	}
}
