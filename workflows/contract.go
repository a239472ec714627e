package workflows

import (
	"encoding/json"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
)

// TaskQueue is the task queue the worker polls and the starter targets.
const TaskQueue = "hitl-agent"

// WorkflowName is the name new runs of the agent workflow start under.
// Runs of this name take the fast path (versionFastPath) without asking
// workflow.GetVersion, which would cost every run two history events.
const WorkflowName = "AgentWorkflowV2"

// WorkflowNameV1 is the name runs started before WorkflowName started
// under. A worker registers AgentWorkflow under both (RegisteredNames) so
// that those runs still replay; they find their version with GetVersion.
const WorkflowNameV1 = "AgentWorkflow"

// RegisteredNames lists the names a worker registers AgentWorkflow under.
func RegisteredNames() []string { return []string{WorkflowName, WorkflowNameV1} }

// Activity names. The activities package implements them as methods of
// activities.Activities with exactly these names.
const (
	ActivityCallModel               = "CallModel"
	ActivityExecuteTool             = "ExecuteTool"
	ActivityPublishApprovalRequest  = "PublishApprovalRequest"
	ActivityPublishApprovalResolved = "PublishApprovalResolved"
	ActivityPublishApprovalIgnored  = "PublishApprovalIgnored"

	// ActivityWorkerPolicy (a local activity) returns the worker's
	// WorkerPolicy; a run records it in its history at its start.
	ActivityWorkerPolicy = "WorkerPolicy"
	// ActivityVerifyDecision (a local activity) checks a decision's
	// signature with the worker's verify keys, and that it was signed for
	// the run that asks (Decision.WorkflowID), and returns a
	// DecisionVerdict, recorded in the run's history.
	ActivityVerifyDecision = "VerifyDecision"
)

// WorkerPolicy is what the worker that starts a run decides for it: the
// approval policy and the JSON schema of each tool's arguments. A run takes
// it once, at its start (ActivityWorkerPolicy), so a later edit of the
// worker's policy file affects new runs only, and whoever starts a run has
// no say in it.
type WorkerPolicy struct {
	Policy Policy `json:"policy"`
	// Schemas maps a tool name to the JSON schema of its arguments object,
	// for every tool of Policy that needs a human.
	Schemas map[string]json.RawMessage `json:"schemas"`
	// LocalTools names the tools the worker runs as local activities:
	// short and idempotent, so a run need not schedule a full activity.
	LocalTools []string `json:"localTools,omitempty"`
	// ToolRetry is how often the run tries a tool before its failure goes
	// to the model; nil in runs recorded before it (3 attempts).
	ToolRetry *ToolRetry `json:"toolRetry,omitempty"`
	// ModelRetry is how long the run tries a model call before it fails;
	// nil in runs recorded before it (5 attempts).
	ModelRetry *ModelRetry `json:"modelRetry,omitempty"`
}

// DecisionVerdict is the result of ActivityVerifyDecision.
type DecisionVerdict struct {
	// Valid is true when the signature verifies with the key KeyID.
	Valid bool `json:"valid"`
	// Reason says why a decision is not valid ("unsigned", "unknown key
	// \"k2\"", "bad signature").
	Reason string `json:"reason,omitempty"`
	// Retired is true when the signature is good but made with a key the
	// worker has retired (a bridge that missed a key rotation signed it):
	// the decision does not count, but it is no forgery, so its approver
	// is told (approval-ignored).
	Retired bool `json:"retired,omitempty"`
}

// ErrTypeInvalidInput is the application error type of a run that was
// started with input the workflow refuses (empty prompt, bad policy). Such
// errors are not retryable.
const ErrTypeInvalidInput = "InvalidInput"

// Error types of the non-retryable application errors the activities
// return; the workflow branches on them with temporal.ApplicationError.Type().
const (
	// ErrTypeToolInput: the model's arguments are not valid for the tool.
	// The workflow does not retry it (nor any non-retryable application
	// error); the error text goes back to the model.
	ErrTypeToolInput   = "ToolInputError"
	ErrTypeUnknownTool = "UnknownToolError" // no tool of that name is registered
	ErrTypeBadRequest  = "BadRequestError"  // the activity input itself is invalid
	ErrTypeModel       = "ModelError"       // the model API refused the request for good
	ErrTypeWebhook     = "WebhookError"     // the CMS webhook refused the request for good, or the tool cannot act on posts there
	ErrTypeAbly        = "AblyError"        // Ably refused the publish for good
	ErrTypeUnsupported = "UnsupportedError" // the tool cannot run safely where the worker runs (BLOG_DIR's file system)
	ErrTypeAlreadyRan  = "AlreadyRanError"  // this call (workflow id, call id) already ran with other arguments: not run again
	// ErrTypeNotApproved: the tool needs approval, and the request does
	// not carry decisions the worker verifies for this run, call and
	// arguments (ToolRequest.Approvals), or a workflow other than the
	// agent's asked for the tool or a publish: a stale or forged request.
	ErrTypeNotApproved = "NotApprovedError"
)

