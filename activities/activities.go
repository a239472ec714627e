package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/internal/recent"
	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/workflows"
)

// Model is the model seam of CallModel. OpenAIModel implements it.
type Model interface {
	Respond(ctx context.Context, req workflows.ModelRequest, tools []Tool) (workflows.ModelResponse, error)
}

// Runs describes a workflow run (the caller of an activity, checkCaller);
// client.Client implements it.
type Runs interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// Verifier checks a decision's signature; *signing.Verifier implements it.
type Verifier interface {
	// Verify checks a new decision (VerifyDecision): under the verify
	// keys only.
	Verify(d workflows.Decision) error
	// VerifyCounted checks a decision its run counted when it came (the
	// tool's check of its call's approvals): under a retired key too.
	VerifyCounted(d workflows.Decision) error
}

// Deps are the injected dependencies of Activities. All are required
// except Channel and Logger.
type Deps struct {
	Model     Model     // CallModel; *OpenAIModel in production
	Tools     *Registry // ExecuteTool, and the tool definitions of CallModel
	Publisher Publisher // approval messages; *AblyPublisher in production
	// Policy is the worker's approval policy, which WorkerPolicy hands to
	// every run at its start.
	Policy workflows.Policy
	// Verifier checks the bridge's signature on decisions (VerifyDecision).
	Verifier Verifier
	// Runs tells ExecuteTool and the Publish* activities, run as activities
	// of their own, which workflow asked for them (checkCaller).
	Runs Runs
	// MessageIDKey keys the agent's Ably message ids
	// (workflows.AgentMessageID); see ablyconn.Config.MessageIDKey.
	MessageIDKey []byte
	Channel      string // Ably channel; "" means workflows.DefaultChannel
	Logger       *slog.Logger
	// Now is the clock that ages decisions (checkApproval); nil: time.Now.
	Now func() time.Time
	// ModelHeartbeatEvery is how often CallModel heartbeats while the
	// model answers (0: DefaultModelHeartbeatEvery); it must be well under
	// workflows.ModelHeartbeatTimeout.
	ModelHeartbeatEvery time.Duration
	// ToolRetry is how often a run tries a tool before its failure goes
	// to the model (nil: workflows.DefaultToolRetry); WorkerPolicy hands
	// it to every run at its start.
	ToolRetry *workflows.ToolRetry
	// ModelRetry is how long a run tries a model call before it fails
	// (nil: workflows.DefaultModelRetry); WorkerPolicy hands it to every
	// run at its start.
	ModelRetry *workflows.ModelRetry
}

// DefaultModelHeartbeatEvery is Deps.ModelHeartbeatEvery's default.
const DefaultModelHeartbeatEvery = 5 * time.Second

// Activities implements the workflow's activities. Register the pointer
// returned by New with w.RegisterActivity(acts): its exported methods are
// exactly the workflows.Activity* activities.
type Activities struct {
	model     Model
	tools     *Registry
	publisher Publisher
	policy    workflows.WorkerPolicy
	verifier  Verifier
	runs      Runs
	idKey     []byte
	channel   string
	logger    *slog.Logger
	now       func() time.Time
	beatEvery time.Duration
	callers   *recent.Set[string] // the agent's runs checkCaller described
}

