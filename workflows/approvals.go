package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// approveAndRun asks a human about one tool call, waits for a valid decision
// or the tool's timeout, tells approver screens the outcome, and runs the
// tool if it was approved. It returns the output for the model; only
// cancellation of the run is an error.
func (r *run) approveAndRun(ctx workflow.Context, c ToolCall, tp ToolPolicy) (string, error) {
	logger := workflow.GetLogger(ctx)
	registered := false
	defer func() {
		if !registered {
			r.registering-- // denied before anyone was asked
		}
	}()
	rules := r.newRules(ctx, tp)
	if rules != nil && tp.DistinctFromRequester && r.in.Requester == "" {
		why := "the policy needs an approver other than the requester, and the run names no requester"
		r.record(ctx, AuditEntry{Kind: AuditDenied, ToolCallID: c.CallID, Tool: c.Name, Reason: why})
		return "denied: " + why + " (no human was asked)", nil
	}
	var digest string
	if r.canonical {
		// The approver must see exactly what runs: arguments that could be
		// read two ways are refused before anyone is asked.
		canon, lookalike, err := canonicalAndLookalikes(c.Arguments, r.schemas[c.Name])
		if err == nil {
			err = lookalikeKeysSince(ctx, lookalike)
		}
		if err != nil {
			why := "arguments refused: " + truncate(err.Error(), maxToolErrorLen)
			r.record(ctx, AuditEntry{Kind: AuditDenied, ToolCallID: c.CallID, Tool: c.Name, Reason: why})
			return "denied: " + why + " (no human was asked)", nil
		}
		c.Arguments, digest = canon, ArgumentsDigest(canon)
	}
	timeout := tp.ApprovalTimeout()
	now := workflow.Now(ctx)
	a := &approval{
		call: c,
		pending: PendingApproval{
			ToolCallID:      c.CallID,
			Tool:            c.Name,
			Arguments:       c.Arguments,
			ArgumentsDigest: digest,
			RequiredRole:    tp.MinRole,
			RequestedAt:     now,
			ExpiresAt:       now.Add(timeout),
		},
		rules: rules,
	}
	a.syncPending()
	// Registered, and made findable through SAToolCallIDs, before the
	// request is published: the bridge can route a decision that arrives
	// while the publish activity completes, and it is not lost.
	r.approvals[c.CallID] = a
	r.order = append(r.order, c.CallID)
	registered = true
	r.registering--
	r.upsertSearchAttributes(ctx)
	r.setDetails(ctx)

	req := ApprovalRequestInput{Data: r.requestData(a)}
	// stopRepublish ends the coroutine that publishes the request again
	// (republish.go), if one runs, once the wait is over.
	stopRepublish := func() {}
	defer func() { stopRepublish() }()
	if err := r.publish(ctx, ActivityPublishApprovalRequest, req, fmt.Sprintf("approval request: %s (%s)", c.Name, c.CallID)).Get(ctx, nil); err != nil {
		if temporal.IsCanceledError(err) {
			return "", r.approvalCancelled(ctx, a, err)
		}
		logger.Error("approval request not published", "callId", c.CallID, "error", err)
		if a.isPending() && publishMayRecover(err) && workflow.GetVersion(ctx, changeRepublish, workflow.DefaultVersion, 1) >= 1 {
			// Ably may be back soon: the call stays pending and the
			// request is published again beside the wait.
			var rctx workflow.Context
			rctx, stopRepublish = workflow.WithCancel(ctx)
			workflow.Go(rctx, func(ctx workflow.Context) { r.republish(ctx, a, err) })
		} else if a.isPending() {
			// Nobody should act on the request: deny rather than wait
			// for nothing. (A decision that arrived meanwhile stands.)
			why := unpublishedWhy(err)
			r.resolve(ctx, a, stateUnpublished, nil, AuditEntry{ToolCallID: c.CallID, Tool: c.Name, Reason: why})
			r.upsertSearchAttributes(ctx)
			r.setDetails(ctx)
			// Ably may have accepted the request although the activity
			// failed: tell approver screens to drop it, best effort.
			r.publishResolvedBestEffort(ctx, a, "approval request could not be published")
			return "denied: " + why, nil
		}
	} else {
		a.announced = true
		r.record(ctx, AuditEntry{Kind: AuditRequested, ToolCallID: c.CallID, Tool: c.Name, Role: tp.MinRole})
		countApproval(ctx, ApprovalEventRequested, c.Name)
	}

	err := r.await(ctx, a)
	stopRepublish()
	if err != nil {
		return "", r.approvalCancelled(ctx, a, err)
	}
	// Cancelling the run also makes the timer ready (cancelled): that is
	// no expiry.
	if err := ctx.Err(); err != nil {
		return "", r.approvalCancelled(ctx, a, err)
	}
	// The expiry came while decisions that reached the run wait to be
	// applied (their workflow task ran after the expiry: no worker ran
	// meanwhile): one published before the expiry still counts
	// (changeInTimeDecisions), so they are applied first.
	if a.isPending() && r.decisionsWaiting() &&
		workflow.GetVersion(ctx, changeInTimeDecisions, workflow.DefaultVersion, 1) >= 1 {
		if err := workflow.Await(ctx, func() bool { return !a.isPending() || !r.decisionsWaiting() }); err != nil {
			return "", r.approvalCancelled(ctx, a, err)
		}
	}
	// A decision is accepted only before ExpiresAt (workflow time), or
	// after it if it was published before it and reached the run before
	// the expiry was acted on, so a set outcome here was decided in time.
	if a.isPending() {
		r.resolve(ctx, a, stateExpired, nil, AuditEntry{ToolCallID: c.CallID, Tool: c.Name, Reason: fmt.Sprintf("no valid decision within %s", timeout)})
	}
	r.upsertSearchAttributes(ctx)
	r.setDetails(ctx)

	// An approver may have edited the arguments (rules.go): the approved
	// ones run.
	c = a.call
	approvedBy := a.approvedBy()
	var tool workflow.Future
	if r.fast() && a.state == stateApproved {
		// The tool does not wait for the announcement.
		tool = r.startTool(ctx, c, approvedBy, a.approvals())
	}
	reason := ""
	if a.state == stateUnpublished {
		reason = "approval request could not be published"
	}
	resolved := r.resolvedInput(a, reason)
	if err := r.publish(ctx, ActivityPublishApprovalResolved, resolved, resolvedSummary(a.state.String(), c)).Get(ctx, nil); err != nil {
		if temporal.IsCanceledError(err) {
			return "", r.approvalCancelled(ctx, a, err)
		}
		// Approver screens keep a stale request until it expires there; the
		// decision itself stands.
		logger.Error("approval-resolved not published", "callId", c.CallID, "error", err)
	}

	switch a.state {
	case stateApproved:
		if tool == nil {
			tool = r.startTool(ctx, c, approvedBy, a.approvals())
		}
		out, failed, err := r.finishTool(ctx, c, approvedBy, tool)
		return editedOutput(ctx, a.rules, c, out, failed), err
	case stateRejected:
		out := fmt.Sprintf("rejected by %s (%s)", a.decision.ApproverClientID, a.decision.ApproverRole)
		if q := a.rules; q != nil && len(q.rejectedBy) > 1 {
			out = "rejected by " + names(q.rejectedBy)
		}
		if a.decision.Reason != "" {
			out += ": " + a.decision.Reason
		}
		return out, nil
	case stateUnpublished:
		// republish.go gave up: the request never reached the approvers.
		return "denied: " + a.unpublished, nil
	default:
		return fmt.Sprintf("approval expired after %s: the tool did not run", timeout), nil
	}
}

