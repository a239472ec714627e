package approvercli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestDecideCountedOnce: once a revision counts the decision, Decide says
// "Counted" and returns at once (awaitOutcome): a later revision that
// still counts it (another approver's vote, as a quorum fills) is not
// this decision's word again, so "Counted" is printed once, and the
// command does not wait out --wait-outcome for more.
func TestDecideCountedOnce(t *testing.T) {
	alice := []workflows.Approver{{ClientID: "alice", Role: "publisher"}}
	both := []workflows.Approver{{ClientID: "alice", Role: "publisher"}, {ClientID: "pat", Role: "publisher"}}
	tests := []struct {
		name     string
		decision string
		reason   string
		// revisions the agent publishes after alice's response: approvedBy
		// and rejectedBy of revisions 1 and 2.
		approvedBy, rejectedBy [2][]workflows.Approver
		wantOut                string
	}{
		{name: "approval", decision: workflows.DecisionApproved, approvedBy: [2][]workflows.Approver{alice, both}, wantOut: "Counted: 1 of 3 approvals"},
		{name: "rejection", decision: workflows.DecisionRejected, reason: "not yet", rejectedBy: [2][]workflows.Approver{alice, both}, wantOut: "Counted: 1 of 3 rejections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnv(t)
			agent := e.rest(t, workflows.DefaultAgentClientID)
			publishRevisionOf(t, agent, 3, 0, nil, nil)
			var out testutil.SyncBuffer
			done := make(chan error, 1)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			t.Cleanup(cancel)
			const outcome = time.Minute // far beyond the test's wait for Decide
			go func() {
				done <- Decide(ctx, e.cliConfig(t, nil), DecideArgs{ToolCallID: "call_1", Decision: tt.decision, Reason: tt.reason, Outcome: outcome}, &out)
			}()
			testutil.Eventually(t, 15*time.Second, "alice's response on the channel", func() bool { return len(responses(t, agent)) > 0 })
			for i := range 2 {
				publishRevisionOf(t, agent, 3, i+1, tt.approvedBy[i], tt.rejectedBy[i])
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Decide = %v, want nil", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("Decide did not return once counted:\n%s", out.String())
			}
			got := out.String()
			if n := strings.Count(got, "Counted:"); n != 1 || !strings.Contains(got, tt.wantOut) {
				t.Errorf("%d lines Counted, want one %q:\n%s", n, tt.wantOut, got)
			}
			if strings.Contains(got, "has not answered") {
				t.Errorf("Decide waited for more after the decision counted:\n%s", got)
			}
		})
	}
}