// New checks d and returns the activities.
func New(d Deps) (*Activities, error) {
	var errs []error
	if d.Model == nil {
		errs = append(errs, errors.New("no model (Deps.Model)"))
	}
	if d.Tools == nil {
		errs = append(errs, errors.New("no tool registry (Deps.Tools)"))
	}
	if d.Publisher == nil {
		errs = append(errs, errors.New("no publisher (Deps.Publisher)"))
	}
	if d.Verifier == nil {
		errs = append(errs, errors.New("no decision verifier (Deps.Verifier)"))
	}
	if d.Runs == nil {
		errs = append(errs, errors.New("no Temporal client to describe runs (Deps.Runs)"))
	}
	if len(d.MessageIDKey) < workflows.MinMessageIDKeyLen {
		errs = append(errs, fmt.Errorf("message-id key shorter than %d bytes (Deps.MessageIDKey)", workflows.MinMessageIDKeyLen))
	}
	if err := d.Policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("policy (Deps.Policy): %w", err))
	}
	retry := workflows.DefaultToolRetry()
	if d.ToolRetry != nil {
		retry = *d.ToolRetry
	}
	if err := retry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("Deps.ToolRetry: %w", err))
	}
	modelRetry := workflows.DefaultModelRetry()
	if d.ModelRetry != nil {
		modelRetry = *d.ModelRetry
	}
	if err := modelRetry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("Deps.ModelRetry: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("activities: %w", err)
	}
	a := &Activities{model: d.Model, tools: d.Tools, publisher: d.Publisher, policy: workerPolicy(d.Policy, d.Tools, retry, modelRetry), verifier: d.Verifier, runs: d.Runs,
		idKey: d.MessageIDKey, channel: d.Channel, logger: d.Logger, now: d.Now, beatEvery: d.ModelHeartbeatEvery}
	if a.now == nil {
		a.now = time.Now
	}
	if a.beatEvery <= 0 {
		a.beatEvery = DefaultModelHeartbeatEvery
	}
	a.callers = recent.NewSet[string](maxAgentRuns)
	if a.channel == "" {
		a.channel = workflows.DefaultChannel
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// CallModel sends the conversation and the requested tools to the model.
func (a *Activities) CallModel(ctx context.Context, req workflows.ModelRequest) (workflows.ModelResponse, error) {
	// Another workflow would call the model with the worker's key.
	if err := a.checkCaller(ctx); err != nil {
		return workflows.ModelResponse{}, err
	}
	tools, err := a.tools.Select(req.Tools)
	if err != nil {
		return workflows.ModelResponse{}, err
	}
	stop := heartbeat(ctx, a.beatEvery)
	res, err := a.model.Respond(ctx, req, tools)
	stop()
	if err == nil {
		err = resultFits(res)
	}
	if err != nil {
		a.logger.WarnContext(ctx, "model call failed", "workflowId", req.WorkflowID, "turn", req.Turn, "error", err)
		return workflows.ModelResponse{}, err
	}
	a.logger.InfoContext(ctx, "model responded", "workflowId", req.WorkflowID, "turn", req.Turn,
		"responseId", res.ResponseID, "toolCalls", len(res.ToolCalls))
	return res, nil
}

// heartbeat records the activity's heartbeat every interval until stop is
// called: Temporal then knows the worker is alive while a model answers
// for a minute, and tries the call again elsewhere soon after a worker that
// died or froze stops beating (workflows.ModelHeartbeatTimeout).
func heartbeat(ctx context.Context, every time.Duration) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// resultFits fails, for good, a model response whose JSON is longer than
// MaxModelResultLen.
func resultFits(res workflows.ModelResponse) error {
	b, err := json.Marshal(res)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("openai: encode the model's response: "+err.Error(), workflows.ErrTypeModel, nil)
	}
	if len(b) > MaxModelResultLen {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("openai: the model's response takes %d bytes as the activity's result, more than %d (check OPENAI_BASE_URL)", len(b), MaxModelResultLen), workflows.ErrTypeModel, nil)
	}
	return nil
}

