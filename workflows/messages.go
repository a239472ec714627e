package workflows

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// The Ably message contract. All messages travel on one channel
// (DefaultChannel unless configured). Names and the data/extras shapes of
// approval-request and approval-response are those of the public guide;
// fields marked "added" are ours and optional for readers.
const (
	DefaultChannel = "ai:big-bad-any"

	// MsgApprovalRequest is published by the agent (clientId AgentClientID)
	// when a tool call needs a human. data: ApprovalRequestData;
	// extras.headers: toolCallId, workflowId.
	MsgApprovalRequest = "approval-request"
	// MsgApprovalResponse is published by a human approver. data:
	// ApprovalResponseData; extras.headers.toolCallId (required),
	// extras.headers.workflowId (optional); extras.userClaim is set by Ably
	// from the approver's JWT and never trusted from the client.
	MsgApprovalResponse = "approval-response"
	// MsgApprovalResolved is published by the agent after a decision or an
	// expiry so approver screens drop the request. data: ApprovalResolvedData.
	MsgApprovalResolved = "approval-resolved"
	// MsgApprovalIgnored (added) tells an approver that the run did not
	// count their decision, and why (ApprovalIgnoredData). A client that
	// does not know it passes it over.
	MsgApprovalIgnored = "approval-ignored"

	// DefaultAgentClientID is the Ably clientId the agent publishes with.
	// Approver clients show only approval-requests from this clientId.
	DefaultAgentClientID = "hitl:agent"
	// DefaultBridgeClientID is the Ably clientId of the approver bridge.
	DefaultBridgeClientID = "hitl:bridge"

	// ExtrasHeaders and ExtrasUserClaim are the keys of a message's extras
	// that the contract uses: the headers, and the approver's role that
	// Ably sets from the publisher's JWT (never trusted from the client).
	ExtrasHeaders   = "headers"
	ExtrasUserClaim = "userClaim"

	// HeaderToolCallID and HeaderWorkflowID are the extras.headers keys.
	HeaderToolCallID = "toolCallId"
	HeaderWorkflowID = "workflowId"
)

// ApprovalRequestData is data of an approval-request. Tool and Arguments
// are the guide's fields (Arguments is the model's raw JSON text); the rest
// are added.
type ApprovalRequestData struct {
	Tool      string `json:"tool"`
	Arguments string `json:"arguments"`
	// ArgumentsDigest (added) is ArgumentsDigest(Arguments); a decision
	// names it to say which arguments the approver saw.
	ArgumentsDigest string    `json:"argumentsDigest,omitempty"`
	ToolCallID      string    `json:"toolCallId"`
	WorkflowID      string    `json:"workflowId"`
	RequiredRole    string    `json:"requiredRole"`
	Requester       string    `json:"requester,omitempty"`
	RequestedAt     time.Time `json:"requestedAt"`
	ExpiresAt       time.Time `json:"expiresAt"`
	// Roles (added) is the run's role hierarchy, lowest first, so that a
	// reader can tell whether a role reaches RequiredRole.
	Roles []string `json:"roles,omitempty"`

	// Rules (added) are set only for a call whose policy has rules beyond
	// one approver; see CallRules.
	CallRules
	// Supersedes, in a revision after the first, is the Ably message id of
	// the first approval-request of the call.
	Supersedes string `json:"supersedes,omitempty"`
	// RunID (added) is set only by a run made by a Temporal reset of
	// another; see ResetRunID.
	RunID string `json:"runId,omitempty"`
}

