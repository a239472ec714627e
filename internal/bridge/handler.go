package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ably/ably-go/ably"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/hitl/durable-approvals/workflows"
)

// Temporal is the part of client.Client the bridge uses.
type Temporal interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
}

// Backoff is a capped exponential backoff.
type Backoff struct {
	Initial  time.Duration // first delay (default 200ms)
	Max      time.Duration // cap (default 10s)
	Attempts int           // tries in total (default 6)
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 200 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.Attempts <= 0 {
		b.Attempts = 6
	}
	return b
}

// Delay returns the wait before retry number n (0-based).
func (b Backoff) Delay(n int) time.Duration {
	b = b.withDefaults()
	d := b.Initial
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrTemporary marks a failure that may succeed later (Temporal
// unavailable); the message should be retried, not dropped.
var ErrTemporary = errors.New("temporary failure")

// Handler verifies one approval-response and forwards it to its workflow.
type Handler struct {
	Temporal Temporal
	Log      *slog.Logger
	// Retry bounds the retries of one Temporal call.
	Retry Backoff
	// LookupRetry bounds the retries of a visibility lookup that found no
	// workflow yet (visibility is eventually consistent). Default: 3 tries,
	// 500ms then 1s apart.
	LookupRetry Backoff
	// CallTimeout bounds one Temporal call (default 10s).
	CallTimeout time.Duration
	// QueryTimeout bounds the approvals query, which needs a worker
	// (default 5s). The query only informs the log.
	QueryTimeout time.Duration
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.Default()
	}
	return h.Log
}

func (h *Handler) callTimeout() time.Duration {
	if h.CallTimeout <= 0 {
		return 10 * time.Second
	}
	return h.CallTimeout
}

// Handle verifies m and signals its workflow. It returns nil when the
// message was forwarded or dropped for good (both are logged), and an
// error wrapping ErrTemporary when Temporal could not be reached and the
// message should be retried later.
func (h *Handler) Handle(ctx context.Context, m *ably.Message) error {
	log := h.log()
	r, err := DecodeResponse(m)
	if err != nil {
		attrs := []any{"err", err}
		if m != nil {
			attrs = append(attrs, "ablyMessageId", m.ID, "clientId", m.ClientID)
		}
		log.Warn("dropping approval-response", attrs...)
		return nil
	}
	log = log.With("ablyMessageId", r.MessageID, "toolCallId", r.ToolCallID, "approver", r.ClientID, "role", r.Role, "decision", r.Decision)
	wfID := r.WorkflowID
	if wfID == "" {
		wfID, err = h.lookup(ctx, r.ToolCallID)
		if err != nil {
			if errors.Is(err, ErrTemporary) {
				return err
			}
			log.Warn("dropping approval-response: no workflow", "err", err)
			return nil
		}
	}
	log = log.With("workflowId", wfID)
	h.checkRole(ctx, log, wfID, r)
	if err := h.signal(ctx, wfID, r.Signal()); err != nil {
		if errors.Is(err, ErrTemporary) {
			return err
		}
		log.Warn("dropping approval-response: signal failed", "err", err)
		return nil
	}
	log.Info("decision forwarded")
	return nil
}

// VisibilityQuery returns the visibility query that finds the running
// workflow waiting for toolCallID.
func VisibilityQuery(toolCallID string) (string, error) {
	if err := ValidToolCallID(toolCallID); err != nil {
		return "", err
	}
	esc := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(toolCallID)
	return fmt.Sprintf("%s = '%s' AND ExecutionStatus = 'Running'", workflows.SAToolCallIDs.GetName(), esc), nil
}

// lookup finds the one running workflow that lists toolCallID.
func (h *Handler) lookup(ctx context.Context, toolCallID string) (string, error) {
	q, err := VisibilityQuery(toolCallID)
	if err != nil {
		return "", err
	}
	lr := h.LookupRetry
	if lr.Attempts <= 0 {
		lr.Attempts = 3
	}
	if lr.Initial <= 0 {
		lr.Initial = 500 * time.Millisecond
	}
	for attempt := 0; ; attempt++ {
		var resp *workflowservice.ListWorkflowExecutionsResponse
		err := h.retry(ctx, "list workflows", func(ctx context.Context) error {
			var err error
			resp, err = h.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, PageSize: 2})
			return err
		})
		if err != nil {
			return "", err
		}
		switch execs := resp.GetExecutions(); len(execs) {
		case 1:
			id := execs[0].GetExecution().GetWorkflowId()
			if id == "" {
				return "", errors.New("visibility returned an execution without id")
			}
			return id, nil
		case 0:
			if attempt+1 >= lr.Attempts {
				return "", fmt.Errorf("no running workflow has tool call %q", toolCallID)
			}
			if err := sleep(ctx, lr.Delay(attempt)); err != nil {
				return "", fmt.Errorf("%w: %w", ErrTemporary, err)
			}
		default:
			return "", fmt.Errorf("more than one running workflow has tool call %q", toolCallID)
		}
	}
}

