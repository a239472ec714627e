package reannounce

import (
	"testing"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// TestKeeperResetRun: a run made by a Temporal reset waits for a call that
// the run it reset asked for and had resolved, both in view; the keeper
// publishes the call again with the reset run's RunID (readers show it
// asked again), and a request of the reset run in view needs nothing.
func TestKeeperResetRun(t *testing.T) {
	tests := []struct {
		name          string
		resetAnnounce bool // the reset run published its own request
		wantPublished int
	}{
		{"the original run's request and resolution in view", false, 1},
		{"the reset run's own request in view", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newKeeperRig(t)
			orig := requestData("wf-1", "call_1", 0)
			r.announce(t, orig)
			r.resolve(t, "wf-1", "call_1")
			reset := orig
			reset.RunID = "run-b"
			if tt.resetAnnounce {
				r.announce(t, reset)
			}
			r.pending.pend("wf-1", "call_1")
			r.pending.reqs["wf-1"][0] = reset
			res, err := r.keeper(nil).Sweep(t.Context())
			if err != nil || res.Published != tt.wantPublished {
				t.Fatalf("sweep: %+v, %v; want %d published", res, err, tt.wantPublished)
			}
			var runs []string // of the agent's requests on the channel, newest first
			if err := r.hist.Newest(t.Context(), orig.RequestedAt.Add(-1), 100, func(m *ably.Message) bool {
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
		})
	}
}
