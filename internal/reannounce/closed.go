package reannounce

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// RunState is where a workflow id's current run stands
// (Pending.CurrentRun): its run id and status; Status is UNSPECIFIED when
// Temporal knows no run of the workflow id (never started in this
// namespace, or closed and past its retention).
type RunState struct {
	RunID  string
	Status enumspb.WorkflowExecutionStatus
	// CloseTime is when a closed run closed, by Temporal's clock.
	CloseTime time.Time
}

// DefaultClosedFor is how long before a sweep's history read a run must
// have closed for the sweep to resolve its requests (Keeper.ClosedFor).
const DefaultClosedFor = 30 * time.Second

// closedStatus names, for a reason and a metric label, the statuses of a
// run that ended for good: no code of it runs again, so a request it left
// unresolved is never decided. A run that continued as new is not among
// them (its successor is the workflow id's current run; agent runs never
// continue as new), nor is a running one, nor one Temporal does not know.
func closedStatus(s enumspb.WorkflowExecutionStatus) (reason, label string, ok bool) {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated", "terminated", true
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed out", "timed_out", true
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed", "failed", true
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed", "completed", true
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "cancelled", "cancelled", true
	}
	return "", "", false
}

// ClosedRunReason is the reason of the approval-resolved a Keeper
// publishes for a request of a run that ended (status, as closedStatus
// names it) without resolving it.
func ClosedRunReason(status string) string {
	return fmt.Sprintf("the run ended (%s) before it announced the call's outcome; it can no longer be decided", status)
}

// asked is what a sweep's history read found of the agent's requests and
// resolutions, newest first, to tell which requests readers still list
// (open).
type asked struct {
	msgs []askedMsg
}

// askedMsg is one of the agent's requests (req) or resolutions.
type askedMsg struct {
	req      *workflows.ApprovalRequestData
	resolved *workflows.ApprovalResolvedData
}

func (a *asked) request(d workflows.ApprovalRequestData) { a.msgs = append(a.msgs, askedMsg{req: &d}) }

func (a *asked) resolution(d workflows.ApprovalResolvedData) {
	a.msgs = append(a.msgs, askedMsg{resolved: &d})
}

// open returns the requests that a reader of the window (the approver
// CLI, the web inbox) still lists, newest first: read in publication
// order, per workflow id and call, a request is held unless a resolution
// of its run came after it, or a request of a reset run asked the call
// again (workflows.AskedAgain: the reader then holds that run's); an
// original run's message about a call a reset run holds is passed over
// (workflows.FromEarlierRun), and a request of a call resolved is not
// shown again unless a reset run asks it. Revisions and expiry are left
// out: the newest request of the run held stands for the call.
func (a *asked) open() []workflows.ApprovalRequestData {
	type callID struct{ workflowID, toolCallID string }
	type call struct {
		held     *workflows.ApprovalRequestData
		at       int // the held request's index in msgs
		resolved *workflows.ApprovalResolvedData
	}
	calls := map[callID]*call{}
	get := func(wf, id string) *call {
		k := callID{wf, id}
		if calls[k] == nil {
			calls[k] = &call{}
		}
		return calls[k]
	}
	for i := len(a.msgs) - 1; i >= 0; i-- {
		m := a.msgs[i]
		if d := m.resolved; d != nil {
			c := get(d.WorkflowID, d.ToolCallID)
			if c.held != nil && workflows.FromEarlierRun(c.held.RunID, d.RunID) {
				continue
			}
			c.held, c.resolved = nil, d
			continue
		}
		d := m.req
		c := get(d.WorkflowID, d.ToolCallID)
		switch {
		case c.resolved != nil && !workflows.AskedAgain(c.resolved.RunID, d.RunID):
			continue
		case c.held != nil && workflows.FromEarlierRun(c.held.RunID, d.RunID):
			continue
		}
		c.held, c.at, c.resolved = d, i, nil
	}
	var out []workflows.ApprovalRequestData
	for i, m := range a.msgs {
		if m.req == nil {
			continue
		}
		if c := calls[callID{m.req.WorkflowID, m.req.ToolCallID}]; c.held != nil && c.at == i {
			out = append(out, *c.held)
		}
	}
	return out
}

