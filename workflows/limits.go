package workflows

import (
	"encoding/json"
	"math"
)

// Limits on text the workflow copies from untrusted sources (the model, the
// tools, decision signals) into its state, its audit trail and the inputs of
// its activities.
const (
	maxAuditFieldLen  = 128       // ids, names, client id and role of an audit entry
	maxAuditReasonLen = 1 << 10   // reason of an audit entry (tool errors included)
	maxDetailArgsLen  = 200       // arguments shown in the current details
	maxToolOutputLen  = 16 << 10  // a tool's output, as sent to the model
	maxToolErrorLen   = 1 << 10   // a tool's error text, as sent to the model
	maxModelItemLen   = 16 << 10  // text or arguments of one model output item
	maxConversation   = 512 << 10 // JSON bytes of the conversation sent to the model
	saCallIDsBudget   = 1500      // JSON bytes of SAToolCallIDs (the server allows 2 KiB per value)

	// Ignored decisions in the audit trail: the first ignoredAlwaysKept of
	// each approval are always listed; beyond them at most
	// maxIgnoredPerApproval per approval (and per "no such approval"
	// bucket) while the run lists fewer than maxIgnoredPerRun.
	ignoredAlwaysKept     = 3
	maxIgnoredPerApproval = 20
	maxIgnoredPerRun      = 200
	// maxNoticeChecks bounds the signature checks made only to decide
	// whether an ignored decision gets a notice, per call.
	maxNoticeChecks = 20
)

// MaxIgnoredNotices bounds the approval-ignored notices of one approver
// for one call: a person needs a word or two, a flood gets no more. A
// client that has seen this many for its approver and call cannot expect
// another.
const MaxIgnoredNotices = 3

// clipAudit bounds every string of an audit entry, so that no input can
// make the audit trail (part of the query answer and the result) large.
func clipAudit(e AuditEntry) AuditEntry {
	e.Kind = truncate(e.Kind, maxAuditFieldLen)
	e.ToolCallID = truncate(e.ToolCallID, maxAuditFieldLen)
	e.Tool = truncate(e.Tool, maxAuditFieldLen)
	e.Actor = truncate(e.Actor, maxAuditFieldLen)
	e.Role = truncate(e.Role, maxAuditFieldLen)
	e.AblyMessageID = truncate(e.AblyMessageID, maxAuditFieldLen)
	e.Reason = truncate(e.Reason, maxAuditReasonLen)
	e.Arguments = truncate(e.Arguments, maxModelItemLen)
	e.Original = truncate(e.Original, maxModelItemLen)
	return e
}

// jsonLen returns the length of v encoded by encoding/json, the encoding
// of the default payload converter and of search attribute values.
func jsonLen(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		// Strings and the plain structs used here always encode; should
		// one not, it counts as too large.
		return math.MaxInt
	}
	return len(b)
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if i > n-len("…") {
			break
		}
		cut = i
	}
	return s[:cut] + "…"
}