// ExecuteTool runs one tool call, for the calling run, once the worker has
// checked its approvals itself (checkApproval). The tool's side effect is
// idempotent on WorkflowID + CallID.
func (a *Activities) ExecuteTool(ctx context.Context, req workflows.ToolRequest) (workflows.ToolResult, error) {
	if req.WorkflowID == "" || req.CallID == "" {
		return workflows.ToolResult{}, temporal.NewNonRetryableApplicationError(
			"execute tool: workflowId and callId are required", workflows.ErrTypeBadRequest, nil)
	}
	t, ok := a.tools.Lookup(req.Name)
	if !ok {
		return workflows.ToolResult{}, unknownTool(req.Name, a.tools.Names())
	}
	refusal := refusedCaller
	err := a.checkCaller(ctx)
	if err == nil {
		refusal, err = a.checkApproval(ctx, req)
	}
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.NonRetryable() { // not a Temporal out of reach
			countToolRefused(ctx, refusal)
		}
		a.logger.ErrorContext(ctx, "tool refused: not approved", "workflowId", req.WorkflowID, "callId", req.CallID, "tool", req.Name,
			"run", activity.GetInfo(ctx).WorkflowExecution.ID, "activityTaskQueue", activity.GetInfo(ctx).TaskQueue,
			"workflowType", activity.GetInfo(ctx).WorkflowType.Name, "error", err)
		return workflows.ToolResult{}, err
	}
	call := ToolCall{WorkflowID: req.WorkflowID, CallID: req.CallID, Name: req.Name, Arguments: req.Arguments, ApprovedBy: req.ApprovedBy}
	out, err := t.Run(ctx, call)
	if err != nil {
		a.logger.WarnContext(ctx, "tool failed", "workflowId", req.WorkflowID, "callId", req.CallID, "tool", req.Name, "error", err)
		return workflows.ToolResult{}, err
	}
	a.logger.InfoContext(ctx, "tool ran", "workflowId", req.WorkflowID, "callId", req.CallID, "tool", req.Name, "approvedBy", req.ApprovedBy)
	return workflows.ToolResult{Output: out}, nil
}

// WorkerPolicy (a local activity) returns the worker's policy and the
// argument schemas of its tools, which a run takes at its start.
func (a *Activities) WorkerPolicy(context.Context) (workflows.WorkerPolicy, error) {
	return a.policy, nil
}

// VerifyDecision (a local activity) checks a decision's signature with the
// worker's verify keys. A decision that does not verify is a verdict, not
// an error.
//
// Each decision that does not verify is counted in MetricDecisionsUnverified
// by why: a bridge that signs with a key the workers do not hold (a key
// rotation done in the wrong order) shows there, while the approvers see
// "Decision sent". One signed with a key the workers have retired is
// marked Retired, and the run tells its approver (approval-ignored).
func (a *Activities) VerifyDecision(ctx context.Context, d workflows.Decision) (workflows.DecisionVerdict, error) {
	if run := activity.GetInfo(ctx).WorkflowExecution.ID; d.WorkflowID != run {
		a.logger.WarnContext(ctx, "decision signed for another run", "callId", d.ToolCallID, "signedFor", d.WorkflowID, "run", run)
		countUnverified(ctx, "other_run")
		return workflows.DecisionVerdict{Reason: "signed for another run"}, nil
	}
	if err := a.verifier.Verify(d); err != nil {
		a.logger.WarnContext(ctx, "decision signature not valid", "callId", d.ToolCallID, "approver", d.ApproverClientID,
			"keyId", d.KeyID, "ablyMessageId", d.AblyMessageID, "reason", err)
		why := "bad_signature"
		switch {
		case errors.Is(err, signing.ErrUnsigned):
			why = "unsigned"
		case errors.Is(err, signing.ErrUnknownKey):
			why = "unknown_key"
		case errors.Is(err, signing.ErrRetiredKey):
			why = "retired_key"
		}
		countUnverified(ctx, why)
		// Verify says ErrRetiredKey only for a signature the retired key
		// made: the run may tell the approver.
		return workflows.DecisionVerdict{Reason: err.Error(), Retired: errors.Is(err, signing.ErrRetiredKey)}, nil
	}
	return workflows.DecisionVerdict{Valid: true}, nil
}

