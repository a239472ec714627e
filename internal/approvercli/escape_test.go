package approvercli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

// Every field of a request, a resolution or a not-counted notice is text
// someone else wrote (the reason and the approver's name come from other
// approvers): none reaches the terminal with a raw escape character.
func TestWriteEscapesEveryField(t *testing.T) {
	const evil = "x\x1b[2J\x1b]0;owned\ay"
	tests := []struct {
		name  string
		write func(w *bytes.Buffer)
	}{
		{"request tool", func(w *bytes.Buffer) { r := escReq(); r.Tool = evil; writeRequest(w, r, t0) }},
		{"request requester", func(w *bytes.Buffer) { r := escReq(); r.Requester = evil; writeRequest(w, r, t0) }},
		{"request required role", func(w *bytes.Buffer) { r := escReq(); r.RequiredRole = evil; writeRequest(w, r, t0) }},
		{"request tool call id", func(w *bytes.Buffer) { r := escReq(); r.ToolCallID = evil; writeRequest(w, r, t0) }},
		{"request workflow id", func(w *bytes.Buffer) { r := escReq(); r.WorkflowID = evil; writeRequest(w, r, t0) }},
		{"request run id", func(w *bytes.Buffer) { r := escReq(); r.RunID = evil; writeRequest(w, r, t0) }},
		{"request editor", func(w *bytes.Buffer) {
			r := escReq()
			r.EditedBy = &workflows.Approver{ClientID: evil, Role: "publisher"}
			writeRequest(w, r, t0)
		}},
		{"resolved tool", func(w *bytes.Buffer) { d := escResolved(); d.Tool = evil; writeResolved(w, d) }},
		{"resolved tool call id", func(w *bytes.Buffer) { d := escResolved(); d.ToolCallID = evil; writeResolved(w, d) }},
		{"resolved outcome", func(w *bytes.Buffer) { d := escResolved(); d.Outcome = evil; writeResolved(w, d) }},
		{"resolved decided by", func(w *bytes.Buffer) { d := escResolved(); d.DecidedBy = evil; writeResolved(w, d) }},
		{"resolved role", func(w *bytes.Buffer) { d := escResolved(); d.Role = evil; writeResolved(w, d) }},
		{"resolved reason", func(w *bytes.Buffer) { d := escResolved(); d.Reason = evil; writeResolved(w, d) }},
		{"resolved quorum approver", func(w *bytes.Buffer) {
			d := escResolved()
			d.ApprovedBy = []workflows.Approver{{ClientID: "alice", Role: "admin"}, {ClientID: evil, Role: evil}}
			writeResolved(w, d)
		}},
		{"not counted tool", func(w *bytes.Buffer) { d := escIgnored(); d.Tool = evil; writeNotCounted(w, d) }},
		{"not counted tool call id", func(w *bytes.Buffer) { d := escIgnored(); d.ToolCallID = evil; writeNotCounted(w, d) }},
		{"not counted reason", func(w *bytes.Buffer) { d := escIgnored(); d.Reason = evil; writeNotCounted(w, d) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.write(&buf)
			out := buf.String()
			if strings.ContainsAny(out, "\x1b\a") {
				t.Fatalf("raw control character reached the terminal:\n%q", out)
			}
			if !strings.Contains(out, `x\x1b[2J\x1b]0;owned\ay`) {
				t.Errorf("output lacks the field, quoted:\n%q", out)
			}
		})
	}
}

func escReq() Request {
	return Request{ApprovalRequestData: reqData("call_1", "wf-1", t0.Add(time.Hour))}
}

func escResolved() workflows.ApprovalResolvedData {
	return workflows.ApprovalResolvedData{Tool: "publish_blog_post", ToolCallID: "call_1", WorkflowID: "wf-1", Outcome: "rejected", DecidedBy: "alice", Role: "publisher", Reason: "no"}
}

func escIgnored() workflows.ApprovalIgnoredData {
	return workflows.ApprovalIgnoredData{Tool: "publish_blog_post", ToolCallID: "call_1", WorkflowID: "wf-1", Approver: "eve", Reason: "insufficient role"}
}