// resolveClosed publishes, as the agent, an approval-resolved (outcome
// cancelled) for each request in view that readers still list (a.open), of
// a workflow id that is not among the listed waiting runs and
// whose current run Temporal says ended: terminated, timed out, failed (no
// workflow code announces anything then), or completed or cancelled
// without the run's own resolution in view (its best-effort publish
// failed). A workflow id whose current run runs is left alone, whichever
// run asked: a reset run asks again for the calls of the run it replaced
// under the same ids, as may a new run of a reused workflow id, and
// readers of the original guide (ably-js v2) drop a request by its
// toolCallId alone. Requests past their expiry are left to readers, who
// drop them then. So is, until a later sweep, a run that closed less than
// c.ClosedFor before readAt, when the history read began: its own
// resolution may have been published after the read (a call decided and
// the run completed meanwhile), and Temporal's clock may differ from
// this one. At most c.MaxPublish workflow ids are described and
// c.MaxPublish resolutions published, starting at c.Start of them. The
// resolution carries the request's RunID (readers hold a call by run)
// and the id ClosedRunMessage gives it, so that every worker's keeper
// publishes the same message.
func resolveClosed(ctx context.Context, c *Keeper, listed []PendingRun, a *asked, readAt time.Time, res *SweepResult) error {
	waiting := make(map[string]bool, len(listed))
	for _, r := range listed {
		waiting[r.WorkflowID] = true
	}
	now := c.Now()
	var wfs []string
	byWF := map[string][]workflows.ApprovalRequestData{}
	for _, d := range a.open() {
		if waiting[d.WorkflowID] ||
			!d.ExpiresAt.IsZero() && !now.Before(d.ExpiresAt) {
			continue
		}
		if byWF[d.WorkflowID] == nil {
			wfs = append(wfs, d.WorkflowID)
		}
		byWF[d.WorkflowID] = append(byWF[d.WorkflowID], d)
	}
	if len(wfs) == 0 {
		return nil
	}
	var errs []error
	described := 0
	first := c.Start(len(wfs))
	for i := range wfs {
		wf := wfs[(first+i)%len(wfs)]
		if described == c.MaxPublish || res.Resolved == c.MaxPublish {
			res.Undescribed++
			continue
		}
		described++
		st, err := c.Pending.CurrentRun(ctx, wf)
		if err != nil {
			errs = append(errs, fmt.Errorf("run %s: describe: %w", wf, err))
			continue
		}
		status, label, ok := closedStatus(st.Status)
		if !ok || st.RunID == "" {
			continue
		}
		if !st.CloseTime.IsZero() && st.CloseTime.After(readAt.Add(-c.ClosedFor)) {
			res.ClosedRecently++
			continue
		}
		for _, d := range byWF[wf] {
			if res.Resolved == c.MaxPublish {
				res.Undescribed++
				break
			}
			rd := workflows.ApprovalResolvedData{
				ToolCallID: d.ToolCallID, WorkflowID: d.WorkflowID, Tool: d.Tool,
				Outcome: workflows.OutcomeCancelled, Reason: ClosedRunReason(status), RunID: d.RunID,
			}
			am, err := rd.ClosedRunMessage(c.IDKey, st.RunID)
			if err != nil {
				errs = append(errs, fmt.Errorf("run %s: call %s: %w", wf, d.ToolCallID, err))
				continue
			}
			m, err := ablymsg.Agent(am)
			if err != nil {
				errs = append(errs, fmt.Errorf("run %s: call %s: %w", wf, d.ToolCallID, err))
				continue
			}
			if err := c.Publisher.Publish(ctx, c.Channel, m); err != nil {
				// Ably refusing or out of reach: the rest would fail too.
				return errors.Join(append(errs, fmt.Errorf("run %s: publish %s: %w", wf, m.ID, err))...)
			}
			res.Resolved++
			if res.ResolvedBy == nil {
				res.ResolvedBy = map[string]int{}
			}
			res.ResolvedBy[label]++
		}
	}
	return errors.Join(errs...)
}
