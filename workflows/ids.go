package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the wire: every part that reads a message or a signal (the
// bridge, the approver CLI, the workflow) applies these, and nothing else
// redefines them.
const (
	// MaxToolCallIDLen bounds a tool-call id (OpenAI's call_… and fc_…
	// ids are far shorter).
	MaxToolCallIDLen = 64
	// MaxMessageIDLen bounds an Ably message id in a decision.
	MaxMessageIDLen = 128
	// MaxClientIDLen bounds an approver's Ably clientId.
	MaxClientIDLen = 128
	// MaxRoleLen bounds an approver's role (extras.userClaim).
	MaxRoleLen = 64
	// MaxReasonLen bounds an approver's reason; longer reasons are cut.
	MaxReasonLen = 512
	// MaxWorkflowIDLen bounds a workflow id (Temporal's own default limit).
	MaxWorkflowIDLen = 1000
	// MaxMessageDataLen bounds the JSON text of one Ably message's data
	// that a reader of the channel decodes.
	MaxMessageDataLen = 64 << 10
	// MaxEditedArgumentsLen bounds the edited arguments of one decision
	// (the bound of the model's own arguments).
	MaxEditedArgumentsLen = maxModelItemLen
	// MaxEditsPerCall bounds how often one call's arguments may be
	// edited; later edits are ignored.
	MaxEditsPerCall = 5
	// MaxVoteChangesPerCall bounds how often one approver's approval may
	// withdraw their own counted rejection of a call's arguments under
	// rejectBy quorum (changeOneVote); later such approvals are ignored.
	// A rejection that withdraws an approval is never refused. Each change
	// counts and publishes a new revision of the request, so without it
	// one approver switching back and forth could use up the run's
	// signals.
	MaxVoteChangesPerCall = 3
)

// MaxClockSkew is how long before the start of a run a decision for it may
// have been published (its Ably timestamp, PublishedAt), for the clocks of
// Ably and of Temporal to disagree. A decision published earlier is an
// earlier run's, with the same workflow id, and is ignored
// (changeDecisionChecks).
const MaxClockSkew = time.Minute

// toolCallIDChars are the punctuation characters a tool-call id may hold
// besides ASCII letters and digits.
const toolCallIDChars = "_-.:@"

// ValidateToolCallID accepts the ids OpenAI hands out ("call_…", "fc_…")
// and nothing that could break out of a visibility query, JSON or markdown:
// 1 to MaxToolCallIDLen bytes of ASCII letters, digits and "_-.:@".
func ValidateToolCallID(id string) error {
	if id == "" {
		return errors.New("missing tool call id")
	}
	if len(id) > MaxToolCallIDLen {
		return fmt.Errorf("tool call id longer than %d bytes", MaxToolCallIDLen)
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(toolCallIDChars, r):
		default:
			return fmt.Errorf("tool call id %q: character %q not allowed", id, r)
		}
	}
	return nil
}

// ValidateMessageID accepts an Ably message id of 1 to MaxMessageIDLen
// bytes of printable ASCII.
func ValidateMessageID(id string) error {
	if id == "" {
		return errors.New("message has no id")
	}
	if len(id) > MaxMessageIDLen {
		return fmt.Errorf("message id longer than %d bytes", MaxMessageIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return fmt.Errorf("message id %q: byte %#x is not printable ASCII", id, id[i])
		}
	}
	return nil
}

// ValidateWorkflowID accepts a non-empty, printable UTF-8 workflow id of at
// most MaxWorkflowIDLen bytes.
func ValidateWorkflowID(id string) error {
	if id == "" {
		return errors.New("missing workflow id")
	}
	return ValidatePrintable("workflow id", id, MaxWorkflowIDLen)
}

// ValidatePrintable checks that s (named what in the error) is at most
// maxLen bytes of valid, printable UTF-8.
func ValidatePrintable(what, s string, maxLen int) error {
	if len(s) > maxLen {
		return fmt.Errorf("%s longer than %d bytes", what, maxLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s %q: unprintable character %U", what, s, r)
		}
	}
	return nil
}

// ArgumentsDigestPrefix starts every ArgumentsDigest.
const ArgumentsDigestPrefix = "sha256:"

// ValidateArgumentsDigest accepts what ArgumentsDigest returns: "sha256:"
// and 64 lower-case hex digits.
func ValidateArgumentsDigest(d string) error {
	hexPart, ok := strings.CutPrefix(d, ArgumentsDigestPrefix)
	if !ok || len(hexPart) != 64 {
		return fmt.Errorf("arguments digest %q: want sha256: and 64 hex digits", truncateRunes(d, 80))
	}
	for i := 0; i < len(hexPart); i++ {
		if c := hexPart[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("arguments digest %q: want sha256: and 64 lower-case hex digits", truncateRunes(d, 80))
		}
	}
	return nil
}

// truncateRunes cuts s to at most n bytes on a rune boundary, for error
// messages.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ValidateTrustedClientID checks id, the Ably clientId of a trusted
// program (the agent's, the bridge's) set by the setting what: 1 to
// MaxClientIDLen bytes of printable UTF-8, as an approver's clientId, and
// not Ably's wildcard "*", whose token may publish as anyone and whose
// messages carry no clientId: approvers' clients, which match the agent's
// messages by clientId, would never see a request.
func ValidateTrustedClientID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is empty", what)
	case id == "*":
		return fmt.Errorf("%s %q is Ably's wildcard clientId: name one client", what, id)
	}
	return ValidatePrintable(what, id, MaxClientIDLen)
}
