package workflows

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// testPolicyJSON is the team's policy file.
const testPolicyJSON = `{"roles":["editor","publisher","admin"],
 "tools":{"publish_blog_post":{"minRole":"publisher","timeout":"10m"},
          "search_posts":{"minRole":"none"},
          "delete_post":{"minRole":"admin","timeout":"5m"}}}`

func testPolicy(t *testing.T) Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(testPolicyJSON))
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	return p
}

// testStart is the virtual start time of every test run.
var testStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// harness runs AgentWorkflow in the test environment with fake activities
// registered under the contract's activity names. The fakes record every
// call; they run on activity goroutines, hence the mutex.
type harness struct {
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	metrics *approvalMetrics // the workflow's MetricApprovals

	// model answers a model call; tool runs a tool. Set before run.
	model func(req ModelRequest) (ModelResponse, error)
	tool  func(req ToolRequest) (ToolResult, error)
	// publishErr, if set, fails every approval-request publish;
	// publishDown fails every attempt of that many more publishes (each a
	// local activity that tries several times) with a retryable error
	// (Ably unreachable), then they succeed.
	publishErr  error
	publishDown int
	// publishFailNth, if set, fails every attempt of that publish (1 is
	// the first) with a retryable error.
	publishFailNth int

	// policy and schemas are the worker's (ActivityWorkerPolicy); run
	// moves a policy given in the input here. key signs the decisions
	// that decide sends, as the bridge does; verifyErr, if set, fails
	// every ActivityVerifyDecision.
	policy     Policy
	schemas    map[string]json.RawMessage
	localTools []string
	toolRetry  *ToolRetry
	modelRetry *ModelRetry
	key        ed25519.PrivateKey
	verifyErr  error
	// verifySlow, by Ably message id, is how long (wall time) the check
	// of that decision's signature takes: while an activity runs, the
	// test environment fires a timer once its time has passed on the
	// wall clock, so the run's timers may fire during the check.
	verifySlow map[string]time.Duration

	mu        sync.Mutex
	verified  int                         // ActivityVerifyDecision calls
	publishes int                         // approval-request publishes (their first attempts)
	upserts   []temporal.SearchAttributes // with captureUpserts
	routable  map[string]bool             // call id -> listed in SAToolCallIDs when its request was published
	modelReqs []ModelRequest
	toolReqs  []ToolRequest
	requests  []ApprovalRequestInput
	resolved  []ApprovalResolvedInput
	ignored   []ApprovalIgnoredInput
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	metrics := newApprovalMetrics()
	suite.SetMetricsHandler(metrics)
	h := &harness{t: t, env: suite.NewTestWorkflowEnvironment(), metrics: metrics}
	h.env.SetStartTime(testStart)
	h.env.SetTestTimeout(30 * time.Second)
	h.env.RegisterWorkflowWithOptions(AgentWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	h.env.RegisterActivityWithOptions(h.callModel, activity.RegisterOptions{Name: ActivityCallModel})
	h.env.RegisterActivityWithOptions(h.executeTool, activity.RegisterOptions{Name: ActivityExecuteTool})
	h.env.RegisterActivityWithOptions(h.publishRequest, activity.RegisterOptions{Name: ActivityPublishApprovalRequest})
	h.env.RegisterActivityWithOptions(h.publishResolved, activity.RegisterOptions{Name: ActivityPublishApprovalResolved})
	h.env.RegisterActivityWithOptions(h.publishIgnored, activity.RegisterOptions{Name: ActivityPublishApprovalIgnored})
	h.env.RegisterActivityWithOptions(h.workerPolicy, activity.RegisterOptions{Name: ActivityWorkerPolicy})
	h.env.RegisterActivityWithOptions(h.verifyDecision, activity.RegisterOptions{Name: ActivityVerifyDecision})
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: testWorkflowID})
	h.schemas = testSchemas()
	h.key = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	h.tool = func(req ToolRequest) (ToolResult, error) {
		return ToolResult{Output: "ok:" + req.Name + ":" + req.CallID}, nil
	}
	t.Cleanup(func() { h.env.AssertExpectations(t) })
	return h
}

// testWorkflowID is the id of every harness run.
const testWorkflowID = "hitl-test-run"

// testKeyID names the harness's signing key.
const testKeyID = "test-key"

// testRetiredKeyID names a key the harness's worker has retired (a
// bridge that missed a rotation signs with it: signRetired).
const testRetiredKeyID = "test-key-old"

// retiredTestKey is testRetiredKeyID's private key.
func retiredTestKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
}

