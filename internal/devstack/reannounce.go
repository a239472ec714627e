package devstack

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// maxReannounceRuns bounds the runs re-announced at one start.
const maxReannounceRuns = 1000

// reannouncePending publishes again, as the agent, the approval-request of
// every approval that is pending in Temporal, and returns how many it
// published. The local Ably server keeps its history in memory, so after a
// restart of the stack an approver (watch, list, approve) would not see
// requests published before it; the workflows do not publish them again.
// Each message is the agent's own (workflows.ApprovalRequestData.Message:
// same id and headers), with data rebuilt from the run's approvals query and start input.
// Queries need the worker, so this runs after it polls.
func reannouncePending(ctx context.Context, tc client.Client, namespace, channel string, idKey []byte, pub activities.Publisher) (int, error) {
	var (
		token []byte
		n     int
		errs  []error
		runs  int
	)
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: workflows.PendingRunsQuery(), PageSize: 100, NextPageToken: token,
		})
		if err != nil {
			return n, fmt.Errorf("list runs with pending approvals: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			if runs++; runs > maxReannounceRuns {
				return n, errors.Join(append(errs, fmt.Errorf("more than %d runs wait for approval; re-announced the first ones", maxReannounceRuns))...)
			}
			id, runID := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
			k, err := reannounceRun(ctx, tc, id, runID, channel, idKey, pub)
			n += k
			if err != nil {
				errs = append(errs, fmt.Errorf("run %s: %w", id, err))
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return n, errors.Join(errs...)
		}
	}
}

func reannounceRun(ctx context.Context, tc client.Client, id, runID, channel string, idKey []byte, pub activities.Publisher) (int, error) {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := tc.QueryWorkflow(qctx, id, runID, workflows.ApprovalsQuery)
	if err != nil {
		return 0, fmt.Errorf("query approvals: %w", err)
	}
	var view workflows.ApprovalsView
	if err := v.Get(&view); err != nil {
		return 0, fmt.Errorf("decode approvals: %w", err)
	}
	requester := runRequester(qctx, tc, id, runID)
	n := 0
	for _, p := range view.Pending {
		am, err := p.Request(id, requester, view.Roles).Message(idKey)
		if err != nil {
			return n, err
		}
		msg, err := ablymsg.Agent(am)
		if err != nil {
			return n, err
		}
		if err := pub.Publish(ctx, channel, msg); err != nil {
			return n, fmt.Errorf("publish %s: %w", msg.ID, err)
		}
		n++
	}
	return n, nil
}

// runRequester reads the requester from the run's start input; "" when
// it cannot.
func runRequester(ctx context.Context, tc client.Client, id, runID string) string {
	it := tc.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
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

// reannounce re-publishes the pending approvals through the local Ably
// server as the agent; failures are reported, not fatal.
func (st *Stack) reannounce(ctx context.Context) (int, error) {
	conn := ablyconn.Config{APIKey: st.secrets.AblyKey, Endpoint: st.cfg.AblyEndpoint()}
	pub, err := activities.NewAblyPublisher(conn, workflows.DefaultAgentClientID)
	if err != nil {
		return 0, err
	}
	return reannouncePending(ctx, st.Temporal, st.cfg.Namespace, st.cfg.Channel, conn.MessageIDKey(), pub)
}
