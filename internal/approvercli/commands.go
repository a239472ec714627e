package approvercli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hitl/durable-approvals/internal/bridge"
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
}

// Validate checks the arguments.
func (a DecideArgs) Validate() error {
	if err := bridge.ValidToolCallID(a.ToolCallID); err != nil {
		return err
	}
	switch a.Decision {
	case workflows.DecisionApproved, workflows.DecisionRejected:
	default:
		return fmt.Errorf("decision %q: want %q or %q", a.Decision, workflows.DecisionApproved, workflows.DecisionRejected)
	}
	if len(a.Reason) > bridge.MaxReasonBytes {
		return fmt.Errorf("reason longer than %d bytes", bridge.MaxReasonBytes)
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
	// Messages that arrived between the attach and now count too.
	drain(s)
	var workflowID string
	switch found := s.pending.Find(a.ToolCallID); {
	case len(found) == 1:
		workflowID = found[0].WorkflowID
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
	if err := s.respond(ctx, a.ToolCallID, workflowID, a.Decision, a.Reason); err != nil {
		return err
	}
	fmt.Fprintf(out, "Decision sent: %s\n", a.Decision)
	return nil
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
