package approvercli

import (
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/workflows"
)

// A request this approver had answered is asked about again once it
// escalates: the required role changed, and with it who decides (here
// the escalation dropped the approvals counted at the lower role).
func TestWatcherAsksAgainAfterEscalation(t *testing.T) {
	_, s, w, out := newScreen("alice", "admin")
	w.onEvent(s.apply(revisionMsg(t, 0, func(d *workflows.ApprovalRequestData) {
		d.ApprovedBy = []workflows.Approver{{ClientID: "alice", Role: "admin"}}
	})))
	if w.current != nil || !strings.Contains(out.String(), "Approved by you:") {
		t.Fatalf("a request alice approved was asked about:\n%s", out.String())
	}
	out.Reset()
	w.onEvent(s.apply(revisionMsg(t, 1, func(d *workflows.ApprovalRequestData) {
		d.RequiredRole = "admin"
		d.Escalation = &workflows.EscalationState{Level: 1, PreviousRole: "publisher", Since: t0}
	})))
	if w.current == nil || w.current.Revision != 1 || !strings.HasSuffix(out.String(), PromptDecision) {
		t.Fatalf("the escalated request was not asked about:\n%s", out.String())
	}
}
