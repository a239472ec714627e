package bridge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

func requestFrom(from, callID, wfID string, expires time.Time) *ably.Message {
	d := workflows.ApprovalRequestData{Tool: "publish_blog_post", Arguments: `{"title":"x"}`, ToolCallID: callID, WorkflowID: wfID,
		RequiredRole: "publisher", Roles: workflows.DefaultRoles, ExpiresAt: expires}
	d.ArgumentsDigest = workflows.ArgumentsDigest(d.Arguments)
	return &ably.Message{Name: workflows.MsgApprovalRequest, ClientID: from, Data: map[string]any{
		"tool": d.Tool, "arguments": d.Arguments, "argumentsDigest": d.ArgumentsDigest, "toolCallId": callID, "workflowId": wfID,
		"requiredRole": d.RequiredRole, "roles": []any{"editor", "publisher", "admin"}, "expiresAt": expires.Format(time.RFC3339Nano)}}
}

func resolvedFrom(from, callID, wfID string) *ably.Message {
	return &ably.Message{Name: workflows.MsgApprovalResolved, ClientID: from, Data: map[string]any{
		"toolCallId": callID, "workflowId": wfID, "tool": "publish_blog_post", "outcome": "approved"}}
}

func TestRequests(t *testing.T) {
	now := time.Now()
	q := newRequests(workflows.DefaultAgentClientID, 3)
	q.apply(requestFrom(workflows.DefaultAgentClientID, "call_1", "wf-1", now.Add(time.Hour)))
	q.apply(requestFrom("mallory", "call_2", "wf-evil", now.Add(time.Hour))) // not the agent: ignored
	q.apply(requestFrom(workflows.DefaultAgentClientID, "call_3", "wf-3", now.Add(-time.Second)))

	if r, open, resolved := q.lookup("call_1", now); !open || resolved || r.WorkflowID != "wf-1" || r.RequiredRole != "publisher" ||
		len(r.Roles) != 3 || r.Digest == "" {
		t.Fatalf("call_1 = %+v open=%v resolved=%v", r, open, resolved)
	}
	if _, open, _ := q.lookup("call_2", now); open {
		t.Fatal("a request from another clientId was taken as the agent's")
	}
	if _, open, _ := q.lookup("call_3", now); open {
		t.Fatal("an expired request counts as open")
	}
	q.apply(resolvedFrom("mallory", "call_1", "wf-1")) // not the agent: ignored
	if _, open, _ := q.lookup("call_1", now); !open {
		t.Fatal("a resolution from another clientId closed the request")
	}
	q.apply(resolvedFrom(workflows.DefaultAgentClientID, "call_1", "wf-1"))
	if _, open, resolved := q.lookup("call_1", now); open || !resolved {
		t.Fatalf("after approval-resolved: open=%v resolved=%v", open, resolved)
	}
	// A request seen again after its resolution (a re-announcement, an
	// out-of-order history) does not reopen it.
	q.apply(requestFrom(workflows.DefaultAgentClientID, "call_1", "wf-1", now.Add(time.Hour)))
	if _, open, _ := q.lookup("call_1", now); open {
		t.Fatal("a resolved request was reopened")
	}
	// Bounded: the oldest entries go first.
	for i := range 5 {
		q.apply(requestFrom(workflows.DefaultAgentClientID, fmt.Sprint("call_n", i), "wf-n", now.Add(time.Hour)))
	}
	if n := len(q.open) + len(q.resolved); n > 3 {
		t.Fatalf("%d entries kept, want at most 3", n)
	}
	if _, open, _ := q.lookup("call_n4", now); !open {
		t.Fatal("the newest request was evicted")
	}
}

// A later revision of a request (escalation, quorum progress, an edit)
// replaces the one known; an older one, or one naming another run, does
// not.
func TestRequestsRevisions(t *testing.T) {
	now := time.Now()
	q := newRequests(workflows.DefaultAgentClientID, 10)
	rev := func(wfID string, n int, role, args string) *ably.Message {
		m := requestFrom(workflows.DefaultAgentClientID, "call_1", wfID, now.Add(time.Hour))
		d := m.Data.(map[string]any)
		d["revision"], d["requiredRole"], d["arguments"], d["argumentsDigest"] = n, role, args, workflows.ArgumentsDigest(args)
		return m
	}
	q.apply(rev("wf-1", 0, "publisher", `{"title":"x"}`))
	q.apply(rev("wf-1", 2, "admin", `{"title":"edited"}`))
	q.apply(rev("wf-1", 1, "publisher", `{"title":"x"}`)) // older: ignored
	q.apply(rev("wf-2", 3, "editor", `{"title":"evil"}`)) // another run: ignored
	r, open, _ := q.lookup("call_1", now)
	if !open || r.WorkflowID != "wf-1" || r.Revision != 2 || r.RequiredRole != "admin" || r.Digest != workflows.ArgumentsDigest(`{"title":"edited"}`) {
		t.Fatalf("call_1 = %+v open=%v, want revision 2 of wf-1", r, open)
	}
}

// A response to a request the agent announced goes to its workflow with
// no visibility lookup and no query; a stale digest is dropped; a response
// to a resolved request is dropped without asking Temporal.
func TestHandleFastPath(t *testing.T) {
	now := time.Now()
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	log, logs := logBuffer(t)
	h := fastHandler(f, log)
	h.requests = newRequests(workflows.DefaultAgentClientID, 100)
	h.requests.apply(requestFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1", now.Add(time.Hour)))

	stale := msg(func(m *ably.Message) {
		m.ID = "stale"
		m.Data = map[string]any{"decision": "approved", "argumentsDigest": workflows.ArgumentsDigest(`{"title":"other"}`)}
	})
	if err := h.Handle(t.Context(), stale); err != nil || len(f.sent()) != 0 {
		t.Fatalf("stale digest: %v, %d signals; want dropped", err, len(f.sent()))
	}
	if err := h.Handle(t.Context(), msg(nil)); err != nil {
		t.Fatal(err)
	}
	sent := f.sent()
	if len(sent) != 1 || sent[0].WorkflowID != "wf-1" {
		t.Fatalf("signals = %+v, want one to wf-1", sent)
	}
	f.mu.Lock()
	lookups, queries := len(f.queries), f.queryCalls
	f.mu.Unlock()
	if lookups != 0 || queries != 0 {
		t.Fatalf("%d visibility lookups and %d queries, want none on the fast path", lookups, queries)
	}
	h.requests.apply(resolvedFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1"))
	late := msg(func(m *ably.Message) { m.ID = "late" })
	if err := h.Handle(t.Context(), late); err != nil || len(f.sent()) != 1 {
		t.Fatalf("late response: %v, %d signals; want dropped", err, len(f.sent()))
	}
	if want := "the agent announced the tool call resolved"; !strings.Contains(logs(), want) {
		t.Errorf("logs lack %q", want)
	}
}
