package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ably/ably-go/ably"
	"go.opentelemetry.io/otel/metric"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/hitl/durable-approvals/internal/recent"
	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/internal/temporalconn"
	"github.com/hitl/durable-approvals/workflows"
)

// Temporal is the part of client.Client the bridge uses.
type Temporal interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
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

// ErrRateLimited marks a valid message that its approver sent faster than
// the bridge forwards (PreLimit or RateLimit). It must be retried later,
// not dropped: nothing an approver decides is lost.
var ErrRateLimited = errors.New("approver rate limit exceeded")

// Handler verifies one approval-response and forwards it to its workflow.
// It is safe for concurrent use.
type Handler struct {
	Temporal Temporal
	Log      *slog.Logger
	// Retry bounds the retries of one Temporal call.
	Retry temporalconn.Backoff
	// CallTimeout bounds one Temporal call (default 10s).
	CallTimeout time.Duration
	// QueryTimeout bounds the approvals query, which needs a worker
	// (default 5s). A response is forwarded only if the query shows its
	// tool call pending; a query that times out is a temporary failure.
	QueryTimeout time.Duration
	// PreLimit bounds the messages handled per publisher clientId before
	// any Temporal call (default 600 a minute, burst 300), so one approver
	// cannot keep the bridge busy with lookups and queries.
	PreLimit RateLimit
	// RateLimit bounds the signals forwarded per approver clientId
	// (default 120 a minute, burst 100).
	RateLimit RateLimit
	// Now is the clock of the rate limits (default time.Now).
	Now func() time.Time
	// Signer signs every decision the handler forwards; the workflow
	// applies only decisions whose signature the worker verifies.
	// Required.
	Signer *signing.Signer
	// Meter makes the bridge's counters (metrics.go); nil counts nothing.
	Meter metric.Meter

	// requests, when set, is what the bridge learned from the agent's own
	// messages: a response to a known open request skips the lookup and
	// the query, one to a resolved request is dropped at once.
	requests *requests

	limiterOnce sync.Once
	limiter     *rateLimiter
	preLimiter  *rateLimiter
	counterOnce sync.Once
	ctr         counters

	// lowRole remembers (approver, workflow, tool call) of the
	// insufficient-role decisions forwarded, so each approver's first one
	// per call reaches the audit and the rest cannot fill the run's
	// history.
	lowRoleMu sync.Mutex
	lowRole   *recent.Set[string]

	// decidedOnce makes decided, the decisions of a sufficient role
	// forwarded (decided.go).
	decidedOnce sync.Once
	decidedSet  *decided
}

// decided returns what the handler forwarded of sufficient roles.
func (h *Handler) decided() *decided {
	h.decidedOnce.Do(func() { h.decidedSet = newDecided(maxDecidedCalls, maxDecisionsPerApprover) })
	return h.decidedSet
}

// count returns the handler's counters.
func (h *Handler) count() counters {
	h.counterOnce.Do(func() { h.ctr = newCounters(h.Meter) })
	return h.ctr
}

// maxLowRoleKeys bounds the insufficient-role decisions remembered.
const maxLowRoleKeys = 10000

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

func (h *Handler) initLimiters() {
	h.limiterOnce.Do(func() {
		h.limiter = newRateLimiter(h.RateLimit)
		pre := h.PreLimit
		if pre.PerMinute <= 0 {
			pre.PerMinute = 600
		}
		if pre.Burst <= 0 {
			pre.Burst = 300
		}
		h.preLimiter = newRateLimiter(pre)
	})
}

func (h *Handler) rate() *rateLimiter {
	h.initLimiters()
	return h.limiter
}