// CallRules is the state of a call whose tool policy has rules beyond one
// approver (ToolPolicy: approvals, rejectBy, distinctFromRequester,
// escalate, editable), as approval-request and the approvals query show
// it. The agent re-announces such a call with a new approval-request,
// Revision one higher, every time this state changes: a counted decision,
// an escalation, an edit. A reader keeps the request with the highest
// Revision per workflowId and toolCallId.
type CallRules struct {
	// Approvals is how many distinct approvers must approve (1 when
	// absent); ApprovedBy lists those who have, in order.
	Approvals  int        `json:"approvals,omitempty"`
	ApprovedBy []Approver `json:"approvedBy,omitempty"`
	// RejectBy is RejectByQuorum when rejections need Approvals distinct
	// rejectors too (RejectedBy lists them so far); absent: one rejection
	// by a sufficient role rejects.
	RejectBy   string     `json:"rejectBy,omitempty"`
	RejectedBy []Approver `json:"rejectedBy,omitempty"`
	// DistinctFromRequester: the requester's own decision is ignored.
	DistinctFromRequester bool `json:"distinctFromRequester,omitempty"`
	// Escalation is set once the call escalated: RequiredRole is then the
	// stage's role, and approvers below it can no longer decide.
	Escalation *EscalationState `json:"escalation,omitempty"`
	// NextEscalation says when the call escalates next, and to whom, if
	// it is still undecided then.
	NextEscalation *EscalationStep `json:"nextEscalation,omitempty"`
	// Editable: an approver may approve with edited arguments
	// (ApprovalResponseData.Arguments).
	Editable bool `json:"editable,omitempty"`
	// EditedBy is set once an approver edited the arguments: Arguments are
	// then the edited ones.
	EditedBy *Approver `json:"editedBy,omitempty"`
	// Revision counts the announcements of the call: 0 for the first.
	Revision int `json:"revision,omitempty"`
}

// clone returns a copy of c that shares no slice with it.
func (c CallRules) clone() CallRules {
	c.ApprovedBy = slices.Clone(c.ApprovedBy)
	c.RejectedBy = slices.Clone(c.RejectedBy)
	return c
}

// Approver is one approver's counted decision: the Ably clientId, the role
// from extras.userClaim, and the workflow time it was applied.
type Approver struct {
	ClientID string    `json:"clientId"`
	Role     string    `json:"role"`
	At       time.Time `json:"at"`
}

// EscalationState is where an escalated call stands: Level is the
// number of stages passed (1 for the first of ToolPolicy.Escalate),
// PreviousRole the role required before the last stage, Since when that
// stage fell due (the request's time plus its After), also when the run
// applied it later.
type EscalationState struct {
	Level        int       `json:"level"`
	PreviousRole string    `json:"previousRole"`
	Since        time.Time `json:"since"`
}

// EscalationStep is the next escalation of a pending call.
type EscalationStep struct {
	At      time.Time `json:"at"`
	MinRole string    `json:"minRole"`
}

// ApprovalResponseData is data of an approval-response. Decision is the
// guide's field; Reason is added.
type ApprovalResponseData struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason,omitempty"`
	// ArgumentsDigest (added) is the request's argumentsDigest, naming the
	// arguments the approver saw. A client that shows the arguments sends
	// it; the guide's client sends none.
	ArgumentsDigest string `json:"argumentsDigest,omitempty"`
	// Arguments (added) are edited arguments, JSON text, for a tool whose
	// policy is editable: an approval with them approves the edit. An
	// edit must name ArgumentsDigest, the digest of the arguments it
	// edits, so that an edit of a stale view is refused.
	Arguments string `json:"arguments,omitempty"`
}

// Outcomes reported in approval-resolved.
const (
	OutcomeApproved = "approved"
	OutcomeRejected = "rejected"
	OutcomeExpired  = "expired"
	// OutcomeCancelled: the request is void without a decision, because
	// the run was cancelled or the request could not be published
	// (approval-resolved is then sent in case Ably accepted it anyway).
	OutcomeCancelled = "cancelled"
)