// DecisionSignal is the signal through which the approver bridge delivers a
// human decision. Its payload is a Decision.
const DecisionSignal = "approval-decision"

// ApprovalsQuery returns an ApprovalsView: the pending approvals and the
// audit trail so far.
const ApprovalsQuery = "approvals"

// Search attributes the workflow upserts. They must be registered on the
// namespace (the dev stack passes --search-attribute to the dev server).
var (
	// SAToolCallIDs lists every tool-call id of this run that needed a human
	// decision. The bridge finds the workflow of a response that carries only
	// headers.toolCallId with the visibility query
	//   ApprovalToolCallIDs = '<toolCallId>'.
	SAToolCallIDs = temporal.NewSearchAttributeKeyKeywordList("ApprovalToolCallIDs")
	// SAPendingApprovals counts approvals that are waiting for a human.
	SAPendingApprovals = temporal.NewSearchAttributeKeyInt64("PendingApprovals")
)

// SearchAttributes lists every search attribute the workflow upserts.
// A namespace must have each registered with its name and value type
// before a run upserts it.
func SearchAttributes() []temporal.SearchAttributeKey {
	return []temporal.SearchAttributeKey{SAToolCallIDs, SAPendingApprovals}
}

// PendingRunsQuery is the visibility query of the running workflows that
// wait for a human. It counts only runs on TaskQueue: whoever starts a run
// sets its first search attributes, and a run started with a made-up
// PendingApprovals on a queue no worker polls would be listed for ever
// (the agent's own runs replace theirs as soon as they ask).
func PendingRunsQuery() string {
	return RunsOnTaskQueue + " AND ExecutionStatus = 'Running' AND " + SAPendingApprovals.GetName() + " > 0"
}

// RunsOnTaskQueue is the visibility condition every lookup of the agent's
// runs starts with: runs of the agent workflow (RegisteredNames) on
// TaskQueue, which only the agent's workers run. The type matters as much
// as the queue: a starter may start any type on TaskQueue, and a type no
// worker has fails every workflow task and stays Running with the search
// attributes it was started with.
const RunsOnTaskQueue = "TaskQueue = '" + TaskQueue + "' AND WorkflowType IN ('" + WorkflowName + "', '" + WorkflowNameV1 + "')"

// SearchAttributeSpecs returns SearchAttributes as "Name=Type" strings
// ("ApprovalToolCallIDs=KeywordList"), the form of the Temporal CLI's
// --search-attribute flag.
func SearchAttributeSpecs() []string {
	var out []string
	for _, k := range SearchAttributes() {
		out = append(out, k.GetName()+"="+k.GetValueType().String())
	}
	return out
}

// Decision values, as the guide's client sends them in data.decision.
const (
	DecisionApproved = "approved"
	DecisionRejected = "rejected"
)

// Decision is the payload of DecisionSignal. The bridge fills it from a
// verified approval-response: ApproverRole comes only from the server-set
// extras.userClaim, ApproverClientID from the message's clientId. It then
// signs it (KeyID, Signature over SigningPayload): the workflow applies
// only decisions whose signature the worker verifies, so a signal from
// anyone else changes nothing.
type Decision struct {
	ToolCallID       string    `json:"toolCallId"`
	Decision         string    `json:"decision"` // DecisionApproved or DecisionRejected
	ApproverClientID string    `json:"approverClientId"`
	ApproverRole     string    `json:"approverRole"`
	Reason           string    `json:"reason,omitempty"`
	AblyMessageID    string    `json:"ablyMessageId"`
	PublishedAt      time.Time `json:"publishedAt,omitzero"` // the Ably message timestamp
	// WorkflowID is the run the bridge routed the decision to; a signed
	// decision is valid only for that run.
	WorkflowID string `json:"workflowId,omitempty"`
	// ArgumentsDigest is the digest of the arguments the approver saw
	// (approval-response data.argumentsDigest), empty from a client that
	// sends none (the guide's). A decision for other arguments than the
	// pending ones is ignored.
	ArgumentsDigest string `json:"argumentsDigest,omitempty"`
	// Arguments are edited arguments (JSON text) for a tool the policy
	// makes editable; empty for a plain approval or rejection.
	Arguments string `json:"arguments,omitempty"`
	// KeyID names the bridge key that made Signature (base64 of an
	// Ed25519 signature over SigningPayload).
	KeyID     string `json:"keyId,omitempty"`
	Signature string `json:"signature,omitempty"`
}

