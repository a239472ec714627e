package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The run's steps that reach the outside world. In runs of versionFastPath
// the Ably publishes, and the tools the worker marks local, run as local
// activities: a marker in the history instead of three activity events and
// a workflow task, so a decision reaches the tool sooner and a run's history
// stays short. Older runs keep the activities they were recorded with.

// publishRetry is the retry policy of the Ably publishes (idempotent: fixed
// message ids).
func publishRetry() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		MaximumAttempts:    5,
	}
}

// fast reports whether the run takes the fast path (see versions.go).
func (r *run) fast() bool { return r.version >= versionFastPath }

// publish runs the publish activity name with in: as a local activity on
// the fast path. summary labels it in the Web UI.
func (r *run) publish(ctx workflow.Context, name string, in any, summary string) workflow.Future {
	if r.fast() {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy:         publishRetry(),
			Summary:             summary,
		})
		return workflow.ExecuteLocalActivity(lctx, name, in)
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, publishActivityOptions(summary)), name, in)
}

// publishBestEffort runs the publish activity name with few, short
// attempts, for announcements a cancelled run still owes.
func (r *run) publishBestEffort(ctx workflow.Context, name string, in any, summary string) workflow.Future {
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3}
	if r.fast() {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout:    10 * time.Second,
			ScheduleToCloseTimeout: 30 * time.Second,
			RetryPolicy:            retry,
			Summary:                summary,
		})
		return workflow.ExecuteLocalActivity(lctx, name, in)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy:            retry,
		Summary:                summary,
	})
	return workflow.ExecuteActivity(actx, name, in)
}

// startTool schedules the tool call c: as a local activity on the fast
// path when the worker marks the tool local (short and idempotent).
// approvals are the signed decisions that approved it (none for a tool
// that needs no approval), which the worker checks again.
func (r *run) startTool(ctx workflow.Context, c ToolCall, approvedBy string, approvals []Decision) workflow.Future {
	req := ToolRequest{WorkflowID: r.workflowID, CallID: c.CallID, Name: c.Name, Arguments: c.Arguments, ApprovedBy: approvedBy, Approvals: approvals}
	opts := toolActivityOptions(c, r.toolRetry)
	if r.fast() && r.localTools[c.Name] {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			ScheduleToCloseTimeout: toolLocalWindow(r.toolRetry, opts.StartToCloseTimeout),
			StartToCloseTimeout:    opts.StartToCloseTimeout,
			RetryPolicy:            opts.RetryPolicy,
			Summary:                opts.Summary,
		})
		return workflow.ExecuteLocalActivity(lctx, ActivityExecuteTool, req)
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ActivityExecuteTool, req)
}

// finishTool waits for the tool started by startTool and returns its output
// for the model, and whether the tool failed. A tool failure is returned as
// output ("tool failed: ..."); only cancellation of the run is an error.
func (r *run) finishTool(ctx workflow.Context, c ToolCall, approvedBy string, f workflow.Future) (output string, failed bool, err error) {
	var res ToolResult
	if err := f.Get(ctx, &res); err != nil {
		if temporal.IsCanceledError(err) {
			return "", false, err
		}
		msg := truncate(errorMessage(err), maxToolErrorLen)
		workflow.GetLogger(ctx).Warn("tool failed", "tool", c.Name, "callId", c.CallID, "error", err)
		r.record(ctx, AuditEntry{Kind: AuditFailed, ToolCallID: c.CallID, Tool: c.Name, Actor: approvedBy, Reason: msg})
		return "tool failed: " + msg, true, nil
	}
	r.record(ctx, AuditEntry{Kind: AuditExecuted, ToolCallID: c.CallID, Tool: c.Name, Actor: approvedBy})
	return truncate(res.Output, maxToolOutputLen), false, nil
}

// executeTool runs the tool call c and returns its output for the model.
func (r *run) executeTool(ctx workflow.Context, c ToolCall, approvedBy string) (string, error) {
	out, _, err := r.finishTool(ctx, c, approvedBy, r.startTool(ctx, c, approvedBy, nil))
	return out, err
}

// resolvedSummary labels an approval-resolved publish.
func resolvedSummary(outcome string, c ToolCall) string {
	return fmt.Sprintf("approval %s: %s (%s)", outcome, c.Name, c.CallID)
}
