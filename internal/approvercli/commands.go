package approvercli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

// List prints the pending requests and returns.
func List(ctx context.Context, cfg Config, out io.Writer) error {
	s, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	if note := s.historyNote(); note != "" {
		fmt.Fprintln(out, note)
	}
	reqs := s.pending.List()
	if len(reqs) == 0 {
		fmt.Fprintln(out, "No pending approval requests.")
		return nil
	}
	now := s.now()
	for _, r := range reqs {
		writeRequest(out, r, now)
	}
	fmt.Fprintf(out, "%d pending approval request(s).\n", len(reqs))
	return nil
}

// DecideArgs is one non-interactive decision.
type DecideArgs struct {
	ToolCallID string
	Decision   string // workflows.DecisionApproved or workflows.DecisionRejected
	Reason     string
	// Force sends the guide-shaped response (only headers.toolCallId) even
	// when no pending request for the tool call is known, and sends a
	// decision even when the approver's role is below the required one
	// (the workflow records it as ignored and keeps waiting).
	Force bool
	// Wait is how long to listen for the request when it is not in the
	// channel history yet (the agent may still be publishing it). Zero
	// means DefaultDecideWait; negative means do not wait. Ignored with
	// Force.
	Wait time.Duration
	// Edit approves with edited arguments: Editor is given the request's
	// arguments, indented, and returns the edit. Arguments, instead,
	// gives the edited arguments (JSON text) directly. Only for an
	// approval of a request whose policy is editable.
	Edit      bool
	Editor    Editor
	Arguments string
	// Outcome is how long to wait, once the decision is sent, for the
	// agent's word on it: the call resolved, the decision counted toward
	// a quorum, or not counted (approval-ignored, with the reason: Decide
	// then returns ErrNotCounted). Zero or negative: do not wait.
	Outcome time.Duration
	// Digest is the start of the arguments digest the approver reviewed,
	// as `approver list` shows it ("sha256:" optional, at least
	// MinDigestPrefix hex digits): the approval is refused unless the
	// pending arguments have it. Without it, an approval of arguments
	// edited since the agent published them is refused. Approvals only.
	Digest string
}

// Editor lets the approver edit text (ExternalEditor runs $EDITOR).
type Editor interface {
	Edit(ctx context.Context, text string) (string, error)
}

// DefaultDecideWait is how long Decide waits for a request that is not
// known yet.
const DefaultDecideWait = 10 * time.Second

// DefaultOutcomeWait is how long the approver command waits, by default,
// for the agent's word on a decision it sent (DecideArgs.Outcome).
const DefaultOutcomeWait = 10 * time.Second

// Validate checks the arguments.
func (a DecideArgs) Validate() error {
	if err := workflows.ValidateToolCallID(a.ToolCallID); err != nil {
		return err
	}
	switch a.Decision {
	case workflows.DecisionApproved, workflows.DecisionRejected:
	default:
		return fmt.Errorf("decision %q: want %q or %q", a.Decision, workflows.DecisionApproved, workflows.DecisionRejected)
	}
	if len(a.Reason) > workflows.MaxReasonLen {
		return fmt.Errorf("reason longer than %d bytes", workflows.MaxReasonLen)
	}
	if !utf8.ValidString(a.Reason) {
		return errors.New(notUTF8("reason"))
	}
	if a.Edit || a.Arguments != "" {
		switch {
		case a.Decision != workflows.DecisionApproved:
			return errors.New("--edit and --arguments approve with edits: not for a rejection")
		case a.Edit && a.Arguments != "":
			return errors.New("use --edit or --arguments, not both")
		case a.Edit && a.Editor == nil:
			return errors.New("--edit: no editor")
		case a.Force:
			return errors.New("--edit and --arguments need the pending request (the digest of the arguments edited): not with --force")
		}
	}
	if a.Arguments != "" {
		if _, err := editedArguments(a.Arguments); err != nil {
			return fmt.Errorf("--arguments: %w", err)
		}
	}
	return validateDigest(a)
}