// MetricDecisionsUnverified counts the decisions whose signature the
// worker refused: hitl_decisions_unverified_total{reason} on the worker's
// /metrics, reason one of unknown_key, retired_key (a bridge still signing
// with a key the workers have retired), bad_signature, other_run (and
// unsigned, though the workflow refuses an unsigned decision before it
// asks this activity).
const MetricDecisionsUnverified = "hitl_decisions_unverified"

// MetricToolsRefused counts the tool calls ExecuteTool refused for good:
// hitl_tools_refused_total{reason} on the worker's /metrics, reason one of
// caller (a workflow other than the agent's asked: checkCaller),
// unknown_key (an approval signed with a key the worker no longer holds: a
// decision key dropped before every call approved under it ran) and
// approval (any other failed check of the call's approvals).
const MetricToolsRefused = "hitl_tools_refused"

// The reasons of MetricToolsRefused.
const (
	refusedCaller     = "caller"
	refusedUnknownKey = "unknown_key"
	refusedApproval   = "approval"
)

func countToolRefused(ctx context.Context, reason string) {
	activity.GetMetricsHandler(ctx).WithTags(map[string]string{"reason": reason}).Counter(MetricToolsRefused).Inc(1)
}

func countUnverified(ctx context.Context, reason string) {
	activity.GetMetricsHandler(ctx).WithTags(map[string]string{"reason": reason}).Counter(MetricDecisionsUnverified).Inc(1)
}

// workerPolicy is the policy with the argument schema of each of its tools
// that the registry has (the worker checks at startup that it has them all),
// and how runs try the tools and the model.
func workerPolicy(p workflows.Policy, tools *Registry, retry workflows.ToolRetry, modelRetry workflows.ModelRetry) workflows.WorkerPolicy {
	wp := workflows.WorkerPolicy{Policy: p, Schemas: map[string]json.RawMessage{}, ToolRetry: &retry, ModelRetry: &modelRetry}
	for _, name := range p.ToolNames() {
		t, ok := tools.Lookup(name)
		if !ok {
			continue
		}
		wp.Schemas[name], _ = tools.Schema(name)
		if t.Local {
			wp.LocalTools = append(wp.LocalTools, name)
		}
	}
	return wp
}

// PublishApprovalRequest publishes an approval-request (see
// workflows.ApprovalRequestData.Message for its id and headers).
func (a *Activities) PublishApprovalRequest(ctx context.Context, in workflows.ApprovalRequestInput) error {
	if err := a.checkPublisher(ctx, in.Data.WorkflowID); err != nil {
		return err
	}
	m, err := in.Data.Message(a.idKey)
	return a.publish(ctx, m, err)
}

// PublishApprovalResolved publishes an approval-resolved (see
// workflows.ApprovalResolvedData.Message for its id and headers).
func (a *Activities) PublishApprovalResolved(ctx context.Context, in workflows.ApprovalResolvedInput) error {
	if err := a.checkPublisher(ctx, in.Data.WorkflowID); err != nil {
		return err
	}
	m, err := in.Data.Message(a.idKey)
	return a.publish(ctx, m, err)
}

// PublishApprovalIgnored publishes an approval-ignored (see
// workflows.ApprovalIgnoredData.Message for its id and headers).
func (a *Activities) PublishApprovalIgnored(ctx context.Context, in workflows.ApprovalIgnoredInput) error {
	if err := a.checkPublisher(ctx, in.Data.WorkflowID); err != nil {
		return err
	}
	m, err := in.Data.Message(a.idKey)
	return a.publish(ctx, m, err)
}

// publish publishes the agent message m, or fails for good with err, the
// error of building m.
func (a *Activities) publish(ctx context.Context, m workflows.AgentMessage, err error) error {
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeBadRequest, nil)
	}
	msg, err := ablymsg.Agent(m)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeBadRequest, nil)
	}
	if err := a.publisher.Publish(ctx, a.channel, msg); err != nil {
		return err
	}
	a.logger.InfoContext(ctx, "published", "name", msg.Name, "id", msg.ID, "channel", a.channel)
	return nil
}
