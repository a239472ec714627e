package workflows

import (
	"testing"
	"time"
)

func TestCopyMessageID(t *testing.T) {
	key := []byte("0123456789abcdef")
	orig := AgentMessageID(key, "wf-1", "call_1", "request")
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	id := CopyMessageID(key, orig, at)
	if err := ValidateMessageID(id); err != nil || id == orig {
		t.Fatalf("CopyMessageID = %q (%v), want a valid id other than the original %q", id, err, orig)
	}
	tests := []struct {
		name string
		key  []byte
		id   string
		at   time.Time
		same bool
	}{
		{"same minute, other zone", key, orig, at.Add(59 * time.Second).In(time.FixedZone("X", 3600)), true},
		{"next minute", key, orig, at.Add(time.Minute), false},
		{"another original", key, AgentMessageID(key, "wf-1", "call_1", "request-1"), at, false},
		{"another key", []byte("fedcba9876543210"), orig, at, false},
	}
	for _, tc := range tests {
		if got := CopyMessageID(tc.key, tc.id, tc.at); (got == id) != tc.same {
			t.Errorf("%s: %q, same as %q: %v, want %v", tc.name, got, id, got == id, tc.same)
		}
	}
}

// TestClosedRunMessage: the keeper's resolution of a call whose run ended
// without resolving it has an id every keeper makes alike, and no other
// agent message has.
func TestClosedRunMessage(t *testing.T) {
	key := []byte("0123456789abcdef")
	d := ApprovalResolvedData{WorkflowID: "wf-1", ToolCallID: "call_1", Tool: "publish_blog_post", Outcome: OutcomeCancelled}
	m, err := d.ClosedRunMessage(key, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateMessageID(m.ID); err != nil || m.Name != MsgApprovalResolved || m.Headers[HeaderToolCallID] != "call_1" || m.Headers[HeaderWorkflowID] != "wf-1" {
		t.Fatalf("ClosedRunMessage = %+v (%v)", m, err)
	}
	if again, _ := d.ClosedRunMessage(key, "run-a"); again.ID != m.ID {
		t.Errorf("the same closed run gives another id: %q, %q", again.ID, m.ID)
	}
	own, err := d.Message(key)
	if err != nil {
		t.Fatal(err)
	}
	reset := d
	reset.RunID = "run-r"
	resetID, _ := reset.ClosedRunMessage(key, "run-a")
	otherRun, _ := d.ClosedRunMessage(key, "run-b")
	otherCall := d
	otherCall.ToolCallID = "call_2"
	otherCallID, _ := otherCall.ClosedRunMessage(key, "run-a")
	for name, id := range map[string]string{
		"the run's own approval-resolved": own.ID,
		"a reset run's request asked":     resetID.ID,
		"another closed run":              otherRun.ID,
		"another call":                    otherCallID.ID,
		"the call's request":              AgentMessageID(key, "wf-1", "call_1", "request"),
	} {
		if id == m.ID {
			t.Errorf("%s has the same id %q", name, id)
		}
	}
	if _, err := d.ClosedRunMessage(key, ""); err == nil {
		t.Error("no closed run id: no error")
	}
	if _, err := d.ClosedRunMessage(key, "run a"); err == nil {
		t.Error("a closed run id with a space: no error")
	}
}
