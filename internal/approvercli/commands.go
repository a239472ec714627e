package approvercli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

// List prints the pending requests and returns.
func List(ctx context.Context, cfg Config, out io.Writer) error {
	s, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	reqs := s.pending.List()
	if len(reqs) == 0 {
		fmt.Fprintln(out, "No pending approval requests.")
		return nil
	}
	now := s.cfg.Now()
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
	// when no pending request for the tool call is known.
	Force bool
	// Wait is how long to listen for the request when it is not in the
	// channel history yet (the agent may still be publishing it). Zero
	// means DefaultDecideWait; negative means do not wait. Ignored with
	// Force.
	Wait time.Duration
}

// DefaultDecideWait is how long Decide waits for a request that is not
// known yet.
const DefaultDecideWait = 10 * time.Second

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
	return nil
}

// ErrUnknownToolCall is returned by Decide for a tool call with no pending
// request (without Force).
var ErrUnknownToolCall = errors.New("no pending approval request")

// Decide finds the pending request for the tool call, publishes the
// decision, and returns once Ably has acknowledged it.
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
		return err
	}
	var workflowID, digest string
	switch {
	case len(found) == 1:
		workflowID, digest = found[0].WorkflowID, found[0].ArgumentsDigest
		if w := s.roleWarning(found[0]); w != "" {
			fmt.Fprintln(out, w)
		}
	case len(found) > 1:
		ids := make([]string, len(found))
		for i, r := range found {
			ids[i] = r.WorkflowID
		}
		return fmt.Errorf("tool call %q is pending in several workflows (%s); refusing to guess", a.ToolCallID, strings.Join(ids, ", "))
	case a.Force:
		fmt.Fprintf(out, "No pending request for tool call %s is known; sending anyway (--force).\n", a.ToolCallID)
	default:
		if d, ok := s.pending.Resolution(a.ToolCallID); ok {
			return fmt.Errorf("%w for tool call %q: it was already resolved (%s)", ErrUnknownToolCall, a.ToolCallID, d.Outcome)
		}
		return fmt.Errorf("%w for tool call %q (use --force to send anyway)", ErrUnknownToolCall, a.ToolCallID)
	}
	if err := s.respond(ctx, a.ToolCallID, workflowID, digest, a.Decision, a.Reason); err != nil {
		return err
	}
	fmt.Fprintf(out, "Decision sent: %s\n", a.Decision)
	return nil
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
