package workflows_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// crashActivities are the activities of one worker in the tests of this
// package that run on a dev server (TestDecisionAfterAWorkerDied,
// TestLocalToolRetry); publish_blog_post runs as a local activity.
type crashActivities struct {
	verifier *signing.Verifier
	// publish runs the approval-request publish (a local activity).
	publish func(ctx context.Context, in workflows.ApprovalRequestInput) error
	// retry is the worker's workflows.WorkerPolicy.ToolRetry; the tool's
	// first toolFails attempts fail with a retryable error.
	retry     *workflows.ToolRetry
	toolFails int

	mu  sync.Mutex
	ran []workflows.ToolRequest
	// bound is the tool's ScheduleToClose timeout, as its last attempt saw it.
	bound time.Duration
}

func (a *crashActivities) register(w worker.Worker) {
	for _, name := range workflows.RegisteredNames() {
		w.RegisterWorkflowWithOptions(workflows.AgentWorkflow, workflow.RegisterOptions{Name: name})
	}
	w.RegisterActivityWithOptions(func(context.Context) (workflows.WorkerPolicy, error) {
		p, err := workflows.ParsePolicy([]byte(`{"roles":["editor","publisher","admin"],"tools":{"publish_blog_post":{"minRole":"publisher","timeout":"10m"}}}`))
		return workflows.WorkerPolicy{Policy: p, Schemas: map[string]json.RawMessage{
			"publish_blog_post": json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"}},"required":["title"],"additionalProperties":false}`),
		}, LocalTools: []string{"publish_blog_post"}, ToolRetry: a.retry}, err
	}, activity.RegisterOptions{Name: workflows.ActivityWorkerPolicy})
	w.RegisterActivityWithOptions(func(_ context.Context, req workflows.ModelRequest) (workflows.ModelResponse, error) {
		if req.Turn == 1 {
			c := workflows.ToolCall{CallID: "call_1", Name: "publish_blog_post", Arguments: `{"title":"After the crash"}`}
			return workflows.ModelResponse{ToolCalls: []workflows.ToolCall{c}, Output: []workflows.ConversationItem{
				{Type: workflows.ItemFunctionCall, CallID: c.CallID, Name: c.Name, Arguments: c.Arguments}}}, nil
		}
		return workflows.ModelResponse{Text: "done"}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityCallModel})
	w.RegisterActivityWithOptions(func(ctx context.Context, req workflows.ToolRequest) (workflows.ToolResult, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.ran = append(a.ran, req)
		a.bound = activity.GetInfo(ctx).ScheduleToCloseTimeout
		if len(a.ran) <= a.toolFails {
			return workflows.ToolResult{}, fmt.Errorf("disk full (attempt %d)", len(a.ran))
		}
		return workflows.ToolResult{Output: "published"}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityExecuteTool})
	w.RegisterActivityWithOptions(a.publish, activity.RegisterOptions{Name: workflows.ActivityPublishApprovalRequest})
	w.RegisterActivityWithOptions(func(context.Context, workflows.ApprovalResolvedInput) error { return nil },
		activity.RegisterOptions{Name: workflows.ActivityPublishApprovalResolved})
	w.RegisterActivityWithOptions(func(context.Context, workflows.ApprovalIgnoredInput) error { return nil },
		activity.RegisterOptions{Name: workflows.ActivityPublishApprovalIgnored})
	w.RegisterActivityWithOptions(func(ctx context.Context, d workflows.Decision) (workflows.DecisionVerdict, error) {
		if err := a.verifier.Verify(d); err != nil {
			return workflows.DecisionVerdict{Reason: err.Error()}, nil
		}
		return workflows.DecisionVerdict{Valid: true}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityVerifyDecision})
}

