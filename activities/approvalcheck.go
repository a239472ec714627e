package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/workflows"
)

// checkApproval lets a tool call run only when the worker itself can see
// that it was approved: the workflow decides, but the activity's caller
// is whoever may schedule an activity on the task queue, which Temporal's
// namespace permissions do not narrow to the agent's workflow (a workflow
// of someone else's, on a worker of their own, scheduled ExecuteTool with
// any tool and arguments, and the tool ran; checkCaller, asked first, now
// refuses such a caller). So the request is for the calling run (the
// workflow id Temporal gives the activity), and, for a tool the worker's
// policy makes wait for a human, it carries signed decisions
// (ToolRequest.Approvals) that:
//   - the worker's verify keys, or its retired ones, accept (the bridge
//     signed them; a rotation's old key, once retired, approves no new
//     decision, but the calls the run counted under it still run);
//   - approve this run's call, published at most MaxDecisionAge ago;
//   - come from roles the policy accepts for the tool, from at least its
//     number of distinct approvers;
//   - name these arguments: an edit whose canonical form is them, or the
//     digest of them. A decision that names no digest (an approver client
//     written against the guide sends none) binds no arguments here; the
//     run bound it to the arguments it announced.
//
// Escalation stages only raise the role a call needs, so the policy's
// first role is the floor checked here; separation from the requester is
// the run's to check (the requester is the run's input).
func (a *Activities) checkApproval(ctx context.Context, req workflows.ToolRequest) (refusal string, err error) {
	run := activity.GetInfo(ctx).WorkflowExecution.ID
	if req.WorkflowID != run {
		return refusedApproval, notApproved("the request names run %q, but run %q asked for it", req.WorkflowID, run)
	}
	tp, ok := a.policy.Policy.Tools[req.Name]
	if !ok {
		return refusedApproval, notApproved("tool %q has no policy on this worker", req.Name)
	}
	if !tp.NeedsApproval() {
		return "", nil
	}
	if len(req.Approvals) == 0 {
		return refusedApproval, notApproved("%s needs an approval (%s or higher), and the request carries none", req.Name, tp.MinRole)
	}
	digest := workflows.ArgumentsDigest(req.Arguments)
	approvers := map[string]bool{}
	for i, d := range req.Approvals {
		if err := a.approves(d, req, tp, run, digest); err != nil {
			refusal = refusedApproval
			if errors.Is(err, signing.ErrUnknownKey) {
				refusal = refusedUnknownKey
			}
			return refusal, notApproved("approval %d (%s): %v", i+1, d.ApproverClientID, err)
		}
		approvers[d.ApproverClientID] = true
	}
	if need := tp.RequiredApprovals(); len(approvers) < need {
		return refusedApproval, notApproved("%s needs %d distinct approvers, the request carries %d", req.Name, need, len(approvers))
	}
	return "", nil
}

// approves checks one decision d of checkApproval.
func (a *Activities) approves(d workflows.Decision, req workflows.ToolRequest, tp workflows.ToolPolicy, run, digest string) error {
	switch {
	case d.Decision != workflows.DecisionApproved:
		return fmt.Errorf("decision %q, not an approval", d.Decision)
	case d.WorkflowID != run:
		return fmt.Errorf("signed for run %q", d.WorkflowID)
	case d.ToolCallID != req.CallID:
		return fmt.Errorf("signed for call %q", d.ToolCallID)
	}
	if err := a.verifier.VerifyCounted(d); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	if d.PublishedAt.IsZero() {
		return fmt.Errorf("no publish time")
	}
	if age := a.now().Sub(d.PublishedAt); age > workflows.MaxDecisionAge {
		return fmt.Errorf("published %s ago, more than %s", age.Round(time.Hour), workflows.MaxDecisionAge)
	}
	if err := workflows.CanApprove(a.policy.Policy.Roles, d.ApproverRole, tp.MinRole); err != nil {
		return err
	}
	switch {
	case d.Arguments != "":
		canon, err := workflows.CanonicalArguments(d.Arguments, a.policy.Schemas[req.Name])
		if err != nil {
			return fmt.Errorf("its edited arguments: %w", err)
		}
		if canon != req.Arguments {
			return fmt.Errorf("it approved other (edited) arguments than these")
		}
	case d.ArgumentsDigest != "" && d.ArgumentsDigest != digest:
		return fmt.Errorf("it approved other arguments (digest %s) than these (%s)", d.ArgumentsDigest, digest)
	}
	return nil
}

