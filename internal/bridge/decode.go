package bridge

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// Response is a verified approval-response: every field comes from the
// message, and Role only from the server-set extras.userClaim.
type Response struct {
	MessageID   string
	ClientID    string
	Role        string
	ToolCallID  string
	WorkflowID  string // optional extras.headers.workflowId
	Decision    string // workflows.DecisionApproved or workflows.DecisionRejected
	Reason      string
	PublishedAt time.Time // zero when the message has no timestamp
	// ArgumentsDigest names the arguments the approver saw; empty from a
	// client that sends none (the guide's).
	ArgumentsDigest string
	// Arguments are the approver's edited arguments (JSON text), empty for
	// a plain decision. The workflow checks them against the tool's
	// schema and its policy.
	Arguments string
}

// Signal is the DecisionSignal payload for the response.
func (r Response) Signal() workflows.Decision {
	return workflows.Decision{
		ToolCallID:       r.ToolCallID,
		Decision:         r.Decision,
		ApproverClientID: r.ClientID,
		ApproverRole:     r.Role,
		Reason:           r.Reason,
		AblyMessageID:    r.MessageID,
		PublishedAt:      r.PublishedAt,
		ArgumentsDigest:  r.ArgumentsDigest,
		Arguments:        r.Arguments,
	}
}

// DecodeResponse verifies and decodes one approval-response message. It
// denies by default: anything not exactly the documented shape is an error
// that says why.
func DecodeResponse(m *ably.Message) (Response, error) {
	if m == nil {
		return Response{}, errors.New("nil message")
	}
	if m.Name != workflows.MsgApprovalResponse {
		return Response{}, fmt.Errorf("message name %q is not %q", m.Name, workflows.MsgApprovalResponse)
	}
	if m.ID == "" {
		return Response{}, errors.New("message has no id")
	}
	if err := workflows.ValidateMessageID(m.ID); err != nil {
		return Response{}, err
	}
	if m.ClientID == "" {
		return Response{}, errors.New("message has no clientId: the approver is unidentified")
	}
	if err := workflows.ValidatePrintable("clientId", m.ClientID, workflows.MaxClientIDLen); err != nil {
		return Response{}, err
	}
	role, ok := m.Extras[workflows.ExtrasUserClaim].(string)
	if !ok || role == "" {
		return Response{}, errors.New("message has no extras.userClaim: the publisher's token carries no role")
	}
	if err := workflows.ValidatePrintable("extras.userClaim", role, workflows.MaxRoleLen); err != nil {
		return Response{}, err
	}
	headers, _ := ablymsg.AsMap(m.Extras[workflows.ExtrasHeaders])
	toolCallID, _ := headers[workflows.HeaderToolCallID].(string)
	if err := workflows.ValidateToolCallID(toolCallID); err != nil {
		return Response{}, fmt.Errorf("extras.headers.%s: %w", workflows.HeaderToolCallID, err)
	}
	var workflowID string
	if v, present := headers[workflows.HeaderWorkflowID]; present {
		s, ok := v.(string)
		if !ok {
			return Response{}, fmt.Errorf("extras.headers.%s: not a string", workflows.HeaderWorkflowID)
		}
		if s != "" {
			if err := workflows.ValidateWorkflowID(s); err != nil {
				return Response{}, fmt.Errorf("extras.headers.%s: %w", workflows.HeaderWorkflowID, err)
			}
			workflowID = s
		}
	}
	var data workflows.ApprovalResponseData
	if err := ablymsg.DecodeData(m.Data, m.Encoding, &data); err != nil {
		return Response{}, fmt.Errorf("data: %w", err)
	}
	switch data.Decision {
	case workflows.DecisionApproved, workflows.DecisionRejected:
	default:
		return Response{}, fmt.Errorf("data.decision %q: want %q or %q", data.Decision, workflows.DecisionApproved, workflows.DecisionRejected)
	}
	if data.ArgumentsDigest != "" {
		if err := workflows.ValidateArgumentsDigest(data.ArgumentsDigest); err != nil {
			return Response{}, fmt.Errorf("data.argumentsDigest: %w", err)
		}
	}
	if data.Arguments != "" {
		switch {
		case data.Decision != workflows.DecisionApproved:
			return Response{}, errors.New("data.arguments: only an approval carries edited arguments")
		case data.ArgumentsDigest == "":
			return Response{}, errors.New("data.arguments: an edit must name the argumentsDigest of the arguments it edits")
		case len(data.Arguments) > workflows.MaxEditedArgumentsLen:
			return Response{}, fmt.Errorf("data.arguments: longer than %d bytes", workflows.MaxEditedArgumentsLen)
		case !utf8.ValidString(data.Arguments):
			return Response{}, errors.New("data.arguments: not valid UTF-8")
		}
	}
	r := Response{
		MessageID:       m.ID,
		ClientID:        m.ClientID,
		Role:            role,
		ToolCallID:      toolCallID,
		WorkflowID:      workflowID,
		Decision:        data.Decision,
		Reason:          truncate(strings.ToValidUTF8(data.Reason, "\uFFFD"), workflows.MaxReasonLen),
		ArgumentsDigest: data.ArgumentsDigest,
		Arguments:       data.Arguments,
	}
	if m.Timestamp > 0 {
		r.PublishedAt = time.UnixMilli(m.Timestamp).UTC()
	}
	return r, nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
