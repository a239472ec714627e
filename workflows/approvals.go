package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// approveAndRun asks a human about one tool call, waits for a valid decision
// or the tool's timeout, tells approver screens the outcome, and runs the
// tool if it was approved. It returns the output for the model; only
// cancellation of the run is an error.
func (r *run) approveAndRun(ctx workflow.Context, c ToolCall, tp ToolPolicy) (string, error) {
	logger := workflow.GetLogger(ctx)
	timeout := tp.ApprovalTimeout()
	now := workflow.Now(ctx)
	a := &approval{
		call: c,
		pending: PendingApproval{
			ToolCallID:   c.CallID,
			Tool:         c.Name,
			Arguments:    c.Arguments,
			RequiredRole: tp.MinRole,
			RequestedAt:  now,
			ExpiresAt:    now.Add(timeout),
		},
	}
	// Registered, and made findable through SAToolCallIDs, before the
	// request is published: the bridge can route a decision that arrives
	// while the publish activity completes, and it is not lost.
	r.approvals[c.CallID] = a
	r.order = append(r.order, c.CallID)
	r.upsertSearchAttributes(ctx)
	r.setDetails(ctx)

	req := ApprovalRequestInput{Data: ApprovalRequestData{
		Tool:         c.Name,
		Arguments:    c.Arguments,
		ToolCallID:   c.CallID,
		WorkflowID:   r.workflowID,
		RequiredRole: tp.MinRole,
		Requester:    r.in.Requester,
		RequestedAt:  a.pending.RequestedAt,
		ExpiresAt:    a.pending.ExpiresAt,
	}}
	pctx := workflow.WithActivityOptions(ctx, publishActivityOptions(fmt.Sprintf("approval request: %s (%s)", c.Name, c.CallID)))
	if err := workflow.ExecuteActivity(pctx, ActivityPublishApprovalRequest, req).Get(ctx, nil); err != nil {
		if temporal.IsCanceledError(err) {
			return "", err
		}
		logger.Error("approval request not published", "callId", c.CallID, "error", err)
		if a.outcome == "" {
			// Nobody saw the request: deny rather than wait for nothing.
			a.outcome = outcomeUnpublished
			why := "approval request could not be published: " + errorMessage(err)
			r.record(ctx, AuditEntry{Kind: AuditDenied, ToolCallID: c.CallID, Tool: c.Name, Reason: why})
			r.upsertSearchAttributes(ctx)
			r.setDetails(ctx)
			return "denied: " + why, nil
		}
	} else {
		r.record(ctx, AuditEntry{Kind: AuditRequested, ToolCallID: c.CallID, Tool: c.Name, Role: tp.MinRole})
	}

	if remaining := a.pending.ExpiresAt.Sub(workflow.Now(ctx)); a.outcome == "" && remaining > 0 {
		// The timer is cancelled once a decision wins, so a decided
		// approval leaves no timer behind to wake the run later.
		tctx, cancelTimer := workflow.WithCancel(ctx)
		timer := workflow.NewTimerWithOptions(tctx, remaining, workflow.TimerOptions{
			Summary: fmt.Sprintf("approval timeout: %s (%s)", c.Name, c.CallID),
		})
		err := workflow.Await(ctx, func() bool { return a.outcome != "" || timer.IsReady() })
		cancelTimer()
		if err != nil {
			return "", err
		}
	}
	// A decision is accepted only before ExpiresAt (workflow time), so a
	// set outcome here was decided in time.
	if a.outcome == "" {
		a.outcome = OutcomeExpired
		r.record(ctx, AuditEntry{Kind: AuditExpired, ToolCallID: c.CallID, Tool: c.Name, Reason: fmt.Sprintf("no valid decision within %s", timeout)})
	}
	r.upsertSearchAttributes(ctx)
	r.setDetails(ctx)

	resolved := ApprovalResolvedInput{Data: ApprovalResolvedData{
		ToolCallID: c.CallID,
		WorkflowID: r.workflowID,
		Tool:       c.Name,
		Outcome:    a.outcome,
	}}
	if a.outcome != OutcomeExpired {
		resolved.Data.DecidedBy = a.decision.ApproverClientID
		resolved.Data.Role = a.decision.ApproverRole
		resolved.Data.Reason = a.decision.Reason
	}
	rctx := workflow.WithActivityOptions(ctx, publishActivityOptions(fmt.Sprintf("approval %s: %s (%s)", a.outcome, c.Name, c.CallID)))
	if err := workflow.ExecuteActivity(rctx, ActivityPublishApprovalResolved, resolved).Get(ctx, nil); err != nil {
		if temporal.IsCanceledError(err) {
			return "", err
		}
		// Approver screens keep a stale request until it expires there; the
		// decision itself stands.
		logger.Error("approval-resolved not published", "callId", c.CallID, "error", err)
	}

	switch a.outcome {
	case OutcomeApproved:
		return r.executeTool(ctx, c, a.decision.ApproverClientID)
	case OutcomeRejected:
		out := fmt.Sprintf("rejected by %s (%s)", a.decision.ApproverClientID, a.decision.ApproverRole)
		if a.decision.Reason != "" {
			out += ": " + a.decision.Reason
		}
		return out, nil
	default:
		return fmt.Sprintf("approval expired after %s: the tool did not run", timeout), nil
	}
}

