package reannounce

import (
	"testing"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/workflows"
)

// TestResetWatchLeavesOtherRuns: a run that no reset made, of the agent's
// workflow or another, is not handed to the keeper (only a reset run's
// calls may need publishing again as the worker first runs it).
func TestResetWatchLeavesOtherRuns(t *testing.T) {
	for _, name := range []string{workflows.WorkflowName, "SomethingElse"} {
		t.Run(name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			w := NewResetWatch(4)
			env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{w}})
			env.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: name})
			env.ExecuteWorkflow(name)
			if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
				t.Fatalf("the run did not complete: %v", env.GetWorkflowError())
			}
			if n := len(w.Runs()); n != 0 {
				t.Errorf("%d runs handed to the keeper, want none: %v", n, <-w.Runs())
			}
		})
	}
}