// notApproved is the error of a tool call checkApproval refuses: for
// good, the same request would be refused again.
func notApproved(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError("tool not run: "+fmt.Sprintf(format, args...), workflows.ErrTypeNotApproved, nil)
}

// callerRefused is the error of an activity checkCaller refuses, for good.
func callerRefused(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError("refused: "+fmt.Sprintf(format, args...), workflows.ErrTypeNotApproved, nil)
}

// checkPublisher refuses an agent message about another run than the
// calling one, or asked for by a workflow other than the agent's
// (checkCaller): the Publish* activities publish as the agent, and a
// workflow of someone else's could otherwise announce any run's call as
// resolved (approvers' screens drop it; it could only expire), or publish
// requests of its own as the agent.
func (a *Activities) checkPublisher(ctx context.Context, workflowID string) error {
	if run := activity.GetInfo(ctx).WorkflowExecution.ID; workflowID != run {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("publish: the message is about run %q, but run %q asked for it", workflowID, run), workflows.ErrTypeBadRequest, nil)
	}
	return a.checkCaller(ctx)
}

// checkCaller refuses an activity of its own (not local) that a workflow
// other than the agent's asked for: whoever may start runs may run a
// workflow of their own on a task queue of their own and schedule this
// worker's activities on TaskQueue. A local activity runs inside a
// workflow task of this worker, which runs only the agent's workflow.
// The workflow id is no proof: one whose run closed may be taken again
// (Temporal's default id reuse policy), and its history holds the signed
// decisions it got, also those it did not count. So the calling run (its
// id and run id, which Temporal gives the activity) must be the agent's
// workflow on TaskQueue, run by the agent's workers, which pass only the
// approvals they counted. A Temporal that does not answer is a retryable
// error.
func (a *Activities) checkCaller(ctx context.Context) error {
	info := activity.GetInfo(ctx)
	return a.checkRun(ctx, info.IsLocalActivity, info.WorkflowExecution.ID, info.WorkflowExecution.RunID)
}

// checkRun is checkCaller for an activity, local or not, of the run with
// workflow id id and run id runID.
func (a *Activities) checkRun(ctx context.Context, local bool, id, runID string) error {
	if local {
		return nil
	}
	if id == "" || runID == "" {
		// An activity no workflow scheduled (a server's standalone
		// activities) has no run to describe.
		return callerRefused("no workflow run asked for it")
	}
	if a.callers.Has(runID) {
		return nil
	}
	resp, err := a.runs.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			return callerRefused("the calling run %s (%s) is not known to Temporal", id, runID)
		}
		return fmt.Errorf("describe the calling run %s (%s): %w", id, runID, err)
	}
	ei := resp.GetWorkflowExecutionInfo()
	if queue, kind := ei.GetTaskQueue(), ei.GetType().GetName(); queue != workflows.TaskQueue || !slices.Contains(workflows.RegisteredNames(), kind) {
		return callerRefused("the calling run %s (%s) is a %q on task queue %q, not the agent's workflow on %q", id, runID, kind, queue, workflows.TaskQueue)
	}
	a.callers.Add(runID)
	return nil
}

// maxAgentRuns bounds the run ids checkCaller remembers as the agent's (a
// run's task queue and type never change), so that a run's model calls ask
// Temporal once per worker, not once each.
const maxAgentRuns = 4096
