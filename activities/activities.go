package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ably/ably-go/ably"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/workflows"
)

// Model is the model seam of CallModel. OpenAIModel implements it.
type Model interface {
	Respond(ctx context.Context, req workflows.ModelRequest, tools []Tool) (workflows.ModelResponse, error)
}

// Deps are the injected dependencies of Activities. All are required
// except Channel and Logger.
type Deps struct {
	Model     Model     // CallModel; *OpenAIModel in production
	Tools     *Registry // ExecuteTool, and the tool definitions of CallModel
	Publisher Publisher // approval messages; *AblyPublisher in production
	Channel   string    // Ably channel; "" means workflows.DefaultChannel
	Logger    *slog.Logger
}

// Activities implements the workflow's activities. Register the pointer
// returned by New with w.RegisterActivity(acts): its exported methods are
// exactly the workflows.Activity* activities.
type Activities struct {
	model     Model
	tools     *Registry
	publisher Publisher
	channel   string
	logger    *slog.Logger
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
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("activities: %w", err)
	}
	a := &Activities{model: d.Model, tools: d.Tools, publisher: d.Publisher, channel: d.Channel, logger: d.Logger}
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
	tools, err := a.tools.Select(req.Tools)
	if err != nil {
		return workflows.ModelResponse{}, err
	}
	res, err := a.model.Respond(ctx, req, tools)
	if err != nil {
		a.logger.WarnContext(ctx, "model call failed", "workflowId", req.WorkflowID, "turn", req.Turn, "error", err)
		return workflows.ModelResponse{}, err
	}
	a.logger.InfoContext(ctx, "model responded", "workflowId", req.WorkflowID, "turn", req.Turn,
		"responseId", res.ResponseID, "toolCalls", len(res.ToolCalls))
	return res, nil
}

// ExecuteTool runs one tool call. The tool's side effect is idempotent on
// WorkflowID + CallID.
func (a *Activities) ExecuteTool(ctx context.Context, req workflows.ToolRequest) (workflows.ToolResult, error) {
	if req.WorkflowID == "" || req.CallID == "" {
		return workflows.ToolResult{}, temporal.NewNonRetryableApplicationError(
			"execute tool: workflowId and callId are required", ErrTypeBadRequest, nil)
	}
	t, ok := a.tools.Lookup(req.Name)
	if !ok {
		return workflows.ToolResult{}, unknownTool(req.Name, a.tools.Names())
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

// PublishApprovalRequest publishes an approval-request with message id
// "<workflowId>:<toolCallId>:request".
func (a *Activities) PublishApprovalRequest(ctx context.Context, in workflows.ApprovalRequestInput) error {
	d := in.Data
	return a.publish(ctx, workflows.MsgApprovalRequest, d.WorkflowID, d.ToolCallID, "request", d)
}

// PublishApprovalResolved publishes an approval-resolved with message id
// "<workflowId>:<toolCallId>:resolved".
func (a *Activities) PublishApprovalResolved(ctx context.Context, in workflows.ApprovalResolvedInput) error {
	d := in.Data
	return a.publish(ctx, workflows.MsgApprovalResolved, d.WorkflowID, d.ToolCallID, "resolved", d)
}

func (a *Activities) publish(ctx context.Context, name, workflowID, toolCallID, suffix string, data any) error {
	msg, err := approvalMessage(name, workflowID, toolCallID, suffix, data)
	if err != nil {
		return err
	}
	if err := a.publisher.Publish(ctx, a.channel, msg); err != nil {
		return err
	}
	a.logger.InfoContext(ctx, "published", "name", name, "id", msg.ID, "channel", a.channel)
	return nil
}

// approvalMessage builds the Ably message. Data is a map so ably-go REST
// sends it as a JSON string with encoding "json", as ably-js does.
func approvalMessage(name, workflowID, toolCallID, suffix string, data any) (*ably.Message, error) {
	if workflowID == "" || toolCallID == "" {
		return nil, temporal.NewNonRetryableApplicationError(
			name+": workflowId and toolCallId are required", ErrTypeBadRequest, nil)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(name+": encode data: "+err.Error(), ErrTypeBadRequest, nil)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: decode data: %w", name, err)
	}
	return &ably.Message{
		ID:   workflowID + ":" + toolCallID + ":" + suffix,
		Name: name,
		Data: m,
		Extras: map[string]any{
			"headers": map[string]any{
				workflows.HeaderToolCallID: toolCallID,
				workflows.HeaderWorkflowID: workflowID,
			},
		},
	}, nil
}
