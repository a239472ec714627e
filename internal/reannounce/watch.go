package reannounce

import (
	"slices"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/workflows"
)

// ResetWatch is a worker interceptor that tells a Keeper (Keeper.Resets)
// of each agent run made by a Temporal reset (workflows.ResetRunID) when
// the worker sets the run up: at the run's first workflow task on this
// worker, and again when it sets it up anew (evicted from the cache, or
// after a restart). It only looks: no command, nothing the workflow sees,
// so replay is as without it. A run it cannot hand over at once (the
// Keeper busy, Capacity waiting) is left to the keeper's next sweep.
type ResetWatch struct {
	interceptor.WorkerInterceptorBase
	runs chan PendingRun
}

// NewResetWatch returns a ResetWatch that holds up to capacity runs for
// the keeper.
func NewResetWatch(capacity int) *ResetWatch {
	return &ResetWatch{runs: make(chan PendingRun, capacity)}
}

// Runs is what the Keeper reads (Keeper.Resets). Pending is 0: not known.
func (w *ResetWatch) Runs() <-chan PendingRun { return w.runs }

// InterceptWorkflow hands the run to the keeper when it is a reset agent
// run, and changes nothing else.
func (w *ResetWatch) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	info := workflow.GetInfo(ctx)
	if run := workflows.ResetRunID(info); run != "" && slices.Contains(workflows.RegisteredNames(), info.WorkflowType.Name) {
		// Not the workflow's code: the send never blocks, and nothing the
		// run does or records depends on it.
		select { //workflowcheck:ignore: a side channel to the keeper, outside the run's commands
		case w.runs <- PendingRun{WorkflowID: info.WorkflowExecution.ID, RunID: run}:
		default:
		}
	}
	return next
}
