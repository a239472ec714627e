package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/workflows"
)

// fakeActivities stand in for the real ones: a model scripted per scenario
// (the prompt names it) and tools and publishers that only answer.
type fakeActivities struct {
	mu       sync.Mutex
	resolved map[string]string           // "<workflowId>\x00<toolCallId>" -> last outcome published
	policies map[string]workflows.Policy // the worker's policy, by workflow id
	// activityTools are the tools run as activities, by workflow id.
	activityTools map[string][]string
	verifier      *signing.Verifier
	requests      map[string]int      // approval-request publish attempts, by workflow id
	noticed       map[string][]string // approvers told of an ignored decision, by workflow id
}

// setPolicy makes policy the worker's for workflow id, with the tools of
// activityTools run as activities instead of local activities.
func (f *fakeActivities) setPolicy(id string, p workflows.Policy, activityTools []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policies[id] = p
	f.activityTools[id] = activityTools
}

// toolSchemas are the argument schemas of the team's tools, as the real
// worker's registry has them.
var toolSchemas = map[string]json.RawMessage{
	"publish_blog_post": json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"}},"required":["title"],"additionalProperties":false}`),
	"search_posts":      json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"}},"required":["query"],"additionalProperties":false}`),
	"delete_post":       json.RawMessage(`{"type":"object","properties":{"slug":{"type":"string"}},"required":["slug"],"additionalProperties":false}`),
	// Not a team tool: a tool with a free-form object, as a team may add.
	"tag_post": json.RawMessage(`{"type":"object","properties":{"slug":{"type":"string"},"tags":{"type":"object"}},"required":["slug"],"additionalProperties":false}`),
}

func (f *fakeActivities) WorkerPolicy(ctx context.Context) (workflows.WorkerPolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.policies[activity.GetInfo(ctx).WorkflowExecution.ID]
	if !ok {
		return workflows.WorkerPolicy{}, errors.New("no policy for this run")
	}
	// The real worker runs its blog tools as local activities.
	local := slices.DeleteFunc([]string{"publish_blog_post", "search_posts", "delete_post"}, func(name string) bool {
		return slices.Contains(f.activityTools[activity.GetInfo(ctx).WorkflowExecution.ID], name)
	})
	retry, modelRetry := workflows.DefaultToolRetry(), workflows.DefaultModelRetry()
	return workflows.WorkerPolicy{Policy: p, Schemas: toolSchemas, LocalTools: local, ToolRetry: &retry, ModelRetry: &modelRetry}, nil
}

func (f *fakeActivities) VerifyDecision(ctx context.Context, d workflows.Decision) (workflows.DecisionVerdict, error) {
	if d.WorkflowID != activity.GetInfo(ctx).WorkflowExecution.ID {
		return workflows.DecisionVerdict{Reason: "signed for another run"}, nil
	}
	if err := f.verifier.Verify(d); err != nil {
		return workflows.DecisionVerdict{Reason: err.Error(), Retired: errors.Is(err, signing.ErrRetiredKey)}, nil
	}
	return workflows.DecisionVerdict{Valid: true}, nil
}

// resolvedOf returns the outcomes published for the run, by tool-call id.
func (f *fakeActivities) resolvedOf(workflowID string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.resolved {
		if wf, call, ok := strings.Cut(k, "\x00"); ok && wf == workflowID {
			out[call] = v
		}
	}
	return out
}

