package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// resetRun resets run wfID (its current run) to the workflow task that
// published the approval-request its first decision answered: the last
// WorkflowTaskCompleted before the first WorkflowExecutionSignaled; with
// last, to its last WorkflowTaskCompleted. With dropSignals the decision
// is not carried over (signals are excluded from re-application), so the
// reset run waits for the call again. It returns the reset run's id.
func (s *stack) resetRun(wfID string, dropSignals, last bool) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	desc, err := s.tc.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		s.t.Fatal(err)
	}
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	var point int64
	it := s.tc.GetWorkflowHistory(ctx, wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED && !last {
			break
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			point = e.GetEventId()
		}
	}
	if point == 0 {
		s.t.Fatalf("run %s/%s: no workflow task completed before a signal", wfID, runID)
	}
	req := &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 "default",
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: wfID, RunId: runID},
		Reason:                    "e2e: reset to before the decision",
		WorkflowTaskFinishEventId: point,
		RequestId:                 fmt.Sprintf("e2e-reset-%s-%d", runID, point),
	}
	if dropSignals {
		req.ResetReapplyExcludeTypes = []enumspb.ResetReapplyExcludeType{enumspb.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL}
	}
	resp, err := s.tc.ResetWorkflowExecution(ctx, req)
	if err != nil {
		s.t.Fatalf("reset %s/%s to event %d: %v", wfID, runID, point, err)
	}
	return resp.GetRunId()
}

// resetSteps: a run reset to before its approval asks again under its new
// run (runId on its messages, ids of their own), approvers see the call
// pending again and approve it, and the post is published once; a reset
// that carries the decision over (Temporal's default) completes by itself.
func resetSteps(s *stack, step func(string, func(*testing.T))) {
	// approvedRun runs the publishing of title to its end, approved.
	approvedRun := func(t *testing.T, title string) (string, workflows.PendingApproval) {
		t.Helper()
		id := s.startRun("Publish the blog post called '" + title + "'")
		p := s.waitPending(id, 1)[0]
		if out, err := s.cli("publisher", "approve", p.ToolCallID); err != nil {
			t.Fatalf("approver approve: %v\n%s", err, out)
		}
		assertRanOnce(t, s, s.result(id), p.ToolCallID, title)
		return id, p
	}
	step("a run reset to before its approval asks again, and the post is published once", func(t *testing.T) {
		const title = "Reset after approval"
		id, p := approvedRun(t, title)
		newRun := s.resetRun(id, true, false)
		again := s.waitPending(id, 1)[0]
		if again.ToolCallID != p.ToolCallID {
			t.Fatalf("the reset run waits for %s, want %s", again.ToolCallID, p.ToolCallID)
		}
		if v, err := s.approvals(id); err != nil || v.RunID != newRun {
			t.Fatalf("approvals of the reset run: runId %q (%v), want %s", v.RunID, err, newRun)
		}
		// The CLI reads the channel: the call resolved in the first run is
		// pending again, asked by the reset run.
		out, err := s.cli("publisher", "list")
		if err != nil || !strings.Contains(out, p.ToolCallID) {
			t.Fatalf("approver list after the reset: %v, want %s listed\n%s", err, p.ToolCallID, out)
		}
		if out, err := s.cli("publisher", "approve", p.ToolCallID, "--reason", "again after the reset"); err != nil {
			t.Fatalf("approver approve after the reset: %v\n%s", err, out)
		}
		res := s.result(id)
		if got := count(res.Audit, workflows.AuditApproved, p.ToolCallID); got != 1 {
			t.Fatalf("approved entries in the reset run = %d, want 1\n%s", got, dump(res.Audit))
		}
		// The tool ran again for the reset run and found its first post
		// (the same call, the same arguments): still one post.
		assertRanOnce(t, s, res, p.ToolCallID, title)
	})

	step("a run reset with its decision carried over completes by itself, the post published once", func(t *testing.T) {
		const title = "Reset with the decision"
		id, p := approvedRun(t, title)
		s.resetRun(id, false, false)
		res := s.result(id)
		assertRanOnce(t, s, res, p.ToolCallID, title)
	})

	// A reset to after the request went out publishes no request: the
	// worker's keeper publishes the call again for the reset run as soon
	// as the worker first runs it (reannounce.ResetWatch), not at its next
	// sweep (10 minutes here).
	step("a run reset while it waits, after its request went out, is shown asked again at once", func(t *testing.T) {
		const title = "Reset while waiting"
		id := s.startRun("Publish the blog post called '" + title + "'")
		p := s.waitPending(id, 1)[0]
		// A decision the run does not count gives it a workflow task after
		// the request's, to reset to.
		if out, err := s.cli("editor", "approve", "--force", p.ToolCallID); err == nil {
			t.Fatalf("an editor's approval counted:\n%s", out)
		}
		s.waitAudit(id, "the editor's ignored decision", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditIgnored && e.ToolCallID == p.ToolCallID
		})
		newRun := s.resetRun(id, false, true)
		testutil.WaitFor(t, 30*time.Second, "the call listed as asked again by the reset run", func() (bool, error) {
			out, err := s.cli("publisher", "list")
			return err == nil && strings.Contains(out, p.ToolCallID) && strings.Contains(out, "Asked again:   by run "+newRun), nil
		})
		if out, err := s.cli("publisher", "approve", p.ToolCallID); err != nil {
			t.Fatalf("approver approve after the reset: %v\n%s", err, out)
		}
		assertRanOnce(t, s, s.result(id), p.ToolCallID, title)
	})
}