func (h *Handler) pre() *rateLimiter {
	h.initLimiters()
	return h.preLimiter
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Handle verifies m and signals its workflow. It forwards a response only
// when its tool call is pending in the workflow (insufficient roles
// included: the workflow records those as ignored, once per approver and
// call), each approver's same decision on the same arguments once
// (decided), and at most RateLimit's rate per approver. It returns nil when the message was
// forwarded or dropped for good (both are logged); an error wrapping
// ErrTemporary when Temporal or the workflow's worker could not be reached;
// and an error wrapping ErrRateLimited when the approver exceeded PreLimit
// (checked before any Temporal call) or RateLimit. The caller must retry
// the message later in both error cases.
func (h *Handler) Handle(ctx context.Context, m *ably.Message) error {
	log := h.log()
	r, err := DecodeResponse(m)
	if err != nil {
		attrs := []any{"err", err}
		if m != nil {
			attrs = append(attrs, "ablyMessageId", truncate(m.ID, workflows.MaxMessageIDLen), "clientId", truncate(m.ClientID, workflows.MaxClientIDLen))
		}
		log.Warn("dropping approval-response", attrs...)
		h.count().countDropped(DropReasonMalformed)
		return nil
	}
	log = log.With("ablyMessageId", r.MessageID, "toolCallId", r.ToolCallID, "approver", r.ClientID, "role", r.Role, "decision", r.Decision)
	if !h.pre().allow(r.ClientID, h.now()) {
		log.Warn("approval-response deferred: approver message rate exceeded", "perMinute", h.pre().perMinute, "burst", h.pre().burst)
		return fmt.Errorf("%w: %s sends too many messages", ErrRateLimited, r.ClientID)
	}
	known, open, resolved := h.requests.lookup(r.WorkflowID, r.ToolCallID, h.now())
	var wfID, current string // current: the digest of the call's arguments, "" when unknown
	var revision int         // the call's revision (workflows.CallRules.Revision)
	var runID string         // the run's workflows.ResetRunID: "" but in a run made by a reset
	var pending, sufficient bool
	switch {
	case resolved:
		log.Warn("dropping approval-response: the agent announced the tool call resolved")
		h.count().countDropped(DropReasonNotPending)
		return nil
	case open && len(known.Roles) > 0 && (r.ArgumentsDigest != "" || !known.Edited):
		// The fast path: the agent's own request says where the call
		// waits and who may decide it.
		wfID, pending, current, revision, runID = known.WorkflowID, true, known.Digest, known.Revision, known.RunID
		log = log.With("workflowId", wfID)
		sufficient = h.roleVerdict(log, known.Roles, r.Role, known.RequiredRole)
	default:
		wfID = r.WorkflowID
		if wfID == "" {
			wfID, err = h.lookup(ctx, r.ToolCallID)
			if err != nil {
				if errors.Is(err, ErrTemporary) {
					return err
				}
				log.Warn("dropping approval-response: no workflow", "err", err)
				h.count().countDropped(DropReasonNoWorkflow)
				return nil
			}
		}
		log = log.With("workflowId", wfID)
		pending, sufficient, current, revision, runID, err = h.checkPending(ctx, log, wfID, r)
		if err != nil {
			if errors.Is(err, ErrTemporary) {
				log.Warn("approval-response not forwarded yet: cannot tell whether the tool call is pending", "err", err)
				return err
			}
			log.Warn("dropping approval-response: cannot tell whether the tool call is pending", "err", err)
			h.count().countDropped(DropReasonUnknown)
			return nil
		}
	}
	if !pending {
		log.Warn("dropping approval-response: tool call not pending (late or unknown)")
		h.count().countDropped(DropReasonNotPending)
		return nil
	}
	// A response that names no digest (a guide client) was shown the
	// request the bridge holds, if it holds one: after an edit, the
	// workflow may ask for other arguments than those shown (a run reset
	// to before the edit, whose own request has not come yet), so the
	// slow path above asked it, and the two must agree.
	seen := r.ArgumentsDigest
	if seen == "" && open && known.Edited {
		seen = known.Digest
	}
	if seen != "" && current != "" && seen != current {
		log.Warn("dropping approval-response: the approver saw other arguments", "digest", seen)
		h.count().countDropped(DropReasonDigestMismatch)
		return nil
	}
	lowKey := r.ClientID + "\x00" + wfID + "\x00" + r.ToolCallID + "\x00" + runID
	if !sufficient && h.sawLowRole(lowKey) {
		log.Warn("dropping approval-response: this approver's insufficient role is already in the run's audit for this call")
		h.count().countDropped(DropReasonLowRoleRepeat)
		return nil
	}
	callKey, decisionKey := decisionKeys(r, wfID, runID, current, revision)
	if sufficient {
		switch h.decided().check(callKey, decisionKey, r.Decision, r.PublishedAt, h.now()) {
		case decisionRepeat:
			log.Warn("dropping approval-response: this approver's same decision on these arguments was already forwarded; the workflow would ignore it")
			h.count().countDropped(DropReasonRepeat)
			return nil
		case decisionAgain:
			log.Info("forwarding this approver's same decision again: the call still waits, and the repeat's backoff has passed")
		case decisionBack:
			log.Info("forwarding this approver's decision of the other kind: they changed their mind, and the workflow counts each approver's latest")
		case decisionSuperseded:
			log.Warn("dropping approval-response: this approval was published before a later rejection by this approver on this call, which stands (a message replayed after later ones)")
			h.count().countDropped(DropReasonSuperseded)
			return nil
		case decisionTooMany:
			log.Warn("dropping approval-response: this approver sent too many different decisions for this call", "max", maxDecisionsPerApprover)
			h.count().countDropped(DropReasonTooManyDecisions)
			return nil
		}
	}
	tok, ok := h.rate().take(r.ClientID, h.now())
	if !ok {
		log.Warn("approval-response deferred: approver rate limit exceeded", "perMinute", h.rate().perMinute, "burst", h.rate().burst)
		return fmt.Errorf("%w: %s sends too many decisions", ErrRateLimited, r.ClientID)
	}
	d := r.Signal()
	d.WorkflowID = wfID
	h.Signer.Sign(&d)
	h.count().countSigned()
	if err := h.signal(ctx, wfID, d); err != nil {
		if errors.Is(err, ErrTemporary) {
			h.rate().refund(tok)
			return err
		}
		if signalLimitReached(err) {
			log.Error("dropping approval-response: the run has reached Temporal's limit of signals per run (history.maximumSignalsPerExecution) and refuses every further decision; it can no longer be approved, and its pending tool calls end when they expire",
				"err", err)
			h.count().countDropped(DropReasonSignalLimit)
			return nil
		}
		log.Warn("dropping approval-response: signal failed", "err", err)
		h.count().countDropped(DropReasonSignalFailed)
		return nil
	}
	if sufficient {
		h.decided().add(callKey, decisionKey, r.Decision, r.PublishedAt, h.now())
	} else {
		h.rememberLowRole(lowKey)
	}
	log.Info("decision forwarded", "keyId", d.KeyID)
	h.count().countForwarded()
	return nil
}

// sawLowRole reports whether an insufficient-role decision of key was
// already forwarded.
func (h *Handler) sawLowRole(key string) bool {
	h.lowRoleMu.Lock()
	defer h.lowRoleMu.Unlock()
	return h.lowRole.Has(key)
}

func (h *Handler) rememberLowRole(key string) {
	h.lowRoleMu.Lock()
	defer h.lowRoleMu.Unlock()
	if h.lowRole == nil {
		h.lowRole = recent.NewSet[string](maxLowRoleKeys)
	}
	h.lowRole.Add(key)
}

// VisibilityQuery returns the visibility query that finds the running
// workflow waiting for toolCallID.
func VisibilityQuery(toolCallID string) (string, error) {
	if err := workflows.ValidateToolCallID(toolCallID); err != nil {
		return "", err
	}
	esc := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(toolCallID)
	return fmt.Sprintf("%s AND %s = '%s' AND ExecutionStatus = 'Running'", workflows.RunsOnTaskQueue, workflows.SAToolCallIDs.GetName(), esc), nil
}

// lookup finds the one running workflow that lists toolCallID. Finding
// none is an answer, not a failure: it is not retried.
func (h *Handler) lookup(ctx context.Context, toolCallID string) (string, error) {
	q, err := VisibilityQuery(toolCallID)
	if err != nil {
		return "", err
	}
	var resp *workflowservice.ListWorkflowExecutionsResponse
	err = h.retry(ctx, "list workflows", func(ctx context.Context) error {
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
		return "", fmt.Errorf("no running workflow has tool call %q", toolCallID)
	default:
		return "", fmt.Errorf("more than one running workflow has tool call %q", toolCallID)
	}
}

// checkPending queries the workflow's pending approvals and reports
// whether r's tool call is one of them, whether the approver's role
// reaches the required one (the workflow checks again and decides), and
// the digest of the call's arguments ("" in runs that have none), its
// revision (CallRules.Revision) and the run's RunID (ApprovalsView). A query
// that could not run for a reason that may pass (no worker, Temporal
// unavailable) returns an error wrapping ErrTemporary; one that can never
// succeed (no such workflow, query refused) returns another error.
func (h *Handler) checkPending(ctx context.Context, log *slog.Logger, wfID string, r Response) (pending, sufficient bool, digest string, revision int, runID string, err error) {
	qt := h.QueryTimeout
	if qt <= 0 {
		qt = 5 * time.Second
	}
	qctx, cancel := context.WithTimeout(ctx, qt)
	defer cancel()
	v, err := h.Temporal.QueryWorkflow(qctx, wfID, "", workflows.ApprovalsQuery)
	if err != nil {
		var qf *serviceerror.QueryFailed
		if permanent(err) || errors.As(err, &qf) {
			return false, false, "", 0, "", fmt.Errorf("approvals query: %w", err)
		}
		return false, false, "", 0, "", fmt.Errorf("%w: approvals query: %w", ErrTemporary, err)
	}
	var view workflows.ApprovalsView
	if err := v.Get(&view); err != nil {
		return false, false, "", 0, "", fmt.Errorf("approvals query: bad result: %w", err)
	}
	for _, p := range view.Pending {
		if p.ToolCallID != r.ToolCallID {
			continue
		}
		return true, h.roleVerdict(log.With("tool", p.Tool), view.Roles, r.Role, p.RequiredRole), p.ArgumentsDigest, p.Revision, view.RunID, nil
	}
	return false, false, "", 0, "", nil
}

// roleVerdict reports, and logs, whether role reaches required in the
// hierarchy roles. The workflow checks again and decides.
func (h *Handler) roleVerdict(log *slog.Logger, roles []string, role, required string) bool {
	if err := workflows.CanApprove(roles, role, required); err != nil {
		log.Warn("approver role insufficient", "requiredRole", required, "verdict", err.Error())
		return false
	}
	log.Debug("approver role sufficient", "requiredRole", required)
	return true
}

// signal delivers the decision, retrying while Temporal is unavailable.
func (h *Handler) signal(ctx context.Context, wfID string, d workflows.Decision) error {
	return h.retry(ctx, "signal workflow", func(ctx context.Context) error {
		return h.Temporal.SignalWorkflow(ctx, wfID, "", workflows.DecisionSignal, d)
	})
}

// retry runs call, retrying transient errors (Temporal unavailable, a
// deadline exceeded) with capped exponential backoff. Permanent errors
// (not found, invalid argument, permission) return at once; other errors
// return at once wrapping ErrTemporary (the message is parked and retried
// later rather than held here); running out of attempts or context returns
// an error wrapping ErrTemporary.
func (h *Handler) retry(ctx context.Context, what string, call func(context.Context) error) error {
	b := h.Retry.WithDefaults()
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
		if !transient(err) {
			return fmt.Errorf("%w: %s: %w", ErrTemporary, what, err)
		}
		last = err
		h.log().Warn("temporal call failed, retrying", "call", what, "attempt", attempt+1, "err", err)
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %s: %w", ErrTemporary, what, ctx.Err())
		}
	}
	return fmt.Errorf("%w: %s: %w", ErrTemporary, what, last)
}

// signalLimitReached reports whether err is Temporal's refusal of a signal
// to a run that has received history.maximumSignalsPerExecution signals
// (InvalidArgument "exceeded workflow execution limit for signal
// events"): no later signal to that run can succeed.
func signalLimitReached(err error) bool {
	var ia *serviceerror.InvalidArgument
	return errors.As(err, &ia) && strings.Contains(strings.ToLower(ia.Error()), "limit for signal events")
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

// transient reports whether err is worth retrying at once: Temporal
// unavailable or a call that ran out of time.
func transient(err error) bool {
	var (
		un *serviceerror.Unavailable
		de *serviceerror.DeadlineExceeded
	)
	return errors.As(err, &un) || errors.As(err, &de) || errors.Is(err, context.DeadlineExceeded)
}
