package approvercli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

const rule = "========================================"

// Prompts, as the guide's client prints them.
const (
	PromptDecision = "Approve this action? (y/n): "
	PromptReason   = "Reason: "
)

// IgnoredEarlyInput is what the screen says, once per request shown, when
// it drops lines typed before that request was shown.
const IgnoredEarlyInput = "Ignored input typed before this request was shown."

// writeRequest prints one request. Every string from the channel is
// cleaned so a request cannot drive the terminal.
func writeRequest(w io.Writer, r Request, now time.Time) {
	fmt.Fprintf(w, "\n%s\nAPPROVAL REQUEST\n%s\n", rule, rule)
	fmt.Fprintf(w, "Tool:          %s\n", termtext.Line(r.Tool))
	fmt.Fprintf(w, "Arguments:\n%s\n", indent(prettyArgs(r.Arguments), "  "))
	if warn := lookalikeWarning(r.Arguments); warn != "" {
		fmt.Fprintln(w, warn)
	}
	if r.ArgumentsDigest != "" {
		fmt.Fprintf(w, "Digest:        %s…\n", r.ArgumentsDigest[:min(len(r.ArgumentsDigest), len(workflows.ArgumentsDigestPrefix)+MinDigestPrefix)])
	}
	requester := r.Requester
	if requester == "" {
		requester = "(unknown)"
	}
	fmt.Fprintf(w, "Requested by:  %s\n", termtext.Line(requester))
	fmt.Fprintf(w, "Required role: %s\n", termtext.Line(r.RequiredRole))
	fmt.Fprintf(w, "Time left:     %s\n", timeLeft(r, now))
	writeRules(w, r, now)
	fmt.Fprintf(w, "Tool call ID:  %s\n", termtext.Line(r.ToolCallID))
	fmt.Fprintf(w, "Workflow ID:   %s\n", termtext.Line(r.WorkflowID))
	if r.RunID != "" {
		// workflows.ResetRunID: the call may have been decided in the run
		// this one replaced.
		fmt.Fprintf(w, "Asked again:   by run %s, made by a reset of the workflow\n", termtext.Line(r.RunID))
	}
	fmt.Fprintf(w, "%s\n", rule)
}

// writeResolved prints how a request ended.
func writeResolved(w io.Writer, d workflows.ApprovalResolvedData) {
	var b strings.Builder
	fmt.Fprintf(&b, "Resolved: %s (%s) %s", termtext.Line(d.Tool), termtext.Line(d.ToolCallID), termtext.Line(d.Outcome))
	if len(d.ApprovedBy) > 1 {
		fmt.Fprintf(&b, " by %s", who(d.ApprovedBy)) // a quorum: every approver
	} else if d.DecidedBy != "" {
		fmt.Fprintf(&b, " by %s", termtext.Line(d.DecidedBy))
		if d.Role != "" {
			fmt.Fprintf(&b, " (%s)", termtext.Line(d.Role))
		}
	}
	if d.Reason != "" {
		fmt.Fprintf(&b, ": %s", termtext.Line(d.Reason))
	}
	fmt.Fprintln(w, b.String())
}

// writeNotCounted says that the agent did not count the approver's
// decision, and why.
func writeNotCounted(w io.Writer, d workflows.ApprovalIgnoredData) {
	fmt.Fprintf(w, "Not counted: %s (%s): the agent did not count your decision: %s\n", termtext.Line(d.Tool), termtext.Line(d.ToolCallID), termtext.Line(d.Reason))
}

// timeLeft says how long request r waits still, as of now. It is expired
// exactly when Pending takes it for expired (at ExpiresAt): under a second
// before, it is "under 1s", not "expired", since a decision sent then
// still counts.
func timeLeft(r Request, now time.Time) string {
	if r.ExpiresAt.IsZero() {
		return "no expiry"
	}
	left := r.ExpiresAt.Sub(now)
	switch {
	case left <= 0:
		return "expired"
	case left < time.Second:
		return fmt.Sprintf("under 1s (until %s)", r.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s (until %s)", left.Truncate(time.Second), r.ExpiresAt.UTC().Format(time.RFC3339))
}

// prettyArgs indents the model's JSON arguments, or quotes them if they are
// not JSON.
func prettyArgs(args string) string {
	if strings.TrimSpace(args) == "" {
		return "(none)"
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(args), "", "  "); err != nil {
		return strconv.Quote(args)
	}
	// JSON strings cannot hold raw control characters, so the indented text
	// is safe except for Unicode format characters such as bidi overrides.
	return termtext.Block(buf.String())
}

// editableArgs is the text the approver's editor is given: the arguments
// indented, with every character a terminal or an editor would not show as
// itself (a bidi override, a no-break space, a zero-width space, U+2028, a
// variation selector, a combining grapheme joiner) written as a JSON \u
// escape. The text stays a JSON object with the same
// values, so saving it unchanged approves the arguments as they are; the
// quoted form prettyArgs prints for such arguments is not JSON.
func editableArgs(args string) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(args), "", "  "); err != nil {
		return args
	}
	var b strings.Builder
	for _, r := range buf.String() {
		if r == '\n' || r == '\t' || unicode.IsPrint(r) && !unicode.In(r, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
			b.WriteRune(r)
			continue
		}
		// JSON's own white space is space, tab, newline and carriage
		// return, and json.Indent writes no carriage return: any other
		// such character is inside a string, where an escape is the same.
		r1, r2 := utf16.EncodeRune(r)
		if r1 == unicode.ReplacementChar {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
	}
	return b.String()
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
