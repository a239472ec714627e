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
	fmt.Fprintf(w, "Tool:          %s\n", clean(r.Tool))
	fmt.Fprintf(w, "Arguments:\n%s\n", indent(prettyArgs(r.Arguments), "  "))
	if r.ArgumentsDigest != "" {
		fmt.Fprintf(w, "Digest:        %s…\n", r.ArgumentsDigest[:min(len(r.ArgumentsDigest), len("sha256:")+16)])
	}
	requester := r.Requester
	if requester == "" {
		requester = "(unknown)"
	}
	fmt.Fprintf(w, "Requested by:  %s\n", clean(requester))
	fmt.Fprintf(w, "Required role: %s\n", clean(r.RequiredRole))
	fmt.Fprintf(w, "Time left:     %s\n", timeLeft(r, now))
	writeRules(w, r, now)
	fmt.Fprintf(w, "Tool call ID:  %s\n", clean(r.ToolCallID))
	fmt.Fprintf(w, "Workflow ID:   %s\n", clean(r.WorkflowID))
	fmt.Fprintf(w, "%s\n", rule)
}

// writeResolved prints how a request ended.
func writeResolved(w io.Writer, d workflows.ApprovalResolvedData) {
	var b strings.Builder
	fmt.Fprintf(&b, "Resolved: %s (%s) %s", clean(d.Tool), clean(d.ToolCallID), clean(d.Outcome))
	if d.DecidedBy != "" {
		fmt.Fprintf(&b, " by %s", clean(d.DecidedBy))
		if d.Role != "" {
			fmt.Fprintf(&b, " (%s)", clean(d.Role))
		}
	}
	if d.Reason != "" {
		fmt.Fprintf(&b, ": %s", clean(d.Reason))
	}
	fmt.Fprintln(w, b.String())
}

func timeLeft(r Request, now time.Time) string {
	if r.ExpiresAt.IsZero() {
		return "no expiry"
	}
	left := r.ExpiresAt.Sub(now).Truncate(time.Second)
	if left <= 0 {
		return "expired"
	}
	return fmt.Sprintf("%s (until %s)", left, r.ExpiresAt.UTC().Format(time.RFC3339))
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
	return cleanBlock(buf.String())
}

// clean returns s unchanged if it is printable single-line text, else its
// Go-quoted form: a control character (newline and tab included) or a
// Unicode format character in a one-line field could fake screen lines or
// drive the terminal.
func clean(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}

// cleanBlock is clean for multi-line text: newlines are kept, anything
// else that is not printable gets the whole text quoted.
func cleanBlock(s string) string {
	for _, r := range s {
		if r != '\n' && !unicode.IsPrint(r) {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
