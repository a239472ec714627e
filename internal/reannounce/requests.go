package reannounce

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ably/ably-go/ably"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/internal/recent"
	"github.com/hitl/durable-approvals/workflows"
)

// queryTimeout bounds the approvals query of one run (it needs a worker).
const queryTimeout = 10 * time.Second

// PendingRun is a run that waits for a human: Pending approvals (the
// PendingApprovals search attribute; at least 1).
type PendingRun struct {
	WorkflowID, RunID string
	Pending           int
}

// Temporal reads the pending approvals of a namespace. Resets, when set
// (NewTemporal), remembers which runs were made by a reset, so each is
// described once; without it every listed run is described each time.
type Temporal struct {
	Client    client.Client
	Namespace string
	Resets    *recent.Map[string, string]
}

// NewTemporal is a Temporal for namespace that remembers the reset runs
// of up to DefaultMaxRuns × 4 runs.
func NewTemporal(c client.Client, namespace string) Temporal {
	return Temporal{Client: c, Namespace: namespace, Resets: recent.New[string, string](4 * DefaultMaxRuns)}
}

// PendingRuns lists the running workflows with pending approvals, at most
// max of them; more is true when there were more.
func (t Temporal) PendingRuns(ctx context.Context, max int) (runs []PendingRun, more bool, err error) {
	var token []byte
	for {
		resp, err := t.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: t.Namespace, Query: workflows.PendingRunsQuery(), PageSize: 100, NextPageToken: token,
		})
		if err != nil {
			return runs, false, fmt.Errorf("list runs with pending approvals: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			if len(runs) == max {
				return runs, true, nil
			}
			runs = append(runs, PendingRun{
				WorkflowID: e.GetExecution().GetWorkflowId(),
				RunID:      e.GetExecution().GetRunId(),
				Pending:    pendingCount(e.GetSearchAttributes()),
			})
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return runs, false, nil
		}
	}
}

// ResetRunID is workflows.ResetRunID of run: its run id when its first run
// id is another run's (a reset copies the first run's; the agent's runs
// neither continue as new nor retry), else "". Visibility's listing leaves
// the first run id out, so the run is described, once per run with
// Resets. A run that cannot be described (it ended since, Temporal out of
// reach) counts as no reset, and is asked again next time.
func (t Temporal) ResetRunID(ctx context.Context, run PendingRun) string {
	if id, ok := t.Resets.Get(run.RunID); ok {
		return id
	}
	d, err := t.Client.DescribeWorkflowExecution(ctx, run.WorkflowID, run.RunID)
	if err != nil {
		return ""
	}
	id := ""
	if first := d.GetWorkflowExecutionInfo().GetFirstRunId(); first != "" && first != run.RunID {
		id = run.RunID
	}
	t.Resets.Put(run.RunID, id)
	return id
}

// CurrentRun describes workflowID's current run (an empty run id: the
// newest run of the id, whichever reset or start made it). A workflow id
// Temporal does not know (NotFound) is no error: its Status is
// UNSPECIFIED, which counts as no closed run.
func (t Temporal) CurrentRun(ctx context.Context, workflowID string) (RunState, error) {
	d, err := t.Client.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		if _, ok := errors.AsType[*serviceerror.NotFound](err); ok {
			return RunState{}, nil
		}
		return RunState{}, err
	}
	info := d.GetWorkflowExecutionInfo()
	st := RunState{RunID: info.GetExecution().GetRunId(), Status: info.GetStatus()}
	if ct := info.GetCloseTime(); ct != nil {
		st.CloseTime = ct.AsTime()
	}
	return st, nil
}

// pendingCount reads PendingApprovals from a run's search attributes; 1
// when it cannot (the query matched it, so at least one is pending).
func pendingCount(sa *commonpb.SearchAttributes) int {
	p, ok := sa.GetIndexedFields()[workflows.SAPendingApprovals.GetName()]
	if !ok {
		return 1
	}
	var n int64
	if err := converter.GetDefaultDataConverter().FromPayload(p, &n); err != nil || n < 1 {
		return 1
	}
	return int(n)
}

// Requests returns the approval-requests of run's pending approvals as
// the workflow published them (the current revision of each), rebuilt
// from the run's approvals query and its start input. A run that is no
// longer running (terminated by a later reset, timed out) has none: its
// query, answered by replaying it, would list the calls it was waiting
// for when it ended, which nobody can decide any more.
func (t Temporal) Requests(ctx context.Context, run PendingRun) ([]workflows.ApprovalRequestData, error) {
	qctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	resp, err := t.Client.QueryWorkflowWithOptions(qctx, &client.QueryWorkflowWithOptionsRequest{
		WorkflowID: run.WorkflowID, RunID: run.RunID, QueryType: workflows.ApprovalsQuery,
		QueryRejectCondition: enumspb.QUERY_REJECT_CONDITION_NOT_OPEN,
	})
	if err != nil {
		return nil, fmt.Errorf("query approvals: %w", err)
	}
	if resp.QueryRejected != nil {
		return nil, nil
	}
	var view workflows.ApprovalsView
	if err := resp.QueryResult.Get(&view); err != nil {
		return nil, fmt.Errorf("decode approvals: %w", err)
	}
	if len(view.Pending) == 0 {
		return nil, nil
	}
	requester := t.requester(qctx, run)
	out := make([]workflows.ApprovalRequestData, 0, len(view.Pending))
	for _, p := range view.Pending {
		d := p.Request(run.WorkflowID, requester, view.Roles)
		d.RunID = view.RunID
		out = append(out, d)
	}
	return out, nil
}

// message is the agent's approval-request message of d under idKey, with
// the id the workflow gave it.
func message(idKey []byte, d workflows.ApprovalRequestData) (*ably.Message, error) {
	am, err := d.Message(idKey)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", d.ToolCallID, err)
	}
	m, err := ablymsg.Agent(am)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", d.ToolCallID, err)
	}
	return m, nil
}

// requester reads the requester from the run's start input; "" when it
// cannot.
func (t Temporal) requester(ctx context.Context, run PendingRun) string {
	it := t.Client.GetWorkflowHistory(ctx, run.WorkflowID, run.RunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return ""
	}
	ev, err := it.Next()
	if err != nil {
		return ""
	}
	var in workflows.AgentInput
	if err := converter.GetDefaultDataConverter().FromPayloads(ev.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		return ""
	}
	return in.Requester
}

// Publisher publishes a message on a channel (activities.AblyPublisher).
type Publisher interface {
	Publish(ctx context.Context, channel string, msg *ably.Message) error
}

// All publishes on channel, through pub, the approval-request of every
// approval pending in t's namespace, of at most maxRuns runs, as the
// workflow published it (same message id: for a history that was lost),
// and returns how many it published. A run that cannot be read or
// published is reported in the error and the others are still published.
func All(ctx context.Context, t Temporal, idKey []byte, channel string, pub Publisher, maxRuns int) (int, error) {
	runs, more, err := t.PendingRuns(ctx, maxRuns)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, run := range runs {
		reqs, err := t.Requests(ctx, run)
		if err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", run.WorkflowID, err))
		}
		for _, d := range reqs {
			m, err := message(idKey, d)
			if err == nil {
				err = pub.Publish(ctx, channel, m)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("run %s: publish: %w", run.WorkflowID, err))
				break
			}
			n++
		}
	}
	if more {
		errs = append(errs, fmt.Errorf("more than %d runs wait for approval; re-announced the first ones", maxRuns))
	}
	return n, errors.Join(errs...)
}