func (*fakeActivities) CallModel(ctx context.Context, req workflows.ModelRequest) (workflows.ModelResponse, error) {
	if len(req.Input) == 0 {
		return workflows.ModelResponse{}, errors.New("empty conversation")
	}
	sc := req.Input[0].Text
	if sc == "model-outage" && req.Turn == 2 && activity.GetInfo(ctx).Attempt < 3 {
		// The model's provider is down for the first two attempts of the
		// turn after the approved tool ran (workflows.ModelRetry).
		return workflows.ModelResponse{}, errors.New("openai: 503 Service Unavailable (retryable)")
	}
	call := func(suffix, name, args string) workflows.ToolCall {
		return workflows.ToolCall{CallID: "call-" + sc + "-" + suffix, Name: name, Arguments: args}
	}
	var calls []workflows.ToolCall
	switch {
	case req.Turn == 1 && slices.Contains([]string{"approve", "expire", "unpublished", "forged", "forged-signed", "single", "activity-tool", "ignored-activity", "quorum", "change-of-mind", "superseded", "escalate", "edit", "edit-tool-fails", "edit-digestless", "edit-surrogate", "in-time-decision", "in-time-escalated", "due-escalation", "burned-id", "burned-id-activity", "before-start", "flaky-publish", "flaky-publish-decided", "model-outage", "retired-key"}, sc):
		calls = []workflows.ToolCall{call("1", "publish_blog_post", `{ "title": "Introducing our new API" }`)}
	case req.Turn == 1 && sc == "ambiguous":
		calls = []workflows.ToolCall{
			call("1", "publish_blog_post", `{"title":"Quarterly update","body":"Numbers.","TITLE":"We are shutting down"}`),
			call("2", "delete_post", `{"slug":"old-draft","ſlug":"introducing-our-new-api"}`),
		}
	case req.Turn == 1 && sc == "normalised-keys-edit":
		calls = []workflows.ToolCall{call("1", "tag_post", `{"slug":"menu","tags":{"drinks":"hot"}}`)}
	case req.Turn == 1 && sc == "normalised-keys":
		calls = []workflows.ToolCall{call("1", "tag_post", `{"slug":"menu","tags":{"caf\u00e9":"hot drinks","cafe\u0301":"closed"}}`)}
	case req.Turn == 1 && sc == "reject":
		calls = []workflows.ToolCall{call("1", "delete_post", `{"slug":"hello-world"}`)}
	case req.Turn == 1 && sc == "parallel":
		calls = []workflows.ToolCall{
			call("a", "publish_blog_post", `{"title":"A"}`),
			call("b", "delete_post", `{"slug":"b"}`),
			call("s", "search_posts", `{"query":"api"}`),
			call("x", "drop_database", `{}`),
		}
	case req.Turn == 1 && sc == "cancel":
		calls = []workflows.ToolCall{
			call("a", "publish_blog_post", `{"title":"A"}`),
			call("b", "delete_post", `{"slug":"b"}`),
		}
	case req.Turn == 2 && sc == "parallel":
		calls = []workflows.ToolCall{call("s2", "search_posts", `{"query":"more"}`)}
	}
	resp := workflows.ModelResponse{ResponseID: fmt.Sprintf("resp-%s-%d", sc, req.Turn), ToolCalls: calls}
	for _, tc := range calls {
		resp.Output = append(resp.Output, workflows.ConversationItem{Type: workflows.ItemFunctionCall, CallID: tc.CallID, Name: tc.Name, Arguments: tc.Arguments})
	}
	if len(calls) == 0 {
		resp.Text = fmt.Sprintf("%s: finished after %d turns", sc, req.Turn)
		resp.Output = []workflows.ConversationItem{{Type: workflows.ItemMessage, Role: "assistant", Text: resp.Text}}
	}
	return resp, nil
}

func (*fakeActivities) ExecuteTool(_ context.Context, req workflows.ToolRequest) (workflows.ToolResult, error) {
	if req.WorkflowID == "record-edit-tool-fails" {
		return workflows.ToolResult{}, temporal.NewNonRetryableApplicationError("the CMS refused the post: title taken", "CMSError", nil)
	}
	return workflows.ToolResult{Output: fmt.Sprintf(`{"tool":%q,"callId":%q,"ok":true}`, req.Name, req.CallID)}, nil
}

// flakyAttempts is how many approval-request publishes of the
// flaky-publish run fail as if Ably were unreachable: every attempt of the
// first publish activity (workflows' publishRetry).
const flakyAttempts = 5

func (f *fakeActivities) PublishApprovalRequest(_ context.Context, in workflows.ApprovalRequestInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[in.Data.WorkflowID]++
	switch in.Data.WorkflowID {
	case "record-unpublished":
		return temporal.NewNonRetryableApplicationError("ably refused the request", "AblyError", nil)
	case "record-flaky-publish":
		if f.requests[in.Data.WorkflowID] <= flakyAttempts {
			return temporal.NewApplicationError("ably unreachable", "AblyError")
		}
	case "record-flaky-publish-decided":
		return temporal.NewApplicationError("ably unreachable", "AblyError")
	case "record-due-escalation":
		if in.Data.Revision == 1 {
			return temporal.NewApplicationError("ably unreachable", "AblyError")
		}
	}
	return nil
}

func (f *fakeActivities) PublishApprovalIgnored(_ context.Context, in workflows.ApprovalIgnoredInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noticed[in.Data.WorkflowID] = append(f.noticed[in.Data.WorkflowID], in.Data.Approver)
	return nil
}

// noticedOf returns the approvers told of an ignored decision in the run,
// in the order published.
func (f *fakeActivities) noticedOf(workflowID string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.noticed[workflowID]...)
}

func (f *fakeActivities) PublishApprovalResolved(_ context.Context, in workflows.ApprovalResolvedInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolved[in.Data.WorkflowID+"\x00"+in.Data.ToolCallID] = in.Data.Outcome
	return nil
}
