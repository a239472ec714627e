package workflows

import (
	"encoding/json"
	"math"
	"strings"
)

// MaxToolCallIDLen bounds a tool-call id the workflow accepts from the
// model (OpenAI's call_… and fc_… ids are far shorter).
const MaxToolCallIDLen = 64

// Limits on text the workflow copies from untrusted sources (the model, the
// tools, decision signals) into its state, its audit trail and the inputs of
// its activities.
const (
	maxReasonLen      = 512       // an approver's reason
	maxAuditFieldLen  = 128       // ids, names, client id and role of an audit entry
	maxAuditReasonLen = 1 << 10   // reason of an audit entry (tool errors included)
	maxMessageIDLen   = 128       // an Ably message id in a decision
	maxClientIDLen    = 128       // an approver's Ably clientId
	maxRoleLen        = 64        // an approver's role
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
)

// ValidToolCallID reports whether id is a tool-call id the workflow
// accepts: 1 to MaxToolCallIDLen bytes of ASCII letters, digits and
// "_-.:@" (the bridge's character set; it covers OpenAI's call_… and fc_…
// ids). Such ids need no escaping in JSON, search attribute queries or
// markdown.
func ValidToolCallID(id string) bool {
	if id == "" || len(id) > MaxToolCallIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte("_-.:@", b) >= 0:
		default:
			return false
		}
	}
	return true
}

// validMessageID reports whether id is a plausible Ably message id: 1 to
// maxMessageIDLen bytes of printable ASCII.
func validMessageID(id string) bool {
	if id == "" || len(id) > maxMessageIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

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