// testSchemas are the argument schemas of the team's tools, as the worker's
// registry has them.
func testSchemas() map[string]json.RawMessage {
	return map[string]json.RawMessage{
		"publish_blog_post": json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"}},"required":["title"],"additionalProperties":false}`),
		"search_posts":      json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"}},"required":["query"],"additionalProperties":false}`),
		"delete_post":       json.RawMessage(`{"type":"object","properties":{"slug":{"type":"string"}},"required":["slug"],"additionalProperties":false}`),
	}
}

func (h *harness) workerPolicy(context.Context) (WorkerPolicy, error) {
	return WorkerPolicy{Policy: h.policy, Schemas: h.schemas, LocalTools: h.localTools, ToolRetry: h.toolRetry, ModelRetry: h.modelRetry}, nil
}

// verifyDecision checks the signature with the harness's key, as the
// worker's VerifyDecision does with its verify keys.
func (h *harness) verifyDecision(ctx context.Context, d Decision) (DecisionVerdict, error) {
	h.mu.Lock()
	h.verified++
	h.mu.Unlock()
	if h.verifyErr != nil {
		return DecisionVerdict{}, h.verifyErr
	}
	time.Sleep(h.verifySlow[d.AblyMessageID])
	sig, err := base64.StdEncoding.DecodeString(d.Signature)
	switch {
	case d.WorkflowID != activity.GetInfo(ctx).WorkflowExecution.ID:
		return DecisionVerdict{Reason: "signed for another run"}, nil
	case d.KeyID == testRetiredKeyID:
		// As signing.Verifier: a retired key's own signature is
		// refused as retired, another as a bad signature.
		if err != nil || !ed25519.Verify(retiredTestKey().Public().(ed25519.PublicKey), d.SigningPayload(), sig) {
			return DecisionVerdict{Reason: "bad signature"}, nil
		}
		return DecisionVerdict{Reason: fmt.Sprintf("retired key %q: it no longer approves a new decision", d.KeyID), Retired: true}, nil
	case d.KeyID != testKeyID:
		return DecisionVerdict{Reason: fmt.Sprintf("unknown key %q", d.KeyID)}, nil
	case err != nil || !ed25519.Verify(h.key.Public().(ed25519.PublicKey), d.SigningPayload(), sig):
		return DecisionVerdict{Reason: "bad signature"}, nil
	}
	return DecisionVerdict{Valid: true}, nil
}

// sign signs d for the harness's run, as the bridge does.
func (h *harness) sign(d Decision) Decision {
	d.WorkflowID = testWorkflowID
	d.KeyID = testKeyID
	d.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(h.key, d.SigningPayload()))
	return d
}

// signRetired signs d for the harness's run with the key the worker has
// retired, as a bridge that missed a rotation does.
func (h *harness) signRetired(d Decision) Decision {
	d.WorkflowID = testWorkflowID
	d.KeyID = testRetiredKeyID
	d.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(retiredTestKey(), d.SigningPayload()))
	return d
}

// wantApprovals checks that the tool request req carries, for the worker
// to check again (activities' checkApproval), the signed approvals of the
// approvers by (ToolRequest.ApprovedBy's form), in that order: each
// signed by the bridge's key, an approval of req's run and call, and of
// req's arguments (an edit of them, their digest, or no digest).
func (h *harness) wantApprovals(req ToolRequest, by string) {
	h.t.Helper()
	names := strings.Split(by, ",")
	if len(req.Approvals) != len(names) {
		h.t.Fatalf("the tool request carries %d approvals (%+v), want those of %s", len(req.Approvals), req.Approvals, by)
	}
	pub := h.key.Public().(ed25519.PublicKey)
	for i, d := range req.Approvals {
		sig, err := base64.StdEncoding.DecodeString(d.Signature)
		switch {
		case err != nil || !ed25519.Verify(pub, d.SigningPayload(), sig):
			h.t.Errorf("approval %d (%s) is not signed by the bridge's key", i, d.ApproverClientID)
		case d.ApproverClientID != names[i] || d.Decision != DecisionApproved || d.ToolCallID != req.CallID || d.WorkflowID != req.WorkflowID:
			h.t.Errorf("approval %d = %+v, want %s's approval of %s in %s", i, d, names[i], req.CallID, req.WorkflowID)
		case d.Arguments != "":
			if canon, err := CanonicalArguments(d.Arguments, nil); err != nil || canon != req.Arguments {
				h.t.Errorf("approval %d edits to %s, but the tool runs %s", i, d.Arguments, req.Arguments)
			}
		case d.ArgumentsDigest != "" && d.ArgumentsDigest != ArgumentsDigest(req.Arguments):
			h.t.Errorf("approval %d names digest %s, but the tool runs %s", i, d.ArgumentsDigest, req.Arguments)
		}
	}
}

