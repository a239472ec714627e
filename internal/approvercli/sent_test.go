package approvercli

import (
	"testing"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// sent is an approval-response as the CLI published it, read by the wire
// contract the workflows package owns: the message name, the clientId and
// extras.userClaim the Ably server set from the approver's token, the
// headers and the data. The tests of this package read it this way and not
// through the bridge's decoder, because the CLI (untrusted) does not depend
// on the bridge (trusted), not even in tests (TestImportBoundaries). That
// the bridge accepts what the CLI sends is shown where both run, end to end
// (e2e: approve, reject, --edit and --digest through the real bridge).
type sent struct {
	ClientID   string
	Role       string // extras.userClaim
	ToolCallID string // extras.headers.toolCallId
	WorkflowID string // extras.headers.workflowId, empty when absent
	HasWFID    bool   // extras.headers has a workflowId
	workflows.ApprovalResponseData
}

// readSent reads m, failing the test when it is not an approval-response
// of the documented shape.
func readSent(t *testing.T, m *ably.Message) sent {
	t.Helper()
	if m.Name != workflows.MsgApprovalResponse {
		t.Fatalf("message name %q, want %q", m.Name, workflows.MsgApprovalResponse)
	}
	if err := workflows.ValidateMessageID(m.ID); err != nil {
		t.Fatalf("message id %q: %v", m.ID, err)
	}
	s := sent{ClientID: m.ClientID}
	s.Role, _ = m.Extras[workflows.ExtrasUserClaim].(string)
	headers, ok := ablymsg.AsMap(m.Extras[workflows.ExtrasHeaders])
	if !ok {
		t.Fatalf("extras.%s = %v, want an object", workflows.ExtrasHeaders, m.Extras[workflows.ExtrasHeaders])
	}
	s.ToolCallID, _ = headers[workflows.HeaderToolCallID].(string)
	if err := workflows.ValidateToolCallID(s.ToolCallID); err != nil {
		t.Fatalf("extras.headers.%s: %v", workflows.HeaderToolCallID, err)
	}
	if v, present := headers[workflows.HeaderWorkflowID]; present {
		id, ok := v.(string)
		if !ok {
			t.Fatalf("extras.headers.%s = %v, want a string", workflows.HeaderWorkflowID, v)
		}
		if err := workflows.ValidateWorkflowID(id); err != nil {
			t.Fatalf("extras.headers.%s: %v", workflows.HeaderWorkflowID, err)
		}
		s.WorkflowID, s.HasWFID = id, true
	}
	if err := ablymsg.DecodeData(m.Data, m.Encoding, &s.ApprovalResponseData); err != nil {
		t.Fatalf("data: %v", err)
	}
	if d := s.Decision; d != workflows.DecisionApproved && d != workflows.DecisionRejected {
		t.Fatalf("data.decision %q", d)
	}
	if s.ArgumentsDigest != "" {
		if err := workflows.ValidateArgumentsDigest(s.ArgumentsDigest); err != nil {
			t.Fatalf("data.argumentsDigest: %v", err)
		}
	}
	if s.Arguments != "" && (s.Decision != workflows.DecisionApproved || s.ArgumentsDigest == "") {
		t.Fatalf("data.arguments %q with decision %q and digest %q: edited arguments come only with an approval that names the digest it edits",
			s.Arguments, s.Decision, s.ArgumentsDigest)
	}
	return s
}
