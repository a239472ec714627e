package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestLookupIgnoresForgedRunOnAgentQueue: a starter may start any
// workflow type on the agent's own task queue. A type no worker has
// fails every workflow task and stays Running with the search attributes
// it was started with: RunsOnTaskQueue names the agent's types too.
func TestLookupIgnoresForgedRunOnAgentQueue(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  string
		arg  any
	}{{"unregistered type", "NoSuchWorkflowType", "x"}} {
		t.Run(tc.name, func(t *testing.T) { forgedRun(t, tc.typ, tc.arg) })
	}
}

func forgedRun(t *testing.T, forgedType string, forgedArg any) {
	c := startTemporal(t)
	ctx := t.Context()
	forged, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wf-forged-q", TaskQueue: workflows.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SAToolCallIDs.ValueSet([]string{"call_q1"}), workflows.SAPendingApprovals.ValueSet(1))},
		forgedType, forgedArg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), forged.GetID(), "", "test over") })
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wf-real-q", TaskQueue: workflows.TaskQueue}, workflows.WorkflowName, "call_q1", "publisher")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "visibility of both runs", func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "ApprovalToolCallIDs = 'call_q1' AND ExecutionStatus = 'Running'"})
		return err == nil && len(resp.GetExecutions()) == 2
	})
	testutil.WaitFor(t, 15*time.Second, "the forged run's first workflow task to fail", func() (bool, error) {
		return workflowTaskFailed(ctx, c, forged.GetID(), forged.GetRunID())
	})
	pending, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: workflows.PendingRunsQuery()})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range pending.GetExecutions() {
		if e.GetExecution().GetWorkflowId() == "wf-forged-q" {
			t.Errorf("PendingRunsQuery lists the forged run on the agent's task queue (type %s)", e.GetType().GetName())
		}
	}
	log, logs := logBuffer(t)
	h := fastHandler(c, log)
	h.CallTimeout = 10 * time.Second
	if err := h.Handle(ctx, msg(func(m *ably.Message) { m.Extras["headers"] = map[string]any{"toolCallId": "call_q1"} })); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if strings.Contains(logs(), "more than one running workflow") {
		t.Errorf("the guide-shaped decision was dropped as ambiguous:\n%s", logs())
	}
	_ = run
}

// workflowTaskFailed reports whether the history of the run holds a
// failed workflow task.
func workflowTaskFailed(ctx context.Context, c client.Client, id, runID string) (bool, error) {
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return false, err
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED {
			return true, nil
		}
	}
	return false, nil
}