// decisionsWaiting reports whether decisions reached the run that are not
// applied yet: in the signal's channel, or being applied (their signature
// is checked).
func (r *run) decisionsWaiting() bool {
	return r.deciding > 0 || (r.decisions != nil && r.decisions.Len() > 0)
}

// await waits until approval a is decided or its time runs out (the
// expiry timer, or the rules' timers). It returns only the run's
// cancellation.
func (r *run) await(ctx workflow.Context, a *approval) error {
	if a.rules != nil {
		return r.awaitRules(ctx, a)
	}
	remaining := a.pending.ExpiresAt.Sub(workflow.Now(ctx))
	if !a.isPending() || remaining <= 0 {
		return nil
	}
	// The timer is cancelled once a decision wins, so a decided approval
	// leaves no timer behind to wake the run later.
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimerWithOptions(tctx, remaining, workflow.TimerOptions{
		Summary: fmt.Sprintf("approval timeout: %s (%s)", a.call.Name, a.call.CallID),
	})
	return workflow.Await(ctx, func() bool { return !a.isPending() || timer.IsReady() })
}

// resolvedInput is the approval-resolved message for a resolved approval.
// reason is used when no decision gives one.
func (r *run) resolvedInput(a *approval, reason string) ApprovalResolvedInput {
	d := ApprovalResolvedData{
		ToolCallID: a.call.CallID,
		WorkflowID: r.workflowID,
		Tool:       a.call.Name,
		Outcome:    a.state.outcome(),
		Reason:     reason,
		RunID:      r.resetRunID,
	}
	if a.state == stateApproved || a.state == stateRejected {
		d.DecidedBy = a.decision.ApproverClientID
		d.Role = a.decision.ApproverRole
		d.Reason = a.decision.Reason
	}
	if a.state == stateApproved && a.rules != nil {
		d.ApprovedBy = slices.Clone(a.rules.approvedBy)
	}
	return ApprovalResolvedInput{Data: d}
}

// approvalCancelled handles the cancellation of the run (cause) while an
// approval waits or is being announced: a pending approval is resolved as
// OutcomeCancelled, and approver screens are told the outcome through a
// context that outlives the cancellation. It returns cause.
func (r *run) approvalCancelled(ctx workflow.Context, a *approval, cause error) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if a.isPending() {
		r.resolve(dctx, a, stateCancelled, nil, AuditEntry{ToolCallID: a.call.CallID, Tool: a.call.Name, Reason: "the run was cancelled"})
		r.upsertSearchAttributes(dctx)
	}
	r.publishResolvedBestEffort(dctx, a, "the run was cancelled")
	return cause
}

// publishResolvedBestEffort publishes approval-resolved for a resolved
// approval with few, short attempts; a failure is only logged.
func (r *run) publishResolvedBestEffort(ctx workflow.Context, a *approval, reason string) {
	in := r.resolvedInput(a, reason)
	if err := r.publishBestEffort(ctx, ActivityPublishApprovalResolved, in, resolvedSummary(in.Data.Outcome, a.call)).Get(ctx, nil); err != nil {
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
		if size > saCallIDsBudget && !r.approvals[id].isPending() {
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
		if r.approvals[id].isPending() {
			ids = append(ids, id)
		}
	}
	return jsonLen(ids) <= saCallIDsBudget
}
