package ablymsg

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

// testIDKey keys the agent's message ids in these tests.
var testIDKey = []byte("0123456789abcdef0123456789abcdef")

func TestAgentApprovalRequest(t *testing.T) {
	d := workflows.ApprovalRequestData{
		Tool: "publish_blog_post", Arguments: `{"title":"T"}`, ToolCallID: "call_1", WorkflowID: "hitl-1",
		RequiredRole: "publisher", Requester: "sam",
		RequestedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ExpiresAt: time.Date(2026, 1, 2, 3, 14, 5, 0, time.UTC),
	}
	am, err := d.Message(testIDKey)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Agent(am)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != workflows.AgentMessageID(testIDKey, "hitl-1", "call_1", "request") || m.Name != workflows.MsgApprovalRequest {
		t.Errorf("id %q name %q", m.ID, m.Name)
	}
	headers, _ := m.Extras["headers"].(map[string]any)
	if headers[workflows.HeaderToolCallID] != "call_1" || headers[workflows.HeaderWorkflowID] != "hitl-1" {
		t.Errorf("headers = %v", m.Extras)
	}
	if _, ok := m.Data.(map[string]any); !ok {
		t.Errorf("data is %T, want a map (sent as JSON with encoding json)", m.Data)
	}
	b, err := json.Marshal(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	var back workflows.ApprovalRequestData
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, d) {
		t.Errorf("data round trip = %+v, %v; want %+v", back, err, d)
	}
	for _, bad := range []workflows.ApprovalRequestData{{ToolCallID: "call_1"}, {WorkflowID: "hitl-1"}} {
		if _, err := bad.Message(testIDKey); err == nil {
			t.Errorf("Message(%+v): no error", bad)
		}
	}
}

func TestAgentApprovalResolved(t *testing.T) {
	d := workflows.ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: "hitl-1", Tool: "t", Outcome: workflows.OutcomeApproved, DecidedBy: "pat"}
	am, err := d.Message(testIDKey)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Agent(am)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != workflows.AgentMessageID(testIDKey, "hitl-1", "call_1", "resolved") || m.Name != workflows.MsgApprovalResolved {
		t.Errorf("id %q name %q", m.ID, m.Name)
	}
	var back workflows.ApprovalResolvedData
	if err := DecodeData(m.Data, m.Encoding, &back); err != nil || !reflect.DeepEqual(back, d) {
		t.Errorf("DecodeData = %+v, %v; want %+v", back, err, d)
	}
}

func TestAgentRefusesNonObjectData(t *testing.T) {
	if _, err := Agent(workflows.AgentMessage{ID: "x", Name: "n", Data: []int{1}}); err == nil {
		t.Fatal("Agent with array data: no error")
	}
}