func (h *harness) callModel(ctx context.Context, req ModelRequest) (ModelResponse, error) {
	if got := activity.GetInfo(ctx).HeartbeatTimeout; got != ModelHeartbeatTimeout {
		h.t.Errorf("the model call's heartbeat timeout is %s, want %s", got, ModelHeartbeatTimeout)
	}
	h.mu.Lock()
	h.modelReqs = append(h.modelReqs, req)
	model := h.model
	h.mu.Unlock()
	if err := sendableConversation(req.Input); err != nil {
		h.t.Errorf("model call, turn %d: %v", req.Turn, err)
		return ModelResponse{}, temporal.NewNonRetryableApplicationError("bad conversation: "+err.Error(), ErrTypeBadRequest, nil)
	}
	return model(req)
}

// sendableConversation refuses a conversation the Responses API refuses,
// as the model activity does (activities.toInputItems) before it sends
// anything: a function call needs its call id and name, an output its
// call id.
func sendableConversation(items []ConversationItem) error {
	for i, it := range items {
		switch {
		case it.Type == ItemFunctionCall && (it.CallID == "" || it.Name == ""):
			return fmt.Errorf("item %d: function_call without call id or name", i)
		case it.Type == ItemFunctionCallOutput && it.CallID == "":
			return fmt.Errorf("item %d: function_call_output without call id", i)
		}
	}
	return nil
}

func (h *harness) executeTool(_ context.Context, req ToolRequest) (ToolResult, error) {
	h.mu.Lock()
	h.toolReqs = append(h.toolReqs, req)
	tool := h.tool
	h.mu.Unlock()
	return tool(req)
}

// publishRequest counts publishes, not attempts: how many attempts of one
// local activity fit in its deadline depends on how the test environment
// skips time while the machine is loaded.
func (h *harness) publishRequest(ctx context.Context, in ApprovalRequestInput) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if activity.GetInfo(ctx).Attempt <= 1 {
		h.publishes++
	}
	// An attempt whose context is done publishes nothing, as ably-go's
	// publish with such a context does not: while the machine is loaded,
	// the test environment's clock may skip past an attempt's deadline
	// before the attempt runs, and the attempt then runs all the same,
	// its result dropped. Recorded, it put a request the run had given up
	// on among those that reached Ably (TestRepublishSendsTheCallAsItStands
	// failed a few times in a few hundred runs under load).
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.publishErr != nil {
		return h.publishErr
	}
	if h.publishes <= h.publishDown || h.publishes == h.publishFailNth {
		return temporal.NewApplicationError("ably unreachable", "Ably")
	}
	h.requests = append(h.requests, in)
	for _, u := range h.upserts {
		ids, _ := u.GetKeywordList(SAToolCallIDs)
		if slices.Contains(ids, in.Data.ToolCallID) {
			h.routable[in.Data.ToolCallID] = true
		}
	}
	return nil
}

// captureUpserts records every search attribute upsert of the run.
func (h *harness) captureUpserts() {
	h.routable = map[string]bool{}
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.upserts = append(h.upserts, args.Get(0).(temporal.SearchAttributes))
	})
}

func (h *harness) publishResolved(_ context.Context, in ApprovalResolvedInput) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resolved = append(h.resolved, in)
	return nil
}

func (h *harness) publishIgnored(_ context.Context, in ApprovalIgnoredInput) error {
	if _, err := in.Data.Message(bytes.Repeat([]byte{1}, MinMessageIDKeyLen)); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadRequest, nil)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ignored = append(h.ignored, in)
	return nil
}

// script makes the model answer turn n with responses[n-1]; a call past
// the script fails the run.
func script(responses ...ModelResponse) func(ModelRequest) (ModelResponse, error) {
	return func(req ModelRequest) (ModelResponse, error) {
		if req.Turn < 1 || req.Turn > len(responses) {
			return ModelResponse{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unscripted turn %d", req.Turn), "Script", nil)
		}
		return responses[req.Turn-1], nil
	}
}

// calls is a model response asking for the given tool calls, with output
// items as the Responses API returns them.
func calls(cs ...ToolCall) ModelResponse {
	r := ModelResponse{ResponseID: "resp", ToolCalls: cs}
	for _, c := range cs {
		r.Output = append(r.Output, ConversationItem{Type: ItemFunctionCall, CallID: c.CallID, Name: c.Name, Arguments: c.Arguments})
	}
	return r
}

func answer(text string) ModelResponse {
	return ModelResponse{ResponseID: "resp", Text: text, Output: []ConversationItem{{Type: ItemMessage, Role: "assistant", Text: text}}}
}

func publishCall(id string) ToolCall {
	return ToolCall{CallID: id, Name: "publish_blog_post", Arguments: `{"title":"Introducing our new API"}`}
}

// decide sends a decision signal, signed as the bridge signs it, at
// virtual time after start.
func (h *harness) decide(after time.Duration, d Decision) {
	h.decideRaw(after, h.sign(d))
}

// decideRaw sends d as it is, signed or not, at virtual time after start.
func (h *harness) decideRaw(after time.Duration, d Decision) {
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(DecisionSignal, d) }, after)
}

