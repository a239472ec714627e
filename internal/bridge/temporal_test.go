package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// approvalWaiter stands in for the agent workflow at the Temporal seam: it
// lists its tool-call ids in the search attribute, answers the approvals
// query, and returns the first decision it is signalled.
func approvalWaiter(ctx workflow.Context, toolCallID, requiredRole string) (workflows.Decision, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, workflows.SAToolCallIDs.ValueSet([]string{toolCallID})); err != nil {
		return workflows.Decision{}, err
	}
	view := workflows.ApprovalsView{
		Roles:   []string{"editor", "publisher", "admin"},
		Pending: []workflows.PendingApproval{{ToolCallID: toolCallID, Tool: "publish_blog_post", RequiredRole: requiredRole}},
	}
	if err := workflow.SetQueryHandler(ctx, workflows.ApprovalsQuery, func() (workflows.ApprovalsView, error) { return view, nil }); err != nil {
		return workflows.Decision{}, err
	}
	var d workflows.Decision
	workflow.GetSignalChannel(ctx, workflows.DecisionSignal).Receive(ctx, &d)
	return d, nil
}

// startTemporal runs the Temporal dev server (the CLI binary the repo
// builds into .bin) with the project's search attributes, and a worker for
// approvalWaiter.
func startTemporal(t *testing.T) client.Client {
	t.Helper()
	srv := temporaltest.StartDevServer(t)
	c := srv.Client()
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(approvalWaiter, workflow.RegisterOptions{Name: workflows.WorkflowName})
	if err := w.Start(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	t.Cleanup(w.Stop)
	return c
}

func TestHandleAgainstTemporal(t *testing.T) {
	c := startTemporal(t)
	ctx := t.Context()
	start := func(id, toolCallID, role string) client.WorkflowRun {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.WorkflowName, toolCallID, role)
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	visible := func(toolCallID string, n int) {
		t.Helper()
		q, err := VisibilityQuery(toolCallID)
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 15*time.Second, "visibility of "+toolCallID, func() bool {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q})
			return err == nil && len(resp.GetExecutions()) == n
		})
	}

	// Whoever may start a run sets its first search attributes: a run on a
	// queue no worker polls, started listing call_abc123, keeps them. The
	// lookup counts only runs on the agent's task queue.
	forged, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wf-forged", TaskQueue: "nobody-polls",
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SAToolCallIDs.ValueSet([]string{"call_abc123"}), workflows.SAPendingApprovals.ValueSet(1))},
		approvalWaiter, "call_abc123", "editor")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), forged.GetID(), "", "test over") })
	testutil.Eventually(t, 15*time.Second, "visibility of the forged run", func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "ApprovalToolCallIDs = 'call_abc123' AND ExecutionStatus = 'Running'"})
		return err == nil && len(resp.GetExecutions()) == 1
	})

	// One workflow waits for call_abc123: a guide-shaped response (no
	// workflowId) is routed to it through the visibility query.
	run := start("wf-real-1", "call_abc123", "admin")
	visible("call_abc123", 1)
	pending, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: workflows.PendingRunsQuery()})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range pending.GetExecutions() {
		if e.GetExecution().GetWorkflowId() == "wf-forged" {
			t.Errorf("PendingRunsQuery lists the run off the agent's task queue")
		}
	}
	log, logs := logBuffer(t)
	h := fastHandler(c, log)
	h.CallTimeout = 10 * time.Second
	if err := h.Handle(ctx, msg(nil)); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var got workflows.Decision
	if err := run.Get(ctx, &got); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	want := workflows.Decision{ToolCallID: "call_abc123", Decision: "approved", ApproverClientID: "alice", ApproverRole: "publisher",
		AblyMessageID: "conn1:0:0", PublishedAt: time.UnixMilli(1_700_000_000_000).UTC(), WorkflowID: "wf-real-1", KeyID: testSigner.KeyID()}
	if err := testVerifier.Verify(got); err != nil {
		t.Fatalf("the decision the workflow got does not verify: %v", err)
	}
	got.Signature = ""
	if got != want {
		t.Fatalf("workflow got %+v, want %+v", got, want)
	}
	if !strings.Contains(logs(), "insufficient role: publisher < admin") {
		t.Errorf("the real query's verdict is not logged:\n%s", logs())
	}

	// The finished workflow no longer matches; two running workflows with
	// the same tool-call id are ambiguous. Neither is signalled.
	start("wf-real-2", "call_dup", "publisher")
	start("wf-real-3", "call_dup", "publisher")
	visible("call_dup", 2)
	visible("call_abc123", 0)
	for _, id := range []string{"call_abc123", "call_dup"} {
		m := msg(func(m *ably.Message) { m.Extras["headers"] = map[string]any{"toolCallId": id} })
		if err := h.Handle(ctx, m); err != nil {
			t.Fatalf("Handle(%s): %v", id, err)
		}
	}
	if s := logs(); !strings.Contains(s, `no running workflow has tool call \"call_abc123\"`) || !strings.Contains(s, `more than one running workflow has tool call \"call_dup\"`) {
		t.Fatalf("unroutable responses not dropped as expected:\n%s", s)
	}
}