// AgentInput starts one agent run.
type AgentInput struct {
	Prompt    string `json:"prompt"`
	Requester string `json:"requester"` // who asked, shown to approvers
	// Policy is no longer read: a run takes the worker's policy
	// (ActivityWorkerPolicy). Runs started before that change carried
	// their policy snapshot here, and keep it; a new run whose input
	// carries one ignores it and records AuditPolicyIgnored.
	Policy Policy `json:"policy,omitzero"`
	// MaxTurns bounds the model calls of the run (default DefaultMaxTurns).
	MaxTurns int `json:"maxTurns,omitempty"`
}

// Bounds that keep one run's history finite. A run makes at most MaxTurns
// model calls and handles at most MaxToolCallsPerTurn tool calls per turn;
// extra tool calls in one response are denied.
const (
	DefaultMaxTurns     = 10
	MaxTurnsLimit       = 50
	MaxToolCallsPerTurn = 16
)

// AgentResult is the workflow's result.
type AgentResult struct {
	Answer string       `json:"answer"`
	Turns  int          `json:"turns"`
	Audit  []AuditEntry `json:"audit"`
}

// Conversation item types, as in the Responses API.
const (
	ItemMessage            = "message"
	ItemFunctionCall       = "function_call"
	ItemFunctionCallOutput = "function_call_output"
)

// ConversationItem is one input or output item of the Responses API, in the
// subset the agent uses. The workflow keeps the conversation as a slice of
// these and sends it whole on every model call.
type ConversationItem struct {
	Type      string `json:"type"`
	Role      string `json:"role,omitempty"`      // message: "user" or "assistant"
	Text      string `json:"text,omitempty"`      // message text
	CallID    string `json:"callId,omitempty"`    // function_call, function_call_output
	Name      string `json:"name,omitempty"`      // function_call
	Arguments string `json:"arguments,omitempty"` // function_call: raw JSON text
	Output    string `json:"output,omitempty"`    // function_call_output
}

// ModelRequest is the input of ActivityCallModel.
type ModelRequest struct {
	WorkflowID string             `json:"workflowId"`
	Turn       int                `json:"turn"`
	Input      []ConversationItem `json:"input"`
	// Tools names the tools offered to the model, in a fixed order.
	Tools []string `json:"tools"`
}