// queryAt runs ApprovalsQuery at virtual time after start and stores the
// view in *into (read it after run returns).
func (h *harness) queryAt(after time.Duration, into *ApprovalsView) {
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(ApprovalsQuery)
		if err != nil {
			h.t.Errorf("query at %s: %v", after, err)
			return
		}
		if err := v.Get(into); err != nil {
			h.t.Errorf("decode query at %s: %v", after, err)
		}
	}, after)
}

// detailsAt reads the run's current details at virtual time after start.
func (h *harness) detailsAt(after time.Duration, into *string) {
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow("__temporal_workflow_metadata")
		if err != nil {
			h.t.Errorf("metadata query at %s: %v", after, err)
			return
		}
		var md sdkpb.WorkflowMetadata
		if err := v.Get(&md); err != nil {
			h.t.Errorf("decode metadata at %s: %v", after, err)
			return
		}
		*into = md.GetCurrentDetails()
	}, after)
}

// run executes the workflow and returns its result; it fails the test if
// the workflow did not complete successfully.
func (h *harness) run(in AgentInput) AgentResult {
	h.t.Helper()
	res, err := h.runErr(in)
	if err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
	return res
}

func (h *harness) runErr(in AgentInput) (AgentResult, error) {
	h.t.Helper()
	if in.Prompt == "" {
		in.Prompt = "Publish the blog post called 'Introducing our new API'"
	}
	if !in.Policy.isZero() && h.policy.isZero() {
		// The policy is the worker's, not the input's.
		h.policy, in.Policy = in.Policy, Policy{}
	}
	h.env.ExecuteWorkflow(WorkflowName, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		return AgentResult{}, err
	}
	var res AgentResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatalf("decode result: %v", err)
	}
	checkApprovalMetrics(h.t, h.metrics, res.Audit)
	return res, nil
}

func (h *harness) tools() []ToolRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.toolReqs)
}

func (h *harness) models() []ModelRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.modelReqs)
}

func (h *harness) published() ([]ApprovalRequestInput, []ApprovalResolvedInput) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests), slices.Clone(h.resolved)
}

// outputOf returns the last function_call_output for callID in the input
// of model call turn (1-based).
func (h *harness) outputOf(turn int, callID string) (string, bool) {
	h.t.Helper()
	reqs := h.models()
	if turn > len(reqs) {
		h.t.Fatalf("model call %d not made (only %d)", turn, len(reqs))
	}
	out, found := "", false
	for _, it := range reqs[turn-1].Input {
		if it.Type == ItemFunctionCallOutput && it.CallID == callID {
			out, found = it.Output, true
		}
	}
	return out, found
}

func (h *harness) wantOutput(turn int, callID, want string) {
	h.t.Helper()
	got, ok := h.outputOf(turn, callID)
	if !ok {
		h.t.Fatalf("model call %d: no function_call_output for %s", turn, callID)
	}
	if got != want {
		h.t.Errorf("model call %d: output for %s = %q, want %q", turn, callID, got, want)
	}
}

// kinds lists the audit kinds (with reasons for ignored and denied entries).
func kinds(audit []AuditEntry) []string {
	var out []string
	for _, e := range audit {
		s := e.Kind + ":" + e.ToolCallID
		if e.Kind == AuditIgnored || e.Kind == AuditDenied {
			s += ":" + e.Reason
		}
		out = append(out, s)
	}
	return out
}

func wantKinds(t *testing.T, audit []AuditEntry, want ...string) {
	t.Helper()
	if got := kinds(audit); !slices.Equal(got, want) {
		t.Errorf("audit:\n got %q\nwant %q", got, want)
	}
}

func findAudit(audit []AuditEntry, kind, callID string) (AuditEntry, bool) {
	for _, e := range audit {
		if e.Kind == kind && e.ToolCallID == callID {
			return e, true
		}
	}
	return AuditEntry{}, false
}

func approve(callID, who, role, msgID string) Decision {
	return Decision{ToolCallID: callID, Decision: DecisionApproved, ApproverClientID: who, ApproverRole: role, AblyMessageID: msgID}
}

func reject(callID, who, role, msgID, reason string) Decision {
	return Decision{ToolCallID: callID, Decision: DecisionRejected, ApproverClientID: who, ApproverRole: role, AblyMessageID: msgID, Reason: reason}
}

func isApplicationError(err error, typ string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == typ && appErr.NonRetryable()
}
