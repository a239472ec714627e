package reannounce

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// unlisted is Temporal with no waiting run listed: every workflow id with
// a request in view is described, as when visibility lags behind a run
// that just started (a reset run, a reused workflow id) or the listing
// stopped at MaxRuns.
type unlisted struct{ Temporal }

func (unlisted) PendingRuns(context.Context, int) ([]PendingRun, bool, error) { return nil, false, nil }

// TestKeeperResolvesClosedRunsAgainstDevServer: on a Temporal dev server
// and the local Ably server, a sweep resolves the pending request of a
// terminated run and of a timed-out one (cancelled, the status in the
// reason, the request's RunID, ClosedRunMessage's id), and leaves alone the
// request of a running run, the request a reset run asks again under the
// same workflow and call ids (and the replaced run's, while the reset run
// runs), a reused workflow id's, and a forged one; two keepers publish one
// message per call.
func TestKeeperResolvesClosedRunsAgainstDevServer(t *testing.T) {
	c := startWaiters(t)
	ctx := t.Context()
	r := newKeeperRig(t)
	tp := NewTemporal(c, "default")

	now := time.Now().UTC().Truncate(time.Second)
	pendingView := func(call string) workflows.ApprovalsView {
		return workflows.ApprovalsView{Roles: []string{"editor", "publisher", "admin"}, Pending: []workflows.PendingApproval{{
			ToolCallID: call, Tool: "publish_blog_post", Arguments: `{"title":"T"}`, RequiredRole: "publisher",
			RequestedAt: now, ExpiresAt: now.Add(time.Hour),
		}}}
	}
	// start starts run id waiting for call, and publishes its request as
	// the workflow does (from its approvals query, as the keeper rebuilds
	// it), with runID; it returns the run's id.
	start := func(id, call string, opts client.StartWorkflowOptions) string {
		t.Helper()
		opts.ID, opts.TaskQueue = id, workflows.TaskQueue
		run, err := c.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.AgentInput{Prompt: "p", Requester: "sam"}, pendingView(call))
		if err != nil {
			t.Fatal(err)
		}
		return run.GetRunID()
	}
	announce := func(id, runID, call, asRun string) {
		t.Helper()
		var reqs []workflows.ApprovalRequestData
		testutil.WaitFor(t, 15*time.Second, "the approvals query of "+id, func() (bool, error) {
			var err error
			reqs, err = tp.Requests(ctx, PendingRun{WorkflowID: id, RunID: runID})
			return len(reqs) == 1, err
		})
		d := reqs[0]
		d.RunID = asRun
		if d.ToolCallID != call {
			t.Fatalf("%s asks for %s, want %s", id, d.ToolCallID, call)
		}
		r.announce(t, d)
	}
	terminate := func(id, runID string) {
		t.Helper()
		if err := c.TerminateWorkflow(ctx, id, runID, "test: terminated while it waits"); err != nil {
			t.Fatal(err)
		}
	}

	// Terminated while it waits.
	termRun := start("wf-term", "call_t", client.StartWorkflowOptions{})
	announce("wf-term", termRun, "call_t", "")
	terminate("wf-term", termRun)
	// Past its run timeout while it waits.
	timeoutRun := start("wf-timeout", "call_o", client.StartWorkflowOptions{WorkflowRunTimeout: 3 * time.Second})
	announce("wf-timeout", timeoutRun, "call_o", "")
	// Waits.
	runRun := start("wf-run", "call_r", client.StartWorkflowOptions{})
	announce("wf-run", runRun, "call_r", "")
	// Reset while it waits: the reset run asks again for call_x.
	origRun := start("wf-reset", "call_x", client.StartWorkflowOptions{})
	announce("wf-reset", origRun, "call_x", "")
	reset, err := c.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "wf-reset", RunId: origRun},
		Reason: "test", WorkflowTaskFinishEventId: 4, RequestId: "reset-wf-reset",
	})
	if err != nil {
		t.Fatal(err)
	}
	resetRun := reset.GetRunId()
	announce("wf-reset", resetRun, "call_x", resetRun)
	// Terminated, then its workflow id started again, asking for the same
	// call (the new run's request has the same message id: nothing new on
	// the channel).
	oldRun := start("wf-reuse", "call_u", client.StartWorkflowOptions{})
	announce("wf-reuse", oldRun, "call_u", "")
	terminate("wf-reuse", oldRun)
	start("wf-reuse", "call_u", client.StartWorkflowOptions{})
	// Terminated, with only a forged request in view.
	forgedRun := start("wf-forged", "call_f", client.StartWorkflowOptions{})
	m, err := message(r.idKey, requestData("wf-forged", "call_f", 0))
	if err != nil {
		t.Fatal(err)
	}
	m.ID = "forged-wf-forged"
	r.publish(t, r.other, m)
	terminate("wf-forged", forgedRun)

	testutil.WaitFor(t, 15*time.Second, "wf-timeout timed out", func() (bool, error) {
		st, err := tp.CurrentRun(ctx, "wf-timeout")
		return st.Status == enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, err
	})

	// Two workers' keepers at once, each with its own Ably clients, that
	// list no waiting run: each workflow id is described.
	keepers := make([]*Keeper, 2)
	for i := range keepers {
		hist, err := NewAblyHistory(r.conn, workflows.DefaultAgentClientID, testChannel)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := activities.NewAblyPublisher(r.conn, workflows.DefaultAgentClientID)
		if err != nil {
			t.Fatal(err)
		}
		keepers[i] = &Keeper{Pending: unlisted{tp}, History: hist, Publisher: pub, Channel: testChannel,
			AgentClientID: workflows.DefaultAgentClientID, IDKey: r.idKey}
	}
	// Closed moments ago (less than DefaultClosedFor before the read): a
	// run's own resolution might have come after the read. Left to a
	// later sweep.
	if res, err := keepers[0].Sweep(ctx); err != nil || res.Resolved != 0 || res.ClosedRecently != 2 {
		t.Fatalf("a sweep just after the runs ended: %+v, %v; want nothing resolved, 2 closed too recently", res, err)
	}
	for _, k := range keepers {
		k.ClosedFor = time.Nanosecond
	}
	var wg sync.WaitGroup
	results := make([]SweepResult, len(keepers))
	errs := make([]error, len(keepers))
	for i, k := range keepers {
		wg.Go(func() { results[i], errs[i] = k.Sweep(ctx) })
	}
	wg.Wait()
	// Each call is resolved by one keeper or both (the same message id:
	// Ably keeps one); a keeper whose read of the history comes after the
	// other's resolution of a call passes over it.
	by := map[string]int{}
	for i := range keepers {
		if errs[i] != nil || results[i].Resolved > 2 {
			t.Errorf("keeper %d: %+v, %v; want at most the 2 calls resolved", i, results[i], errs[i])
		}
		for status, n := range results[i].ResolvedBy {
			by[status] += n
		}
	}
	if by["terminated"] < 1 || by["timed_out"] < 1 || len(by) != 2 {
		t.Errorf("the keepers resolved %v; want the terminated run's and the timed-out run's calls, by one keeper or both", by)
	}

	// want checks the keepers' resolutions on the channel: one message per
	// call, wants[call] = the RunID it carries and the closed run's id.
	type want struct{ runID, closedRun, status string }
	check := func(wants map[string]want) {
		t.Helper()
		got := map[string]int{}
		for _, res := range resolutions(t, r.hist, 1000) {
			d := res.d
			w, ok := wants[d.ToolCallID+"/"+d.RunID]
			if !ok {
				t.Errorf("unexpected resolution %+v", d)
				continue
			}
			got[d.ToolCallID+"/"+d.RunID]++
			idm, _ := d.ClosedRunMessage(r.idKey, w.closedRun)
			if res.id != idm.ID || res.clientID != workflows.DefaultAgentClientID || d.Outcome != workflows.OutcomeCancelled ||
				d.Reason != ClosedRunReason(w.status) || !strings.HasPrefix(d.WorkflowID, "wf-") || d.Tool != "publish_blog_post" {
				t.Errorf("resolution %s from %s: %+v; want id %s from the agent, cancelled, because %s", res.id, res.clientID, d, idm.ID, w.status)
			}
		}
		for k := range wants {
			if got[k] != 1 {
				t.Errorf("%s resolved %d times, want once", k, got[k])
			}
		}
	}
	check(map[string]want{
		"call_t/": {"", termRun, "terminated"},
		"call_o/": {"", timeoutRun, "timed out"},
	})

	// The reset run is terminated too: its request is resolved, with its
	// RunID (the replaced run's, which readers no longer list, is not).
	terminate("wf-reset", resetRun)
	res, err := keepers[0].Sweep(ctx)
	if err != nil || res.Resolved != 1 || res.ResolvedBy["terminated"] != 1 {
		t.Fatalf("sweep after the reset run's end: %+v, %v; want its request resolved", res, err)
	}
	check(map[string]want{
		"call_t/":            {"", termRun, "terminated"},
		"call_o/":            {"", timeoutRun, "timed out"},
		"call_x/" + resetRun: {resetRun, resetRun, "terminated"},
	})

	// With the real listing nothing more: wf-run and wf-reuse wait.
	k := *keepers[1]
	k.Pending = tp
	res, err = k.Sweep(ctx)
	if err != nil || res.Resolved != 0 || res.Runs != 2 {
		t.Errorf("sweep with the waiting runs listed: %+v, %v; want wf-run and wf-reuse listed, nothing resolved", res, err)
	}
	if got := r.listed(t, 1000); !slices.Contains(got, "wf-run/call_r") || !slices.Contains(got, "wf-reuse/call_u") {
		t.Errorf("requests on the channel: %q", got)
	}
}
