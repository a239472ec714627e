package reannounce

import (
	"context"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// waiter stands in for the agent workflow at the Temporal seam: it counts
// its pending approvals in the search attribute, answers the approvals
// query, and waits to be told to end.
func waiter(ctx workflow.Context, _ workflows.AgentInput, view workflows.ApprovalsView) error {
	if len(view.Pending) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(ctx, workflows.SAPendingApprovals.ValueSet(int64(len(view.Pending)))); err != nil {
			return err
		}
	}
	if err := workflow.SetQueryHandler(ctx, workflows.ApprovalsQuery, func() (workflows.ApprovalsView, error) { return view, nil }); err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, "end").Receive(ctx, nil)
	return nil
}

type recordingPublisher struct{ msgs []*ably.Message }

func (p *recordingPublisher) Publish(_ context.Context, _ string, m *ably.Message) error {
	p.msgs = append(p.msgs, m)
	return nil
}

func TestTemporalAgainstDevServer(t *testing.T) {
	c := startWaiters(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	view := workflows.ApprovalsView{
		Roles: []string{"editor", "publisher", "admin"},
		Pending: []workflows.PendingApproval{
			{ToolCallID: "call_a", Tool: "publish_blog_post", Arguments: `{"title":"A"}`, RequiredRole: "publisher", RequestedAt: now, ExpiresAt: now.Add(time.Hour)},
			{ToolCallID: "call_b", Tool: "delete_post", Arguments: `{"slug":"b"}`, RequiredRole: "admin", RequestedAt: now, ExpiresAt: now.Add(time.Hour)},
		},
	}
	start := func(id string, v workflows.ApprovalsView) {
		t.Helper()
		in := workflows.AgentInput{Prompt: "p", Requester: "sam"}
		if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.WorkflowName, in, v); err != nil {
			t.Fatal(err)
		}
	}
	start("wf-waits", view)
	start("wf-idle", workflows.ApprovalsView{})
	testutil.Eventually(t, 15*time.Second, "the pending run in visibility", func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: workflows.PendingRunsQuery()})
		return err == nil && len(resp.GetExecutions()) == 1
	})

	idKey := []byte("0123456789abcdef-message-id-key")
	tp := NewTemporal(c, "default")
	runs, more, err := tp.PendingRuns(ctx, 10)
	if err != nil || more || len(runs) != 1 || runs[0].WorkflowID != "wf-waits" || runs[0].Pending != 2 {
		t.Fatalf("PendingRuns = %+v, %v, %v; want wf-waits with 2 pending", runs, more, err)
	}
	reqs, err := tp.Requests(ctx, runs[0])
	if err != nil || len(reqs) != 2 {
		t.Fatalf("Requests = %d requests, %v", len(reqs), err)
	}
	for i, d := range reqs {
		p := view.Pending[i]
		if d.WorkflowID != "wf-waits" || d.Requester != "sam" || d.ToolCallID != p.ToolCallID || d.RequiredRole != p.RequiredRole || d.Arguments != p.Arguments || len(d.Roles) != 3 {
			t.Errorf("request %d: %+v", i, d)
		}
	}

	// All publishes them as the workflow did: same ids.
	pub := &recordingPublisher{}
	n, err := All(ctx, tp, idKey, testChannel, pub, 10)
	if err != nil || n != 2 || len(pub.msgs) != 2 {
		t.Fatalf("All = %d, %v (%d published)", n, err, len(pub.msgs))
	}
	for i, m := range pub.msgs {
		if want := workflows.AgentMessageID(idKey, "wf-waits", view.Pending[i].ToolCallID, "request"); m.ID != want {
			t.Errorf("message %d id %q, want the workflow's %q", i, m.ID, want)
		}
		var d workflows.ApprovalRequestData
		if err := ablymsg.DecodeData(m.Data, m.Encoding, &d); err != nil || d.Requester != "sam" {
			t.Errorf("message %d data %+v, %v", i, d, err)
		}
	}
	if _, more, _ := tp.PendingRuns(ctx, 0); !more {
		t.Error("PendingRuns(0) did not say there were more")
	}
	if id := tp.ResetRunID(ctx, runs[0]); id != "" {
		t.Errorf("an ordinary run has ResetRunID %q", id)
	}

	// A run made by a reset of wf-waits is known as one.
	replaced := runs[0]
	reset, err := c.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "wf-waits", RunId: runs[0].RunID},
		Reason: "test", WorkflowTaskFinishEventId: 4, RequestId: "reset-wf-waits",
	})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "the reset run listed as one", func() bool {
		runs, _, err = tp.PendingRuns(ctx, 10)
		return err == nil && len(runs) == 1 && runs[0].RunID == reset.GetRunId() && tp.ResetRunID(ctx, runs[0]) == reset.GetRunId()
	})
	// The run the reset replaced (terminated) waits for nobody: its calls
	// are not pending, though its approvals query, answered by replaying
	// it, still lists them. The keeper's SweepRuns is given runs as a
	// worker sets them up (ResetWatch), not from the listing of running
	// ones, and must not publish them again.
	if reqs, err := tp.Requests(ctx, replaced); err != nil || len(reqs) != 0 {
		t.Errorf("Requests of the replaced, terminated run = %d requests, %v; want none", len(reqs), err)
	}
}

// startWaiters starts a dev server with a worker that runs waiter as the
// agent's workflow on its task queue, and returns its client.
func startWaiters(t *testing.T) client.Client {
	t.Helper()
	c := temporaltest.StartDevServer(t).Client()
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(waiter, workflow.RegisterOptions{Name: workflows.WorkflowName})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return c
}