// ToolCall is one function_call the model asked for.
type ToolCall struct {
	CallID    string `json:"callId"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ModelResponse is the result of ActivityCallModel.
type ModelResponse struct {
	ResponseID string             `json:"responseId"`
	Text       string             `json:"text"`      // the model's text output, if any
	ToolCalls  []ToolCall         `json:"toolCalls"` // function calls, in output order
	Output     []ConversationItem `json:"output"`    // every output item, to append to the conversation
}

// ToolRequest is the input of ActivityExecuteTool. WorkflowID plus CallID is
// the idempotency key of the tool's side effect.
type ToolRequest struct {
	WorkflowID string `json:"workflowId"`
	CallID     string `json:"callId"`
	Name       string `json:"name"`
	Arguments  string `json:"arguments"`
	// ApprovedBy is the approver's clientId, empty for tools that need no approval.
	ApprovedBy string `json:"approvedBy,omitempty"`
	// Approvals are the signed decisions that approved the call (one, or
	// the quorum's), which the worker verifies again before the tool runs:
	// for the calling run, this call, a role the worker's policy accepts,
	// and these arguments (ExecuteTool refuses, ErrTypeNotApproved,
	// without them). Empty for tools that need no approval.
	Approvals []Decision `json:"approvals,omitempty"`
}

// ModelHeartbeatTimeout is the heartbeat timeout of ActivityCallModel,
// which heartbeats while the model answers: a model call on a worker that
// died or froze is tried again on another after this long, not after the
// attempt's timeout (ModelRetry.AttemptTimeout, 2 minutes by default).
const ModelHeartbeatTimeout = 30 * time.Second

// MaxDecisionAge bounds how long after its Ably timestamp a signed
// decision lets a tool run: the longest approval wait and a week (a
// quorum's first approval may be that old when the last one comes, and a
// worker may be down a while after). Older, it approves nothing a run can
// still wait for. (Other workflows cannot replay decisions from a closed
// run's history under its reused workflow id: the tool activity checks
// that its caller is the agent's workflow, activities.checkCaller.)
const MaxDecisionAge = MaxApprovalTimeout + 7*24*time.Hour

// ToolResult is the result of ActivityExecuteTool: the text sent back to
// the model as function_call_output.
type ToolResult struct {
	Output string `json:"output"`
}

// PendingApproval describes one approval that waits for a human.
type PendingApproval struct {
	ToolCallID string `json:"toolCallId"`
	Tool       string `json:"tool"`
	// Arguments are the canonical arguments (CanonicalArguments) that the
	// tool runs with, in runs started since the worker owns the policy;
	// the model's raw text in older runs.
	Arguments       string    `json:"arguments"`
	ArgumentsDigest string    `json:"argumentsDigest,omitempty"`
	RequiredRole    string    `json:"requiredRole"`
	RequestedAt     time.Time `json:"requestedAt"`
	ExpiresAt       time.Time `json:"expiresAt"`
	// CallRules is set for a call whose policy has rules beyond one
	// approver, as in ApprovalRequestData.
	CallRules
}

// Request is the approval-request that announces the pending approval p of
// run workflowID, started by requester, under the role hierarchy roles.
func (p PendingApproval) Request(workflowID, requester string, roles []string) ApprovalRequestData {
	return ApprovalRequestData{
		Tool:            p.Tool,
		Arguments:       p.Arguments,
		ArgumentsDigest: p.ArgumentsDigest,
		ToolCallID:      p.ToolCallID,
		WorkflowID:      workflowID,
		RequiredRole:    p.RequiredRole,
		Requester:       requester,
		RequestedAt:     p.RequestedAt,
		ExpiresAt:       p.ExpiresAt,
		Roles:           slices.Clone(roles),
		CallRules:       p.CallRules.clone(),
	}
}

// Audit entry kinds.
const (
	AuditRequested    = "requested"     // an approval-request was published
	AuditApproved     = "approved"      // a valid decision approved the call
	AuditRejected     = "rejected"      // a valid decision rejected the call
	AuditIgnored      = "ignored"       // a decision that changed nothing; Reason says why
	AuditExpired      = "expired"       // no valid decision before the timeout
	AuditDenied       = "denied"        // policy denied the call (unknown tool, no policy, bad role)
	AuditAutoApproved = "auto-approved" // policy needs no approval
	AuditExecuted     = "executed"      // the tool ran
	AuditFailed       = "failed"        // the tool failed; Reason has the error
	AuditCancelled    = "cancelled"     // the run was cancelled while the approval waited
	// AuditPolicyIgnored: the run's input carried a policy, which a run
	// never takes (the worker's policy applies).
	AuditPolicyIgnored = "policy-ignored"

	// Kinds of calls whose policy has rules beyond one approver.

	// AuditCounted: an approval (or, with rejectBy quorum, a rejection)
	// counted toward the quorum; Reason says how far ("1 of 2 approvals").
	AuditCounted = "counted"
	// AuditEdited: an approver edited the arguments (Actor, Role);
	// Original holds the arguments before, Arguments the edit.
	AuditEdited = "edited"
	// AuditEscalated: the call was undecided after a stage's "after" and
	// now needs Role or higher.
	AuditEscalated = "escalated"

	// AuditOmitted: the first entry of a trail that an answer (the run's
	// result, ApprovalsQuery's) left its oldest entries out of, to fit
	// Temporal's payload limit; Reason says how many. The workflow history
	// holds what they recorded.
	AuditOmitted = "omitted"
)

// AuditEntry is one line of a run's audit trail.
type AuditEntry struct {
	Time          time.Time `json:"time"`
	Kind          string    `json:"kind"`
	ToolCallID    string    `json:"toolCallId,omitempty"`
	Tool          string    `json:"tool,omitempty"`
	Actor         string    `json:"actor,omitempty"` // approver clientId
	Role          string    `json:"role,omitempty"`  // approver role, from userClaim
	Reason        string    `json:"reason,omitempty"`
	AblyMessageID string    `json:"ablyMessageId,omitempty"`
	// Arguments and Original (AuditEdited): the edited arguments and the
	// ones they replaced, canonical JSON text.
	Arguments string `json:"arguments,omitempty"`
	Original  string `json:"original,omitempty"`
	// Omitted (added) says what of the entry an answer left out for its
	// size (fitAudit): the edited arguments of an old edit.
	Omitted string `json:"omitted,omitempty"`
}

// ApprovalsView is the result of ApprovalsQuery.
type ApprovalsView struct {
	Pending []PendingApproval `json:"pending"`
	Audit   []AuditEntry      `json:"audit"`
	// Roles is the role hierarchy of the run's policy snapshot, lowest first,
	// so the bridge can check a role without reading any file.
	Roles []string `json:"roles"`
	// RunID (added) is ResetRunID of the run: the RunID of the requests
	// it publishes.
	RunID string `json:"runId,omitempty"`
}