// ApprovalResolvedData is data of an approval-resolved.
type ApprovalResolvedData struct {
	ToolCallID string `json:"toolCallId"`
	WorkflowID string `json:"workflowId"`
	Tool       string `json:"tool"`
	Outcome    string `json:"outcome"`
	DecidedBy  string `json:"decidedBy,omitempty"`
	Role       string `json:"role,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// ApprovedBy (added) lists the approvers of an approved call whose
	// policy has rules beyond one approver.
	ApprovedBy []Approver `json:"approvedBy,omitempty"`
	// RunID (added) is set only by a run made by a Temporal reset of
	// another; see ResetRunID.
	RunID string `json:"runId,omitempty"`
}

// ApprovalIgnoredData is data of an approval-ignored: the decision the
// run did not count, whose it was, and why. Only a verified decision of a
// call still pending gets one, at most MaxIgnoredNotices per approver and
// call.
type ApprovalIgnoredData struct {
	ToolCallID string `json:"toolCallId"`
	WorkflowID string `json:"workflowId"`
	Tool       string `json:"tool"`
	// Approver is the clientId of the decision's approver, Role the role
	// Ably attached to it.
	Approver string `json:"approver"`
	Role     string `json:"role,omitempty"`
	Decision string `json:"decision"`
	// AblyMessageID is the id of the approval-response not counted.
	AblyMessageID string `json:"ablyMessageId"`
	Reason        string `json:"reason"`
	// RunID (added) is set only by a run made by a Temporal reset of
	// another; see ResetRunID.
	RunID string `json:"runId,omitempty"`
}

// ApprovalIgnoredInput is the input of ActivityPublishApprovalIgnored,
// published as ApprovalIgnoredData.Message says.
type ApprovalIgnoredInput struct {
	Data ApprovalIgnoredData `json:"data"`
}

// ApprovalRequestInput is the input of ActivityPublishApprovalRequest,
// published as ApprovalRequestData.Message says.
type ApprovalRequestInput struct {
	Data ApprovalRequestData `json:"data"`
}

// ApprovalResolvedInput is the input of ActivityPublishApprovalResolved,
// published as ApprovalResolvedData.Message says.
type ApprovalResolvedInput struct {
	Data ApprovalResolvedData `json:"data"`
}

// AgentMessage is one message the agent publishes about a tool call: its
// name, its Ably message id, its extras.headers and its data. Publishers
// turn it into a client message with ablymsg.Agent.
type AgentMessage struct {
	ID      string
	Name    string
	Headers map[string]string
	Data    any
}

// Message kinds, part of an agent message id.
const (
	msgKindRequest  = "request"
	msgKindResolved = "resolved"
	msgKindIgnored  = "ignored"
)

// MinMessageIDKeyLen is the least length of the key of AgentMessageID.
const MinMessageIDKeyLen = 16

// AgentMessageID is the Ably message id of the agent's message of kind
// about one tool call: "hitl:" and 128 bits of HMAC-SHA256 under key of the
// workflow id, the tool-call id and the kind. The same inputs give the same
// id, so a retried publish is delivered once; without the key nobody can
// compute it, so an approver who saw a request cannot publish the agent's
// next message id first (Ably would then drop the agent's own message as a
// duplicate).
func AgentMessageID(key []byte, workflowID, toolCallID, kind string) string {
	return agentMessageID(key, workflowID, toolCallID, kind, "")
}

// agentMessageID is AgentMessageID of a message of run runID: a run made
// by a reset (ResetRunID) gets ids of its own, so that Ably does not drop
// its messages as duplicates of the run it reset; "" gives the ids every
// other run has always had. No part holds a NUL (ValidateWorkflowID,
// ValidateToolCallID, ValidateRunID; the kinds are the agent's), so the
// input names its parts one way only.
func agentMessageID(key []byte, workflowID, toolCallID, kind, runID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(workflowID + "\x00" + toolCallID + "\x00" + kind))
	if runID != "" {
		m.Write([]byte("\x00run\x00" + runID))
	}
	return "hitl:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// CopyMessageID is the Ably message id of a copy, published at the minute
// of at, of the agent's message id: a pending request published again
// because it left approvers' view (internal/reannounce). Like id it is an
// HMAC under key, so an approver who read the original cannot publish
// under the copy's id first (Ably's idempotent publishing would drop the
// copy); copies made in the same UTC minute, by each worker's clock, share
// it, so two workers' copies of one sweep are usually one message (and two
// copies at worst, which readers drop as a revision they have). Readers
// tell a copy by its workflowId, toolCallId and revision, which are the
// original's.
func CopyMessageID(key []byte, id string, at time.Time) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("copy\x00" + id + "\x00" + at.UTC().Format("2006-01-02T15:04")))
	return "hitl:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// Message is the approval-request for d; idKey is the agent's message-id
// key (see AgentMessageID). Each Revision has its own message id, and a
// later revision names the first's in Supersedes.
func (d ApprovalRequestData) Message(idKey []byte) (AgentMessage, error) {
	if d.Revision < 0 {
		return AgentMessage{}, fmt.Errorf("%s: negative revision %d", MsgApprovalRequest, d.Revision)
	}
	kind := msgKindRequest
	if d.Revision > 0 {
		kind = fmt.Sprintf("%s-%d", msgKindRequest, d.Revision)
		d.Supersedes = agentMessageID(idKey, d.WorkflowID, d.ToolCallID, msgKindRequest, d.RunID)
	}
	return agentMessage(idKey, MsgApprovalRequest, kind, d.WorkflowID, d.ToolCallID, d.RunID, d)
}

// Message is the approval-resolved for d; idKey is the agent's message-id
// key (see AgentMessageID).
func (d ApprovalResolvedData) Message(idKey []byte) (AgentMessage, error) {
	return agentMessage(idKey, MsgApprovalResolved, msgKindResolved, d.WorkflowID, d.ToolCallID, d.RunID, d)
}

// ClosedRunMessage is the approval-resolved for d that a worker's keeper
// (internal/reannounce) publishes, as the agent, for a call whose run
// ended (terminated, timed out, failed…) without resolving it: no
// workflow code runs then, so the run announces nothing itself.
// closedRunID is the Temporal run id of the workflow id's current run,
// found closed. Its message id is an HMAC under idKey of the call, the
// run that asked (d.RunID, as AgentMessageID) and closedRunID, under a
// kind of its own: every keeper that finds the same run closed makes the
// same id, so Ably keeps one message, and it is never the id of a
// message a run publishes (the workflow's own approval-resolved of the
// call, or one about the same ids in a later run of a reused workflow
// id, which another closed run gives another id).
func (d ApprovalResolvedData) ClosedRunMessage(idKey []byte, closedRunID string) (AgentMessage, error) {
	if closedRunID == "" {
		return AgentMessage{}, fmt.Errorf("%s: the closed run's id is required", MsgApprovalResolved)
	}
	if err := ValidateRunID(closedRunID); err != nil {
		return AgentMessage{}, fmt.Errorf("%s: closed run: %w", MsgApprovalResolved, err)
	}
	kind := msgKindResolved + "\x00closed\x00" + closedRunID
	return agentMessage(idKey, MsgApprovalResolved, kind, d.WorkflowID, d.ToolCallID, d.RunID, d)
}

// Message is the approval-ignored for d; idKey is the agent's message-id
// key (see AgentMessageID). Its id names the approver and the response
// not counted, so each response gets at most one.
func (d ApprovalIgnoredData) Message(idKey []byte) (AgentMessage, error) {
	kind := msgKindIgnored + "\x00" + d.Approver + "\x00" + d.AblyMessageID
	return agentMessage(idKey, MsgApprovalIgnored, kind, d.WorkflowID, d.ToolCallID, d.RunID, d)
}

// agentMessage is the message name of kind about one tool call of run
// runID ("" but in a reset run). Both ids are required: they make the
// message id and route the approver's answer.
func agentMessage(idKey []byte, name, kind, workflowID, toolCallID, runID string, data any) (AgentMessage, error) {
	if workflowID == "" || toolCallID == "" {
		return AgentMessage{}, fmt.Errorf("%s: workflowId and toolCallId are required", name)
	}
	if err := ValidateRunID(runID); err != nil {
		return AgentMessage{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(idKey) < MinMessageIDKeyLen {
		return AgentMessage{}, fmt.Errorf("%s: the message-id key is shorter than %d bytes", name, MinMessageIDKeyLen)
	}
	return AgentMessage{
		ID:   agentMessageID(idKey, workflowID, toolCallID, kind, runID),
		Name: name,
		Headers: map[string]string{
			HeaderToolCallID: toolCallID,
			HeaderWorkflowID: workflowID,
		},
		Data: data,
	}, nil
}
