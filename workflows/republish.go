package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// When the approval-request cannot be published for a reason that may pass
// (Ably unreachable, overloaded, a 5xx: the publish activity's retryable
// errors, after its own five attempts over about 15 s), runs of
// changeRepublish keep the call pending and publish the request again
// after republishFirstDelay, doubling up to republishMaxDelay, at most
// maxRepublishes times, while it is still pending and unexpired. Only when
// every try failed is the call denied, as before the change a first
// failure denied it at once. A refusal that will not pass (Ably's 4xx:
// a wrong key, a missing capability) still denies at once.
const (
	republishFirstDelay = 10 * time.Second
	republishMaxDelay   = 5 * time.Minute
	maxRepublishes      = 12
)

// publishMayRecover reports whether a failed publish may succeed later: the
// activity marks Ably's refusals non-retryable.
func publishMayRecover(err error) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return !app.NonRetryable()
	}
	return true
}

// unpublishedWhy is the reason a call is denied when its request could not
// be published: it goes to the audit and to the model.
func unpublishedWhy(err error) string {
	return "approval request could not be published: " + truncate(errorMessage(err), maxToolErrorLen)
}

// republish publishes a's request again until one is published (by it, or
// a revision by the rules' wait), a is no longer pending, or the tries run
// out, in which case it denies a (the waiting approveAndRun then finds it
// resolved). Each try publishes the call as it stands then (an escalation
// or a counted decision during the outage makes a new revision). It runs
// in its own coroutine beside the wait; ctx is cancelled once the wait is
// over.
func (r *run) republish(ctx workflow.Context, a *approval, last error) {
	logger := workflow.GetLogger(ctx)
	c := a.call
	delay := republishFirstDelay
	for try := 1; try <= maxRepublishes; try++ {
		if !workflow.Now(ctx).Add(delay).Before(a.pending.ExpiresAt) {
			break // the call would expire before the next try: deny it now
		}
		logger.Warn("approval request not published; trying again", "callId", c.CallID, "in", delay, "try", try, "error", last)
		if err := workflow.Sleep(ctx, delay); err != nil {
			return // the wait is over, or the run was cancelled
		}
		if !a.isPending() || a.announced {
			return
		}
		req := ApprovalRequestInput{Data: r.requestData(a)}
		err := r.publish(ctx, ActivityPublishApprovalRequest, req, fmt.Sprintf("approval request, again: %s (%s)", c.Name, c.CallID)).Get(ctx, nil)
		if err == nil {
			// A revision (awaitRules) may have got out while this try
			// was on its way: it was audited and counted as requested.
			first := !a.announced
			a.announced = true
			if first && a.isPending() {
				r.record(ctx, AuditEntry{Kind: AuditRequested, ToolCallID: c.CallID, Tool: c.Name, Role: req.Data.RequiredRole,
					Reason: fmt.Sprintf("published at try %d after the first failed", try)})
				countApproval(ctx, ApprovalEventRequested, c.Name)
			}
			return
		}
		if temporal.IsCanceledError(err) || !a.isPending() || a.announced {
			return
		}
		last = err
		if !publishMayRecover(err) {
			break
		}
		delay = min(2*delay, republishMaxDelay)
	}
	if a.isPending() && !a.announced && workflow.Now(ctx).Before(a.pending.ExpiresAt) {
		a.unpublished = unpublishedWhy(last)
		r.resolve(ctx, a, stateUnpublished, nil, AuditEntry{ToolCallID: c.CallID, Tool: c.Name, Reason: a.unpublished})
	}
}
