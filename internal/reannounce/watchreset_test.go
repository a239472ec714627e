package reannounce

import (
	"context"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestResetWatchHandsOnlyAgentResets: a run made by a Temporal reset is
// handed to the keeper when its workflow type is one of the agent's
// (workflows.RegisteredNames), as the worker first runs it; a reset run of
// another workflow type the worker runs is not: the keeper queries and
// publishes for agent runs only (ResetWatch's doc: "each agent run made by
// a Temporal reset").
func TestResetWatchHandsOnlyAgentResets(t *testing.T) {
	c := temporaltest.StartDevServer(t).Client()
	watch := NewResetWatch(8)
	w := worker.New(c, workflows.TaskQueue, worker.Options{Interceptors: []interceptor.WorkerInterceptor{watch}})
	waits := func(ctx workflow.Context) error {
		workflow.GetSignalChannel(ctx, "done").Receive(ctx, nil)
		return nil
	}
	tests := []struct {
		name   string
		handed bool
	}{
		{name: workflows.WorkflowName, handed: true},
		{name: workflows.WorkflowNameV1, handed: true},
		{name: "SomethingElse", handed: false},
	}
	for _, tt := range tests {
		w.RegisterWorkflowWithOptions(waits, workflow.RegisterOptions{Name: tt.name})
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			t.Cleanup(cancel)
			wfID := "reset-" + tt.name
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: workflows.TaskQueue}, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), wfID, "", "test over") })
			first := taskCompleted(t, c, wfID, run.GetRunID(), 0)
			resp, err := c.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
				Namespace:                 "default",
				WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: wfID, RunId: run.GetRunID()},
				Reason:                    "test: a reset run",
				WorkflowTaskFinishEventId: first,
				RequestId:                 "reset-" + run.GetRunID(),
			})
			if err != nil {
				t.Fatal(err)
			}
			reset := resp.GetRunId()
			// The worker ran the reset run's first workflow task: the
			// watch saw it set up.
			taskCompleted(t, c, wfID, reset, first)
			var got []PendingRun
			for len(watch.Runs()) > 0 && len(got) < 8 {
				got = append(got, <-watch.Runs())
			}
			want := 0
			if tt.handed {
				want = 1
			}
			if len(got) != want || (want == 1 && got[0] != PendingRun{WorkflowID: wfID, RunID: reset}) {
				t.Errorf("runs handed to the keeper: %+v; want %d, of run %s/%s", got, want, wfID, reset)
			}
		})
	}
}

// taskCompleted waits for a WorkflowTaskCompleted event after event after
// in the history of run runID of wfID, and returns its id.
func taskCompleted(t *testing.T, c client.Client, wfID, runID string, after int64) int64 {
	t.Helper()
	var id int64
	testutil.WaitFor(t, 30*time.Second, "a workflow task completed in run "+runID, func() (bool, error) {
		it := c.GetWorkflowHistory(t.Context(), wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return false, err
			}
			if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && e.GetEventId() > after {
				id = e.GetEventId()
				return true, nil
			}
		}
		return false, nil
	})
	return id
}
