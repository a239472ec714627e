package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hitl/durable-approvals/workflows"
)

// TestReplayedApprovalsOfADeniedCall: the bridge signs every decision it
// forwards, also those the run does not count (the requester's own under
// distinctFromRequester, a lower role after an escalation, a late one).
// A call the run denied must not run when a workflow of someone else's,
// started under the closed run's workflow id (Temporal's default id reuse
// policy allows it), passes those decisions to ExecuteTool.
func TestReplayedApprovalsOfADeniedCall(t *testing.T) {
	s := newStack(t, rulesPolicy)
	id := s.startRunAs(users["publisher"].name, "Publish the blog post called 'Replay target'")
	p := s.waitPending(id, 1)[0]
	// The requester's own approval: signed, forwarded, not counted.
	s.guideResponse("publisher", p.ToolCallID, workflows.DecisionApproved, nil)
	s.waitAudit(id, "the requester's ignored approval", func(e workflows.AuditEntry) bool {
		return e.Kind == workflows.AuditIgnored && e.Actor == users["publisher"].name
	})
	// One other publisher: 1 of 2.
	s.guideResponse("publisher2", p.ToolCallID, workflows.DecisionApproved, nil)
	s.waitAudit(id, "the first approval counted", func(e workflows.AuditEntry) bool {
		return e.Kind == workflows.AuditCounted && e.Actor == users["publisher2"].name
	})
	// An admin rejects: the call is denied and the run ends.
	if out, err := s.cli("admin", "reject", p.ToolCallID, "--reason", "no"); err != nil {
		t.Fatalf("reject: %v\n%s", err, out)
	}
	res := s.result(id)
	if n := count(res.Audit, workflows.AuditExecuted, p.ToolCallID); n != 0 {
		t.Fatalf("the rejected call ran")
	}

	// The signed approvals are in the closed run's history.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var approvals []workflows.Decision
	it := s.tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		a := ev.GetWorkflowExecutionSignaledEventAttributes()
		if a == nil || a.GetSignalName() != workflows.DecisionSignal {
			continue
		}
		var d workflows.Decision
		if err := converter.GetDefaultDataConverter().FromPayloads(a.GetInput(), &d); err != nil {
			t.Fatal(err)
		}
		if d.Decision == workflows.DecisionApproved && d.ToolCallID == p.ToolCallID {
			approvals = append(approvals, d)
		}
	}
	if len(approvals) != 2 {
		t.Fatalf("signed approvals in the history: %+v", approvals)
	}

	// A rogue workflow under the same workflow id; neither approval named
	// a digest, so any arguments will do.
	rogue := s.startRogueWorker(t)
	title := fmt.Sprintf("Replayed %d", time.Now().UnixNano())
	req := workflows.ToolRequest{WorkflowID: id, CallID: p.ToolCallID, Name: "publish_blog_post",
		Arguments: jsonText(t, map[string]string{"title": title, "body": "never approved"}), Approvals: approvals}
	wr, err := rogue.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: rogue.queue, WorkflowExecutionTimeout: 2 * rogueActivityScheduleWait},
		rogueExecuteToolName, req)
	if err != nil {
		t.Fatalf("start the rogue workflow under %s: %v", id, err)
	}
	err = wr.Get(ctx, nil)
	if got := postsWith(t, s, title); len(got) != 0 || err == nil || !strings.Contains(err.Error(), workflows.ErrTypeNotApproved) {
		t.Fatalf("rogue ExecuteTool with the rejected call's approvals: err %v, posts %v", err, got)
	}
}