// ErrRefused is returned by Decide for a decision the workflow would not
// count, for a reason the request shows (the approver requested the run,
// already approved, or the call escalated above their role), and for an
// approval of arguments the approver may not have reviewed (see
// DecideArgs.Digest).
var ErrRefused = errors.New("refused")

// editedArguments checks edited arguments as far as the CLI can (a JSON
// object, within the size limit) and returns them compact.
func editedArguments(text string) (string, error) {
	// Ably carries a message as JSON, and an encoder turns a byte that is
	// not UTF-8 into U+FFFD: the tool would run with a character the
	// approver never wrote.
	if !utf8.ValidString(text) {
		return "", errors.New(notUTF8("text"))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(text)); err != nil {
		return "", fmt.Errorf("not valid JSON: %w", err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("{")) {
		return "", errors.New("not a JSON object")
	}
	if buf.Len() > workflows.MaxEditedArgumentsLen {
		return "", fmt.Errorf("longer than %d bytes", workflows.MaxEditedArgumentsLen)
	}
	// What the agent refuses whatever the tool's schema: a duplicate key,
	// keys that differ only in case or folding, trailing data.
	if _, err := workflows.CanonicalArguments(buf.String(), nil); err != nil {
		return "", fmt.Errorf("%w (the agent refuses such an edit)", err)
	}
	if err := workflows.LookalikeKeys(buf.String(), nil); err != nil {
		return "", fmt.Errorf("%w (the agent refuses such an edit)", err)
	}
	if workflows.HasLoneSurrogate(buf.String()) {
		return "", errors.New(`a \u escape of half a UTF-16 surrogate pair, which JSON readers take for different strings (the agent refuses it): write the character itself`)
	}
	return buf.String(), nil
}

// notUTF8 says that what holds bytes that are not UTF-8 (a terminal or
// file in another encoding, such as Latin-1) and cannot be sent.
func notUTF8(what string) string {
	return what + " is not valid UTF-8 (a terminal or file in another encoding, such as Latin-1?): its bytes would reach the agent changed, so it is not sent"
}

// edit returns the edited arguments for r, or "" when they equal r's
// (then the decision is a plain approval).
func edit(ctx context.Context, a DecideArgs, r Request) (string, error) {
	text := a.Arguments
	if a.Edit {
		var err error
		if text, err = a.Editor.Edit(ctx, editableArgs(r.Arguments)+"\n"); err != nil {
			return "", fmt.Errorf("edit the arguments: %w", err)
		}
	}
	args, err := editedArguments(text)
	if err != nil {
		return "", fmt.Errorf("edited arguments: %w", err)
	}
	// Compared in the canonical form, as the workflow compares them.
	mine, errMine := workflows.CanonicalArguments(args, nil)
	theirs, errTheirs := workflows.CanonicalArguments(r.Arguments, nil)
	if errMine == nil && errTheirs == nil && mine == theirs {
		return "", nil
	}
	return args, nil
}

// ErrUnknownToolCall is returned by Decide for a tool call with no pending
// request (without Force).
var ErrUnknownToolCall = errors.New("no pending approval request")

// Decide finds the pending request for the tool call, publishes the
// decision, and returns once Ably has acknowledged it. An approval prints
// the request first, so that the terminal records what was approved.
func Decide(ctx context.Context, cfg Config, a DecideArgs, out io.Writer) error {
	if err := a.Validate(); err != nil {
		return err
	}
	s, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	found := awaitRequest(ctx, s, a)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopped before the decision was sent (nothing was sent): %w", err)
	}
	var workflowID, digest, arguments string
	var before Request // the request as it stood when the decision was made
	wait := true       // for the agent's word (awaitOutcome)
	switch {
	case len(found) == 1:
		r := found[0]
		before = r
		workflowID, digest = r.WorkflowID, r.ArgumentsDigest
		editing := a.Edit || a.Arguments != ""
		role := s.role()
		if why := refusal(r, s.clientID, role, a.Decision, editing); why != "" {
			return fmt.Errorf("%w: %s", ErrRefused, why)
		}
		roleWhy, roleWarn := roleVerdict(r, role)
		if roleWhy != "" && !a.Force {
			return fmt.Errorf("%w: %s; the agent would record the decision and keep waiting, so nothing was sent (--force sends it anyway)", ErrRefused, roleWhy)
		}
		if a.Decision == workflows.DecisionApproved {
			// A rejection needs no proof: rejecting arguments not seen
			// denies.
			if why := reviewRefusal(r, a.Digest, editing); why != "" {
				return fmt.Errorf("%w: %s", ErrRefused, why)
			}
			writeRequest(out, r, s.now())
		}
		if roleWhy != "" {
			fmt.Fprintf(out, "warning: %s; sending anyway (--force): the agent will record this and keep waiting\n", roleWhy)
		} else if roleWarn != "" {
			fmt.Fprintln(out, roleWarn)
		}
		if editing {
			if digest == "" {
				return fmt.Errorf("%w: the request names no argumentsDigest, so an edit cannot say what it edits", ErrRefused)
			}
			if arguments, err = edit(ctx, a, r); err != nil {
				return err
			}
			if arguments == "" {
				fmt.Fprintln(out, "The arguments are unchanged: approving them as shown.")
			}
		}
	case len(found) > 1:
		ids := make([]string, len(found))
		for i, r := range found {
			ids[i] = r.WorkflowID
		}
		return fmt.Errorf("tool call %q is pending in several workflows (%s); refusing to guess", a.ToolCallID, strings.Join(ids, ", "))
	case a.Force:
		if d, ok := s.pending.Resolution(a.ToolCallID); ok {
			fmt.Fprintf(out, "warning: tool call %s was already resolved (%s); sending anyway (--force): the agent will ignore it.\n", termtext.Line(a.ToolCallID), termtext.Line(d.Outcome))
			wait = false // nothing will come
		} else {
			fmt.Fprintf(out, "No pending request for tool call %s is known; sending anyway (--force).\n", a.ToolCallID)
		}
	default:
		if d, ok := s.pending.Resolution(a.ToolCallID); ok {
			return fmt.Errorf("%w for tool call %q: it was already resolved (%s)", ErrUnknownToolCall, a.ToolCallID, d.Outcome)
		}
		if note := s.historyNote(); note != "" {
			return fmt.Errorf("%w for tool call %q (`approver list` shows the pending ones; --force sends anyway). %s", ErrUnknownToolCall, a.ToolCallID, note)
		}
		return fmt.Errorf("%w for tool call %q (`approver list` shows the pending ones; --force sends anyway)", ErrUnknownToolCall, a.ToolCallID)
	}
	id, err := s.respond(ctx, a.ToolCallID, workflowID, digest, a.Decision, a.Reason, arguments)
	if err != nil {
		return err
	}
	if arguments != "" {
		fmt.Fprintf(out, "Decision sent: %s with edited arguments %s\n", a.Decision, termtext.Line(arguments))
	} else {
		fmt.Fprintf(out, "Decision sent: %s\n", a.Decision)
	}
	if !wait {
		return nil
	}
	return awaitOutcome(ctx, s, a, before, workflowID, id, out)
}

