package workflows

import "encoding/json"

// decisionSigningDomain starts every signed decision, so that a signature
// over a decision can never stand for anything else signed with the key.
const decisionSigningDomain = "hitl-decision-v1\n"

// SigningPayload returns the bytes the bridge signs and the worker checks:
// the domain, then every field of the decision that the workflow acts on,
// and the key id, as JSON in a fixed order.
func (d Decision) SigningPayload() []byte {
	var publishedAt int64
	if !d.PublishedAt.IsZero() {
		publishedAt = d.PublishedAt.UnixNano()
	}
	b, err := json.Marshal(struct {
		KeyID            string `json:"keyId"`
		WorkflowID       string `json:"workflowId"`
		ToolCallID       string `json:"toolCallId"`
		Decision         string `json:"decision"`
		ApproverClientID string `json:"approverClientId"`
		ApproverRole     string `json:"approverRole"`
		Reason           string `json:"reason"`
		AblyMessageID    string `json:"ablyMessageId"`
		PublishedAt      int64  `json:"publishedAtNanos"`
		ArgumentsDigest  string `json:"argumentsDigest"`
		Arguments        string `json:"arguments"`
	}{d.KeyID, d.WorkflowID, d.ToolCallID, d.Decision, d.ApproverClientID, d.ApproverRole, d.Reason,
		d.AblyMessageID, publishedAt, d.ArgumentsDigest, d.Arguments})
	if err != nil {
		// A struct of strings and an integer always encodes.
		panic("workflows: encode decision payload: " + err.Error())
	}
	return append([]byte(decisionSigningDomain), b...)
}
