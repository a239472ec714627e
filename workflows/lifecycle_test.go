package workflows

import (
	"testing"
	"time"
)

// whyIgnore only reads: asking twice about a valid decision gives the same
// answer; remember is what makes a copy a duplicate.
func TestWhyIgnoreIsPure(t *testing.T) {
	a := &approval{call: publishCall("call_1"), pending: PendingApproval{ToolCallID: "call_1", ExpiresAt: testStart.Add(time.Hour)}}
	r := &run{policy: testPolicy(t), approvals: map[string]*approval{"call_1": a}, seenMsgs: map[string]bool{}, verifiedMsgs: map[string]bool{}}
	d := approve("call_1", "alice", "publisher", "m1")
	for i := range 2 {
		if got := r.whyIgnore(testStart, d, a, false); got != "" {
			t.Fatalf("call %d: whyIgnore = %q, want valid", i, got)
		}
	}
	if len(r.seenMsgs) != 0 {
		t.Fatalf("whyIgnore changed seenMsgs: %v", r.seenMsgs)
	}
	r.remember(d)
	if got := r.whyIgnore(testStart, d, a, false); got != whyUnverifiedCopy {
		t.Fatalf("after remember: whyIgnore = %q, want %q (never verified)", got, whyUnverifiedCopy)
	}
	r.verified(d)
	if got := r.whyIgnore(testStart, d, a, false); got != "duplicate" {
		t.Fatalf("after remember and verified: whyIgnore = %q, want duplicate", got)
	}
	bad := approve("call_1", "", "publisher", "m2")
	r.remember(bad)
	if len(r.seenMsgs) != 1 {
		t.Fatalf("a malformed decision was remembered: %v", r.seenMsgs)
	}
}

func TestStateVocabularies(t *testing.T) {
	tests := []struct {
		s                   state
		name, outcome, kind string
	}{
		{stateApproved, "approved", OutcomeApproved, AuditApproved},
		{stateRejected, "rejected", OutcomeRejected, AuditRejected},
		{stateExpired, "expired", OutcomeExpired, AuditExpired},
		{stateCancelled, "cancelled", OutcomeCancelled, AuditCancelled},
		{stateUnpublished, "unpublished", OutcomeCancelled, AuditDenied},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.name {
			t.Errorf("%d.String() = %q, want %q", tt.s, got, tt.name)
		}
		if got := tt.s.outcome(); got != tt.outcome {
			t.Errorf("%s.outcome() = %q, want %q", tt.s, got, tt.outcome)
		}
		if got := tt.s.auditKind(); got != tt.kind {
			t.Errorf("%s.auditKind() = %q, want %q", tt.s, got, tt.kind)
		}
	}
	for decision, want := range map[string]state{DecisionApproved: stateApproved, DecisionRejected: stateRejected} {
		if got, ok := decisionState(decision); !ok || got != want {
			t.Errorf("decisionState(%q) = %s, %v; want %s", decision, got, ok, want)
		}
	}
	if _, ok := decisionState("expired"); ok {
		t.Error(`decisionState("expired") resolves: a decision can only approve or reject`)
	}
}