// ErrNotCounted is returned by Decide when the agent said it did not count
// the decision (approval-ignored).
var ErrNotCounted = errors.New("the agent did not count your decision")

// awaitOutcome listens, for up to a.Outcome, for the agent's word on the
// decision sent as message id on a.ToolCallID (in run workflowID when
// known): the call resolved, the decision counted (a newer revision lists
// the approver among the approvers, or the rejecters, where before did not),
// or not counted (ErrNotCounted with the agent's reason). Without a word
// by then, or once ctx is done (Ctrl-C), it says so and returns nil: the
// decision was sent, and the agent may be busy or down.
func awaitOutcome(ctx context.Context, s *session, a DecideArgs, before Request, workflowID, id string, out io.Writer) error {
	if a.Outcome <= 0 {
		return nil
	}
	ours := func(toolCallID, wfID string) bool {
		return toolCallID == a.ToolCallID && (workflowID == "" || wfID == workflowID)
	}
	timer := time.NewTimer(a.Outcome)
	defer timer.Stop()
	for {
		var m *ably.Message
		select {
		case <-ctx.Done():
			// Ctrl-C or SIGTERM ends the wait, not the decision.
			fmt.Fprintln(out, "Stopped waiting for the agent's word: the decision was sent; `approver list` shows whether the request still waits.")
			return nil
		case <-timer.C:
			if n := s.pending.Notices(before, s.clientID); before.ToolCallID != "" && n >= workflows.MaxIgnoredNotices {
				fmt.Fprintf(out, "The agent has not answered within %s. It says at most %d times per call that it did not count a decision of yours, and it said so %d times on this one: it may not have counted this one either. `approver list` shows whether the request still waits, and who approved it.\n",
					a.Outcome, workflows.MaxIgnoredNotices, n)
				return nil
			}
			fmt.Fprintf(out, "The agent has not answered within %s (it may be busy, or down): `approver list` shows whether the request still waits.\n", a.Outcome)
			return nil
		case m = <-s.events:
		}
		ev := s.apply(m)
		switch ev.Kind {
		case EventResolved:
			if ours(ev.Resolved.ToolCallID, ev.Resolved.WorkflowID) {
				writeResolved(out, ev.Resolved)
				return nil
			}
		case EventUpdated:
			r := ev.Request
			if !ours(r.ToolCallID, r.WorkflowID) {
				continue
			}
			// A change of mind (rejectBy quorum) withdraws the other one.
			if a.Decision == workflows.DecisionApproved && hasClient(r.ApprovedBy, s.clientID) && !hasClient(before.ApprovedBy, s.clientID) {
				fmt.Fprintf(out, "Counted: %s%s\n", progress(len(r.ApprovedBy), r.Approvals, "approvals"),
					withdrawn(before.RejectedBy, r.RejectedBy, s.clientID, "rejection"))
				return nil
			}
			if a.Decision == workflows.DecisionRejected && hasClient(r.RejectedBy, s.clientID) && !hasClient(before.RejectedBy, s.clientID) {
				fmt.Fprintf(out, "Counted: %s%s\n", progress(len(r.RejectedBy), r.Approvals, "rejections"),
					withdrawn(before.ApprovedBy, r.ApprovedBy, s.clientID, "approval"))
				return nil
			}
		case EventNotCounted:
			n := ev.NotCounted
			if ours(n.ToolCallID, n.WorkflowID) && n.Approver == s.clientID && n.AblyMessageID == id {
				writeNotCounted(out, n) // with the reason; the error repeats only the verdict
				return ErrNotCounted
			}
		}
	}
}

// awaitRequest returns the pending requests for a.ToolCallID. When none is
// known and the tool call was not resolved either, it listens for live
// messages for up to a.Wait (unless a.Force): a script that runs as soon as
// the workflow lists the approval can beat the agent's publish.
func awaitRequest(ctx context.Context, s *session, a DecideArgs) []Request {
	// Messages that arrived between the attach and now count too.
	drain(s)
	done := func() bool {
		if len(s.pending.Find(a.ToolCallID)) > 0 {
			return true
		}
		_, resolved := s.pending.Resolution(a.ToolCallID)
		return resolved
	}
	wait := a.Wait
	if wait == 0 {
		wait = DefaultDecideWait
	}
	if done() || a.Force || wait < 0 {
		return s.pending.Find(a.ToolCallID)
	}
	s.cfg.Log.Info("approval request not known yet; waiting for it", "toolCallId", a.ToolCallID, "wait", wait)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			return nil
		case m := <-s.events:
			s.apply(m)
		}
	}
	drain(s)
	return s.pending.Find(a.ToolCallID)
}

// drain applies the live messages already received.
func drain(s *session) {
	for {
		select {
		case m := <-s.events:
			s.apply(m)
		default:
			return
		}
	}
}
