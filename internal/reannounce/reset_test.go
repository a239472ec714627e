package reannounce

import (
	"testing"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
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
			var runs []string // of the agent's requests on the channel, newest first
			if err := r.hist.Newest(t.Context(), reset.RequestedAt.Add(-1), 100, func(m *ably.Message) bool {
				var d workflows.ApprovalRequestData
				if m.Name == workflows.MsgApprovalRequest && ablymsg.DecodeData(m.Data, m.Encoding, &d) == nil {
					runs = append(runs, d.RunID)
				}
				return true
			}); err != nil {
				t.Fatal(err)
			}
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