// checkRole queries the workflow for the pending approval and logs whether
// the approver's role reaches the required one. The workflow checks again
// and decides; this is only for the log, so failures are logged, not
// returned.
func (h *Handler) checkRole(ctx context.Context, log *slog.Logger, wfID string, r Response) {
	qt := h.QueryTimeout
	if qt <= 0 {
		qt = 5 * time.Second
	}
	qctx, cancel := context.WithTimeout(ctx, qt)
	defer cancel()
	v, err := h.Temporal.QueryWorkflow(qctx, wfID, "", workflows.ApprovalsQuery)
	if err != nil {
		log.Warn("role check skipped: query failed", "err", err)
		return
	}
	var view workflows.ApprovalsView
	if err := v.Get(&view); err != nil {
		log.Warn("role check skipped: bad query result", "err", err)
		return
	}
	for _, p := range view.Pending {
		if p.ToolCallID != r.ToolCallID {
			continue
		}
		if err := workflows.CanApprove(view.Roles, r.Role, p.RequiredRole); err != nil {
			log.Warn("approver role insufficient; forwarding for the audit trail", "tool", p.Tool, "requiredRole", p.RequiredRole, "verdict", err.Error())
			return
		}
		log.Info("approver role sufficient", "tool", p.Tool, "requiredRole", p.RequiredRole)
		return
	}
	log.Info("no pending approval for the tool call; forwarding for the audit trail")
}

// signal delivers the decision, retrying while Temporal is unavailable.
func (h *Handler) signal(ctx context.Context, wfID string, d workflows.Decision) error {
	return h.retry(ctx, "signal workflow", func(ctx context.Context) error {
		return h.Temporal.SignalWorkflow(ctx, wfID, "", workflows.DecisionSignal, d)
	})
}

// retry runs call with capped exponential backoff. Permanent errors
// (not found, invalid argument, permission) return at once; running out
// of attempts or context returns an error wrapping ErrTemporary.
func (h *Handler) retry(ctx context.Context, what string, call func(context.Context) error) error {
	b := h.Retry.withDefaults()
	var last error
	for attempt := 0; attempt < b.Attempts; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, b.Delay(attempt-1)); err != nil {
				return fmt.Errorf("%w: %s: %w (last error: %w)", ErrTemporary, what, err, last)
			}
		}
		cctx, cancel := context.WithTimeout(ctx, h.callTimeout())
		err := call(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if permanent(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		last = err
		h.log().Warn("temporal call failed, retrying", "call", what, "attempt", attempt+1, "err", err)
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %s: %w", ErrTemporary, what, ctx.Err())
		}
	}
	return fmt.Errorf("%w: %s: %w", ErrTemporary, what, last)
}

func permanent(err error) bool {
	var (
		nf  *serviceerror.NotFound
		ia  *serviceerror.InvalidArgument
		pd  *serviceerror.PermissionDenied
		nnf *serviceerror.NamespaceNotFound
	)
	return errors.As(err, &nf) || errors.As(err, &ia) || errors.As(err, &pd) || errors.As(err, &nnf)
}