// TestDecisionAfterAWorkerDied: a worker dies after the fast path published
// an approval-request from a local activity of a workflow task it never
// completes; the approver, who sees the request, approves it. The next
// worker gets the model's response and the decision in one workflow task.
// The decision must count once the call is registered, and not be ignored
// as "unknown tool call" (found by the approval-path benchmark; see
// docs/BENCHMARKS.md).
func TestDecisionAfterAWorkerDied(t *testing.T) {
	srv := temporaltest.StartDevServer(t)
	c := srv.Client()
	signer, verifier, err := signing.NewPair("crash", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const id, queue = "crash-run", "crash-test"
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	// The first worker publishes the request, the approver answers, and
	// the worker dies before it completes the workflow task.
	published := make(chan struct{})
	first := &crashActivities{verifier: verifier, publish: func(ctx context.Context, in workflows.ApprovalRequestInput) error {
		close(published)
		<-ctx.Done() // the worker stops: the task is never completed
		return ctx.Err()
	}}
	w1 := worker.New(c, queue, worker.Options{})
	first.register(w1)
	if err := w1.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue, WorkflowTaskTimeout: 2 * time.Second},
		workflows.WorkflowName, workflows.AgentInput{Prompt: "Publish 'After the crash'", Requester: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	d := approveWhenAsked(ctx, t, c, signer, id, "msg-after-crash", published)
	w1.Stop()

	second := &crashActivities{verifier: verifier, publish: func(context.Context, workflows.ApprovalRequestInput) error { return nil }}
	w2 := worker.New(c, queue, worker.Options{})
	second.register(w2)
	if err := w2.Start(); err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()

	// The decision is either applied or ignored in the second worker's
	// first workflow task.
	var audit []workflows.AuditEntry
	testutil.WaitFor(t, 60*time.Second, "the decision in the audit", func() (bool, error) {
		v, err := c.QueryWorkflow(ctx, id, "", workflows.ApprovalsQuery)
		if err != nil {
			return false, nil // the second worker is not polling yet
		}
		var view workflows.ApprovalsView
		if err := v.Get(&view); err != nil {
			return false, err
		}
		audit = view.Audit
		return slices.ContainsFunc(audit, func(e workflows.AuditEntry) bool { return e.AblyMessageID == d.AblyMessageID }), nil
	})
	for _, e := range audit {
		if e.AblyMessageID == d.AblyMessageID && e.Kind != workflows.AuditApproved {
			t.Fatalf("the approval given after the request was published did not count: %+v", e)
		}
	}
	var res workflows.AgentResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("run: %v", err)
	}
	second.mu.Lock()
	defer second.mu.Unlock()
	if len(second.ran) != 1 {
		t.Fatalf("the tool ran %d times, want once", len(second.ran))
	}
	checkReplays(t, c, id, "v5-early-decision.json")
}

// checkReplays replays the run's history; with HITL_RECORD_REPLAY set it
// also writes it to testdata/replay/name, for TestReplay.
func checkReplays(t *testing.T, c client.Client, id, name string) {
	t.Helper()
	hist := &historypb.History{}
	it := c.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	r := worker.NewWorkflowReplayer()
	for _, n := range workflows.RegisteredNames() {
		r.RegisterWorkflowWithOptions(workflows.AgentWorkflow, workflow.RegisterOptions{Name: n})
	}
	if err := r.ReplayWorkflowHistory(nil, hist); err != nil {
		t.Fatalf("the run's history does not replay: %v", err)
	}
	if os.Getenv("HITL_RECORD_REPLAY") == "" {
		return
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "replay", name)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("history written to %s (%d events)", path, len(hist.Events))
}

// approveWhenAsked waits until published says the run id published its
// request for call_1, then sends alice's approval of it (Ably message id
// msgID), signed as the bridge signs, and returns it.
func approveWhenAsked(ctx context.Context, t *testing.T, c client.Client, signer *signing.Signer, id, msgID string, published <-chan struct{}) workflows.Decision {
	t.Helper()
	select {
	case <-published:
	case <-ctx.Done():
		t.Fatal("the run never published its request")
	}
	d := workflows.Decision{ToolCallID: "call_1", Decision: workflows.DecisionApproved, ApproverClientID: "alice",
		ApproverRole: "publisher", AblyMessageID: msgID, WorkflowID: id}
	signer.Sign(&d)
	if err := c.SignalWorkflow(ctx, id, "", workflows.DecisionSignal, d); err != nil {
		t.Fatal(err)
	}
	return d
}
