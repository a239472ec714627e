package workflows

import (
	"fmt"
	"slices"
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
			return "", r.approvalCancelled(ctx, a, err)
		}
		logger.Error("approval request not published", "callId", c.CallID, "error", err)
		if a.outcome == "" {
			// Nobody should act on the request: deny rather than wait
			// for nothing.
			a.outcome = outcomeUnpublished
			why := "approval request could not be published: " + truncate(errorMessage(err), maxToolErrorLen)
			r.record(ctx, AuditEntry{Kind: AuditDenied, ToolCallID: c.CallID, Tool: c.Name, Reason: why})
			r.upsertSearchAttributes(ctx)
			r.setDetails(ctx)
			// Ably may have accepted the request although the activity
			// failed: tell approver screens to drop it, best effort.
			r.publishResolvedBestEffort(ctx, a, "approval request could not be published")
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
			return "", r.approvalCancelled(ctx, a, err)
		}
	}
	// Cancelling the run also makes the timer ready (cancelled): that is
	// no expiry.
	if err := ctx.Err(); err != nil {
		return "", r.approvalCancelled(ctx, a, err)
	}
	// A decision is accepted only before ExpiresAt (workflow time), so a
	// set outcome here was decided in time.
	if a.outcome == "" {
		a.outcome = OutcomeExpired
		r.record(ctx, AuditEntry{Kind: AuditExpired, ToolCallID: c.CallID, Tool: c.Name, Reason: fmt.Sprintf("no valid decision within %s", timeout)})
	}
	r.upsertSearchAttributes(ctx)
	r.setDetails(ctx)

	resolved := r.resolvedInput(a, "")
	rctx := workflow.WithActivityOptions(ctx, publishActivityOptions(fmt.Sprintf("approval %s: %s (%s)", a.outcome, c.Name, c.CallID)))
	if err := workflow.ExecuteActivity(rctx, ActivityPublishApprovalResolved, resolved).Get(ctx, nil); err != nil {
		if temporal.IsCanceledError(err) {
			return "", r.approvalCancelled(ctx, a, err)
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

// resolvedInput is the approval-resolved message for a resolved approval.
// reason is used when no decision gives one.
func (r *run) resolvedInput(a *approval, reason string) ApprovalResolvedInput {
	d := ApprovalResolvedData{
		ToolCallID: a.call.CallID,
		WorkflowID: r.workflowID,
		Tool:       a.call.Name,
		Outcome:    a.outcome,
		Reason:     reason,
	}
	switch a.outcome {
	case OutcomeApproved, OutcomeRejected:
		d.DecidedBy = a.decision.ApproverClientID
		d.Role = a.decision.ApproverRole
		d.Reason = a.decision.Reason
	case outcomeUnpublished:
		d.Outcome = OutcomeCancelled
	}
	return ApprovalResolvedInput{Data: d}
}

// approvalCancelled handles the cancellation of the run (cause) while an
// approval waits or is being announced: a pending approval is resolved as
// OutcomeCancelled, and approver screens are told the outcome through a
// context that outlives the cancellation. It returns cause.
func (r *run) approvalCancelled(ctx workflow.Context, a *approval, cause error) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if a.outcome == "" {
		a.outcome = OutcomeCancelled
		r.record(dctx, AuditEntry{Kind: AuditCancelled, ToolCallID: a.call.CallID, Tool: a.call.Name, Reason: "the run was cancelled"})
		r.upsertSearchAttributes(dctx)
	}
	r.publishResolvedBestEffort(dctx, a, "the run was cancelled")
	return cause
}

// publishResolvedBestEffort publishes approval-resolved for a resolved
// approval with few, short attempts; a failure is only logged.
func (r *run) publishResolvedBestEffort(ctx workflow.Context, a *approval, reason string) {
	in := r.resolvedInput(a, reason)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumAttempts:    3,
		},
		Summary: fmt.Sprintf("approval %s: %s (%s)", in.Data.Outcome, a.call.Name, a.call.CallID),
	})
	if err := workflow.ExecuteActivity(actx, ActivityPublishApprovalResolved, in).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("approval-resolved not published", "callId", a.call.CallID, "outcome", in.Data.Outcome, "error", err)
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
// ids are left out while the JSON list would pass saCallIDsBudget bytes
// (the server limits the size of one search attribute value). Pending ids
// are always listed: only they need routing, and classify admits a call
// only if the pending ids fit (fitsSearchAttribute).
func (r *run) searchableCallIDs() []string {
	size := jsonLen(r.order)
	ids := make([]string, 0, len(r.order))
	for _, id := range r.order {
		if size > saCallIDsBudget && r.approvals[id].outcome != "" {
			size -= jsonLen(id) + 1 // the string and its comma
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// fitsSearchAttribute reports whether the pending ids plus more fit in
// saCallIDsBudget bytes as a JSON list, so that they can all be listed in
// SAToolCallIDs once resolved ids are left out.
func (r *run) fitsSearchAttribute(more []string) bool {
	ids := slices.Clone(more)
	for _, id := range r.order {
		if r.approvals[id].outcome == "" {
			ids = append(ids, id)
		}
	}
	return jsonLen(ids) <= saCallIDsBudget
}

// onDecision applies one decision signal. Only a well-formed decision that
// names a pending approval, carries approved or rejected, comes from a role
// that may approve the tool, and is not a copy of one already seen
// resolves the approval; every other decision is recorded as ignored with
// the reason.
func (r *run) onDecision(ctx workflow.Context, d Decision) {
	e := clipAudit(AuditEntry{
		ToolCallID:    d.ToolCallID,
		Actor:         d.ApproverClientID,
		Role:          d.ApproverRole,
		AblyMessageID: d.AblyMessageID,
		Reason:        truncate(d.Reason, MaxReasonLen),
	})
	a := r.approvals[d.ToolCallID]
	if a != nil {
		e.Tool = a.call.Name
	}
	if why := r.whyIgnore(workflow.Now(ctx), d, a); why != "" {
		r.ignore(ctx, e, a, why)
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
	workflow.GetLogger(ctx).Info("approval decided", "callId", e.ToolCallID, "decision", d.Decision, "by", e.Actor, "role", e.Role)
}

// whyIgnore returns why the decision changes nothing, or "" if it is valid.
// now is the workflow time. A well-formed decision (bounded message id,
// client id and role) is remembered by approver client id and Ably message
// id: Ably enforces the clientId of a message, so only a copy of the same
// message is a duplicate, and a decision of one client can never mark
// another client's message as seen.
func (r *run) whyIgnore(now time.Time, d Decision, a *approval) string {
	switch {
	case d.AblyMessageID == "":
		return "no ably message id"
	case ValidateMessageID(d.AblyMessageID) != nil:
		return fmt.Sprintf("invalid ably message id (want 1 to %d printable ASCII bytes)", MaxMessageIDLen)
	case d.ApproverClientID == "":
		return "no approver client id"
	case len(d.ApproverClientID) > MaxClientIDLen:
		return fmt.Sprintf("approver client id longer than %d bytes", MaxClientIDLen)
	case len(d.ApproverRole) > MaxRoleLen:
		return fmt.Sprintf("approver role longer than %d bytes", MaxRoleLen)
	}
	key := d.ApproverClientID + "\x00" + d.AblyMessageID
	if r.seenMsgs[key] {
		return "duplicate"
	}
	r.seenMsgs[key] = true
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
	}
	if err := r.in.Policy.Check(a.call.Name, d.ApproverRole); err != nil {
		return err.Error()
	}
	return ""
}

// ignore records an ignored decision (e has bounded strings). Each
// approval's first ignoredAlwaysKept ignored decisions are always listed;
// beyond them at most maxIgnoredPerApproval per approval (decisions that
// name no approval share one bucket) while the run lists fewer than
// maxIgnoredPerRun. The rest are counted per bucket (the history has them
// all), so a flood on one approval or of bogus decisions hides nothing
// about the other approvals.
func (r *run) ignore(ctx workflow.Context, e AuditEntry, a *approval, why string) {
	workflow.GetLogger(ctx).Info("decision ignored", "callId", e.ToolCallID, "messageId", e.AblyMessageID, "reason", why)
	key := ""
	if a != nil {
		key = a.call.CallID
	}
	n := r.ignoredKept[key]
	if n >= ignoredAlwaysKept && (n >= maxIgnoredPerApproval || r.ignoredTotal >= maxIgnoredPerRun) {
		if r.ignoredDropped[key] == 0 {
			r.dropOrder = append(r.dropOrder, key)
		}
		r.ignoredDropped[key]++
		return
	}
	r.ignoredKept[key] = n + 1
	r.ignoredTotal++
	e.Kind = AuditIgnored
	e.Reason = why
	r.record(ctx, e)
}