// upsertSearchAttributes publishes the tool-call ids that needed a human and
// the number still pending. A failure is logged: the bridge can still route
// responses that carry headers.workflowId.
func (r *run) upsertSearchAttributes(ctx workflow.Context) {
	pending := int64(len(r.pendingApprovals()))
	err := workflow.UpsertTypedSearchAttributes(ctx,
		SAToolCallIDs.ValueSet(r.searchableCallIDs()),
		SAPendingApprovals.ValueSet(pending),
	)
	if err != nil {
		workflow.GetLogger(ctx).Error("upsert search attributes", "error", err)
	}
}

// searchableCallIDs returns the tool-call ids for SAToolCallIDs: every id
// that needed a human, in request order, except that the oldest resolved
// ids are left out when the list would pass saCallIDsBudget bytes (the
// server limits the size of one search attribute value). Pending ids are
// always listed: only they need routing.
func (r *run) searchableCallIDs() []string {
	size := 0
	for _, id := range r.order {
		size += len(id) + 3 // quotes and comma of the JSON list
	}
	ids := make([]string, 0, len(r.order))
	for _, id := range r.order {
		if size > saCallIDsBudget && r.approvals[id].outcome != "" {
			size -= len(id) + 3
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// onDecision applies one decision signal. Only a decision that names a
// pending approval, carries approved or rejected, comes from a role that
// may approve the tool, and has a new Ably message id resolves the
// approval; every other decision is recorded as ignored with the reason.
func (r *run) onDecision(ctx workflow.Context, d Decision) {
	e := AuditEntry{
		ToolCallID:    d.ToolCallID,
		Actor:         d.ApproverClientID,
		Role:          d.ApproverRole,
		AblyMessageID: d.AblyMessageID,
		Reason:        truncate(d.Reason, maxReasonLen),
	}
	a := r.approvals[d.ToolCallID]
	if a != nil {
		e.Tool = a.call.Name
	}
	if why := r.whyIgnore(workflow.Now(ctx), d, a); why != "" {
		r.ignore(ctx, e, why)
		return
	}
	d.Reason = e.Reason
	a.decision = d
	a.outcome = d.Decision
	e.Kind = AuditApproved
	if d.Decision == DecisionRejected {
		e.Kind = AuditRejected
	}
	r.record(ctx, e)
	workflow.GetLogger(ctx).Info("approval decided", "callId", d.ToolCallID, "decision", d.Decision, "by", d.ApproverClientID, "role", d.ApproverRole)
}

// whyIgnore returns why the decision changes nothing, or "" if it is valid.
// now is the workflow time. It marks the message id as seen.
func (r *run) whyIgnore(now time.Time, d Decision, a *approval) string {
	if d.AblyMessageID == "" {
		return "no ably message id"
	}
	if r.seenMsgs[d.AblyMessageID] {
		return "duplicate"
	}
	r.seenMsgs[d.AblyMessageID] = true
	switch {
	case a == nil:
		return "unknown tool call"
	case a.outcome != "":
		return "already resolved (" + a.outcome + ")"
	case !now.Before(a.pending.ExpiresAt):
		// The timer fires in this workflow task: expiry wins.
		return "already resolved (expired)"
	case !d.PublishedAt.IsZero() && d.PublishedAt.After(a.pending.ExpiresAt):
		return "published after the approval expired"
	case d.Decision != DecisionApproved && d.Decision != DecisionRejected:
		return fmt.Sprintf("invalid decision %q", truncate(d.Decision, 40))
	case d.ApproverClientID == "":
		return "no approver client id"
	}
	if err := r.in.Policy.Check(a.call.Name, d.ApproverRole); err != nil {
		return err.Error()
	}
	return ""
}

// ignore records an ignored decision, keeping at most maxIgnoredAudit of
// them in the audit trail so a flood of bad decisions cannot grow the
// result without bound; the rest are counted (the history has them all).
func (r *run) ignore(ctx workflow.Context, e AuditEntry, why string) {
	workflow.GetLogger(ctx).Info("decision ignored", "callId", e.ToolCallID, "messageId", e.AblyMessageID, "reason", why)
	if r.ignoredKept >= maxIgnoredAudit {
		r.ignoredDropped++
		return
	}
	r.ignoredKept++
	e.Kind = AuditIgnored
	e.Reason = why
	r.record(ctx, e)
}
