package workflows

import (
	"testing"
	"time"
)

// TestDecisionJudgedAgainAfterItsSignature: the signature check is a local
// activity, which may take a while (its retries, a slow worker), and the call may change
// meanwhile: an escalation falls due, or the expiry. onDecision judges the
// decision again once its signature is verified, so that it counts only
// if it still may. Each decision's check here takes 500 ms of wall time,
// during which the test environment fires a timer that falls due
// (harness.verifySlow).
func TestDecisionJudgedAgainAfterItsSignature(t *testing.T) {
	const args = `{"title":"Introducing our new API"}`
	tests := []struct {
		name      string
		rule      string // publish_blog_post's policy
		decisions []at   // each checked slowly
		wantBy    string // who the tool ran approved by; "" if it did not run
		wantAudit []string
	}{
		{
			// alice's approval arrives 100 ms before the call escalates
			// to admin and is verified after it: it must not count, as
			// it would not had it arrived then.
			name: "an escalation during the check",
			rule: `{"minRole":"publisher","timeout":"10m","escalate":[{"after":"1m","minRole":"admin"}]}`,
			decisions: []at{
				{time.Minute - 100*time.Millisecond, approve("call_1", "alice", "publisher", "m1")},
				{2 * time.Minute, approve("call_1", "carol", "admin", "m2")},
			},
			wantBy: "carol",
			wantAudit: []string{"requested:call_1", "escalated:call_1",
				"ignored:call_1:needs admin since 03:05:05 UTC (escalated from publisher)",
				"approved:call_1", "executed:call_1"},
		},
		{
			// No Ably timestamp: nothing says it was published before
			// the expiry, which passes while it is checked.
			name: "the expiry during the check, no timestamp",
			rule: `{"minRole":"publisher","timeout":"10m"}`,
			decisions: []at{
				{10*time.Minute - 100*time.Millisecond, approve("call_1", "alice", "publisher", "m1")},
			},
			wantAudit: []string{"requested:call_1", "ignored:call_1:already resolved (expired)", "expired:call_1"},
		},
		{
			// Published before the expiry, it counts although it is
			// applied after it (changeInTimeDecisions): the run waits
			// for it before it acts on the expiry.
			name: "the expiry during the check, published in time",
			rule: `{"minRole":"publisher","timeout":"10m"}`,
			decisions: []at{
				{10*time.Minute - 100*time.Millisecond, publishedAtTest(approve("call_1", "alice", "publisher", "m1"), 10*time.Minute-100*time.Millisecond)},
			},
			wantBy:    "alice",
			wantAudit: []string{"requested:call_1", "approved:call_1", "executed:call_1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.policy = rulesPolicy(t, tt.rule)
			h.model = script(calls(publishCall("call_1")), answer("done"))
			h.verifySlow = map[string]time.Duration{}
			for _, x := range tt.decisions {
				h.verifySlow[x.d.AblyMessageID] = 500 * time.Millisecond
				h.decide(x.after, x.d)
			}
			res := h.run(AgentInput{})

			wantKinds(t, res.Audit, tt.wantAudit...)
			ran := h.tools()
			switch {
			case tt.wantBy == "" && len(ran) != 0:
				t.Errorf("the tool ran: %+v", ran)
			case tt.wantBy != "" && (len(ran) != 1 || ran[0].ApprovedBy != tt.wantBy || ran[0].Arguments != args):
				t.Errorf("tool requests = %+v, want one approved by %s", ran, tt.wantBy)
			}
		})
	}
}
