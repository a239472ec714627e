package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// onDecision applies one decision signal. Only a well-formed decision that
// names a pending approval, carries approved or rejected, comes from a role
// that may approve the tool, names the arguments the approval asks about
// (when it names any), is not a copy of one already seen, and whose
// signature the worker verifies (ActivityVerifyDecision) resolves the
// approval; every other decision is recorded as ignored with the reason.
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
	why := r.whyIgnore(workflow.Now(ctx), d, a, false)
	why = lateInTime(ctx, why, func() string { return r.whyIgnore(workflow.Now(ctx), d, a, true) })
	switch why {
	case whyUnverifiedCopy:
		why = "duplicate"
		if r.checksUnverifiedCopies(ctx) {
			why = r.whyNotDecidableNow(ctx, d, a)
		}
	case "":
		why = r.whyRefusedSince(ctx, d, a)
	}
	key, keyed := dedupeKey(d)
	copied := keyed && r.seenMsgs[key] // a copy of a decision seen before
	r.remember(d)
	if a != nil {
		a.rules.sawDecision(d)
	}
	// The signature was checked; it is good; it is genuine, under a key
	// the worker has retired.
	var checked, verified, retired bool
	if why == "" && r.verifiesDecisions(ctx) {
		// Checks that need no signature come first, so junk costs no
		// verification; the approval may resolve while the signature is
		// checked, hence the second look at it.
		checked = true
		if why, retired = r.verify(ctx, d); why == "" {
			verified = true
			why = r.verified(d)
		}
		if why == "" {
			why = r.whyNotDecidableNow(ctx, d, a)
		}
	}
	if why == "" {
		why = whyNoEdit(d, a)
	}
	if why == "" {
		why = whyEditTwoWays(ctx, d)
	}
	if why == "" && d.Arguments != "" && a != nil {
		if err := lookalikeKeysSince(ctx, LookalikeKeys(d.Arguments, r.schemas[a.call.Name])); err != nil {
			why = "edited arguments refused: " + truncate(err.Error(), maxToolErrorLen)
		}
	}
	if why == "" {
		why = whyEscalationDue(ctx, a)
	}
	if why != "" {
		r.ignore(ctx, e, a, why)
		if keyed && !copied { // well formed, and no copy of one seen
			r.noticeIgnored(ctx, d, a, why, checked, verified, retired)
		}
		return
	}
	d.Reason = e.Reason
	if a.rules != nil {
		r.applyRules(ctx, a, d, e)
		return
	}
	s, _ := decisionState(d.Decision) // whyIgnore accepted only approved or rejected
	r.resolve(ctx, a, s, &d, e)
	workflow.GetLogger(ctx).Info("approval decided", "callId", e.ToolCallID, "decision", d.Decision, "by", e.Actor, "role", e.Role)
}

// verifiesDecisions reports whether a decision must be verified: always in
// runs of versionFastPath; in older ones as changeSignedDecisions says, so
// that the decisions in their history replay as they were applied.
func (r *run) verifiesDecisions(ctx workflow.Context) bool {
	return r.fast() || workflow.GetVersion(ctx, changeSignedDecisions, workflow.DefaultVersion, 1) >= 1
}

// verify checks, in ActivityVerifyDecision, the decision's signature and
// that it was signed for this run. The verdict is recorded in the history,
// so a replay after a key rotation still sees it. It returns why the
// decision does not count, or "", and whether it does not count only
// because its genuine signature is under a key the worker has retired
// (DecisionVerdict.Retired).
func (r *run) verify(ctx workflow.Context, d Decision) (why string, retired bool) {
	if d.Signature == "" {
		return "unsigned: the approver bridge signs every decision it forwards", false
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumAttempts: 3},
	})
	var v DecisionVerdict
	if err := workflow.ExecuteLocalActivity(lctx, ActivityVerifyDecision, d).Get(ctx, &v); err != nil {
		workflow.GetLogger(ctx).Error("decision not verified", "callId", d.ToolCallID, "error", err)
		return "the signature could not be checked: " + truncate(errorMessage(err), maxAuditFieldLen), false
	}
	if !v.Valid {
		return "signature: " + truncate(v.Reason, maxAuditFieldLen), v.Retired
	}
	return "", false
}

// dedupeKey is the key under which a well-formed decision is remembered:
// approver client id and Ably message id. Ably enforces the clientId of a
// message, so only a copy of the same message is a duplicate, and a
// decision of one client can never mark another client's message as seen.
// A decision that is not well formed has no key.
func dedupeKey(d Decision) (string, bool) {
	if malformed(d) != "" {
		return "", false
	}
	return d.ApproverClientID + "\x00" + d.AblyMessageID, true
}

// remember marks a well-formed decision as seen, whether it resolved an
// approval or was ignored, so that a copy of it is a duplicate (only once
// the decision was verified: see whyIgnore and checksUnverifiedCopies).
func (r *run) remember(d Decision) {
	if key, ok := dedupeKey(d); ok {
		r.seenMsgs[key] = true
	}
}

// verified marks a decision whose signature was just verified; it returns
// "duplicate" if a copy of it was verified while its own signature was
// checked, or "". Decisions are applied one at a time by one coroutine, and
// the end of the run applies only decisions that no longer name a pending
// call, so no copy is verified meanwhile today: the check keeps a second
// verified copy from counting if that ever changes.
func (r *run) verified(d Decision) string {
	key, ok := dedupeKey(d)
	if !ok {
		return ""
	}
	if r.verifiedMsgs[key] {
		return "duplicate"
	}
	r.verifiedMsgs[key] = true
	return ""
}

// whyUnverifiedCopy is whyIgnore's answer for a copy of a decision that was
// seen but never verified; onDecision asks checksUnverifiedCopies whether
// that makes it a duplicate.
const whyUnverifiedCopy = "copy of a decision that was not verified"

// checksUnverifiedCopies reports whether a copy of a decision that was seen
// but never verified is checked again rather than ignored as a duplicate:
// since changeDecisionChecks on the fast path, since changeUnverifiedCopies
// in runs started before it. Asked only for such a copy.
func (r *run) checksUnverifiedCopies(ctx workflow.Context) bool {
	if r.fast() {
		return workflow.GetVersion(ctx, changeDecisionChecks, workflow.DefaultVersion, 1) >= 1
	}
	return workflow.GetVersion(ctx, changeUnverifiedCopies, workflow.DefaultVersion, 1) >= 1
}

// whyNotDecidableNow is whyNotDecidable at the current workflow time, then
// the checks of changeDecisionChecks (whyRefusedSince).
func (r *run) whyNotDecidableNow(ctx workflow.Context, d Decision, a *approval) string {
	why := r.whyNotDecidable(workflow.Now(ctx), d, a, false)
	why = lateInTime(ctx, why, func() string { return r.whyNotDecidable(workflow.Now(ctx), d, a, true) })
	if why != "" {
		return why
	}
	return r.whyRefusedSince(ctx, d, a)
}

// whyPublishedInTime is whyNotDecidable's answer for a decision applied
// after the call's expiry that was published before it.
const whyPublishedInTime = "published before the expiry, applied after it"

// lateInTime answers for a decision that got whyPublishedInTime: since
// changeInTimeDecisions it is judged by the other checks (check, which
// takes it as in time), before that it was too late. Any other why passes
// through.
func lateInTime(ctx workflow.Context, why string, check func() string) string {
	if why != whyPublishedInTime {
		return why
	}
	if workflow.GetVersion(ctx, changeInTimeDecisions, workflow.DefaultVersion, 1) < 1 {
		return whyExpired
	}
	return check()
}

// whyEscalatedBefore refuses a decision applied after the expiry (though
// published before it) when an escalation of the call was due at or
// before the decision was published, and the run, which did not run
// meanwhile, has not applied it: judged now, the decision would meet the
// stage before the escalation (its role, and counts by roles the
// escalation drops). Refused rather than judged against the stage due
// then, so that nothing counts that the escalation would not have let
// count.
func whyEscalatedBefore(d Decision, a *approval) string {
	st, due, ok := a.stageDueBy(d.PublishedAt)
	if !ok {
		return ""
	}
	return fmt.Sprintf("published after the call was due to escalate to %s (%s), applied after the expiry: too late",
		st.MinRole, due.UTC().Format("15:04:05 UTC"))
}

// whyEscalationDue refuses a decision, otherwise valid and applied before
// the call's expiry, when an escalation of the call is due and the run has
// not applied it yet (awaitRules applies escalations, and may be busy
// publishing a revision of the request): judged now, it would meet the
// stage before the escalation. Since changeDueEscalation; the version is
// asked only for such a decision. A decision applied after the expiry is
// judged by whyEscalatedBefore.
func whyEscalationDue(ctx workflow.Context, a *approval) string {
	if a == nil || !a.isPending() {
		return ""
	}
	now := workflow.Now(ctx)
	st, due, ok := a.stageDueBy(now)
	if !ok || !now.Before(a.pending.ExpiresAt) ||
		workflow.GetVersion(ctx, changeDueEscalation, workflow.DefaultVersion, 1) < 1 {
		return ""
	}
	return fmt.Sprintf("needs %s since %s (the escalation is being applied): send the decision again if your role allows",
		st.MinRole, due.UTC().Format("15:04:05 UTC"))
}

// stageDueBy returns the next escalation stage of approval a and when it
// was due, if it was due at or before t and the run has not applied it.
func (a *approval) stageDueBy(t time.Time) (EscalationStage, time.Time, bool) {
	if a.rules == nil {
		return EscalationStage{}, time.Time{}, false
	}
	st, due, ok := a.rules.nextStage(a.pending.RequestedAt)
	if !ok || due.After(t) {
		return EscalationStage{}, time.Time{}, false
	}
	return st, due, true
}

// whyExpired is why a decision for an expired call is ignored.
const whyExpired = "already resolved (expired)"

// whyRefusedSince returns why decision d, which the checks of earlier code
// accept for approval a, does not count since changeDecisionChecks or
// changeOneVote (rules.whySuperseded), or "". It asks a version only when
// the answer differs, so only the histories of such decisions record it.
func (r *run) whyRefusedSince(ctx workflow.Context, d Decision, a *approval) string {
	if why := whyRefused(workflow.GetInfo(ctx).WorkflowStartTime, d, a); why != "" &&
		workflow.GetVersion(ctx, changeDecisionChecks, workflow.DefaultVersion, 1) >= 1 {
		return why
	}
	if a == nil {
		return ""
	}
	if why := a.rules.whySuperseded(d); why != "" && workflow.GetVersion(ctx, changeOneVote, workflow.DefaultVersion, 1) >= 1 {
		return why
	}
	return ""
}

// whyRefused returns why decision d, accepted for approval a by every
// other check, does not count since changeDecisionChecks, or "". started
// is when the run started.
func whyRefused(started time.Time, d Decision, a *approval) string {
	if !d.PublishedAt.IsZero() && !started.IsZero() && d.PublishedAt.Before(started.Add(-MaxClockSkew)) {
		return "published before this run started: an earlier run's decision"
	}
	if a == nil || a.rules == nil || a.rules.editedBy == nil {
		return ""
	}
	if d.Decision == DecisionApproved && d.Arguments == "" && d.ArgumentsDigest == "" {
		return fmt.Sprintf("the arguments were edited by %s: an approval must name the digest of the arguments it approves (argumentsDigest)", a.rules.editedBy.ClientID)
	}
	return ""
}

// whyEditTwoWays refuses an edit whose arguments two JSON readers take
// for different strings (HasLoneSurrogate), since changeEditSurrogates.
// It asks the version only for such an edit.
func whyEditTwoWays(ctx workflow.Context, d Decision) string {
	if d.Arguments == "" || !HasLoneSurrogate(d.Arguments) ||
		workflow.GetVersion(ctx, changeEditSurrogates, workflow.DefaultVersion, 1) < 1 {
		return ""
	}
	return `edited arguments refused: a \u escape of half a UTF-16 surrogate pair, which JSON readers take for different strings`
}

// lookalikeKeysSince returns LookalikeKeys' error for arguments that have
// such keys (lookalike), since changeLookalikeKeys; it asks the version
// only then.
func lookalikeKeysSince(ctx workflow.Context, lookalike error) error {
	if lookalike == nil || workflow.GetVersion(ctx, changeLookalikeKeys, workflow.DefaultVersion, 1) < 1 {
		return nil
	}
	return lookalike
}

// malformed returns why the decision's identity fields are unusable, or "".
func malformed(d Decision) string {
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
	return ""
}

// whyIgnore returns why the decision changes nothing, or "" if it is
// valid for approval a (nil when the decision names no approval) as far as
// can be told without its signature. now is the workflow time; inTime is
// whyNotDecidable's. It only reads the run's state.
func (r *run) whyIgnore(now time.Time, d Decision, a *approval, inTime bool) string {
	if why := malformed(d); why != "" {
		return why
	}
	if key, _ := dedupeKey(d); r.seenMsgs[key] {
		if r.verifiedMsgs[key] {
			return "duplicate"
		}
		// Seen, but it was unsigned, its signature failed, or it was
		// ignored before the check: a copy from anyone with access to
		// Temporal, or from a bridge not yet upgraded, could have come
		// first.
		return whyUnverifiedCopy
	}
	return r.whyNotDecidable(now, d, a, inTime)
}

// whyNotDecidable returns why the well-formed, new decision d cannot
// resolve approval a now, or "". A decision applied at or after the
// expiry, while the call is still pending (its timer fires in this
// workflow task, which may run long after the decision reached the run
// when no worker ran), is whyPublishedInTime if its Ably timestamp is
// before the expiry: with inTime it is then judged as in time.
func (r *run) whyNotDecidable(now time.Time, d Decision, a *approval, inTime bool) string {
	switch {
	case a == nil:
		return "unknown tool call"
	case !a.isPending():
		return "already resolved (" + a.state.String() + ")"
	case !now.Before(a.pending.ExpiresAt):
		publishedInTime := !d.PublishedAt.IsZero() && d.PublishedAt.Before(a.pending.ExpiresAt)
		switch {
		case !publishedInTime:
			return whyExpired
		case !inTime:
			return whyPublishedInTime
		}
		if why := whyEscalatedBefore(d, a); why != "" {
			return why
		}
	case !d.PublishedAt.IsZero() && d.PublishedAt.After(a.pending.ExpiresAt):
		return "published after the approval expired"
	}
	if _, ok := decisionState(d.Decision); !ok {
		return fmt.Sprintf("invalid decision %q", truncate(d.Decision, 40))
	}
	if d.ArgumentsDigest != "" && a.pending.ArgumentsDigest != "" && d.ArgumentsDigest != a.pending.ArgumentsDigest {
		return "the approver saw other arguments (digest " + truncate(d.ArgumentsDigest, 80) + ")"
	}
	if a.rules != nil {
		return r.whyNotByRules(d, a)
	}
	if err := r.policy.Check(a.call.Name, d.ApproverRole); err != nil {
		return err.Error()
	}
	return ""
}

// ignore records an ignored decision (e has bounded strings) in the
// approval's bucket of the audit trail (see auditTrail), and logs it.
func (r *run) ignore(ctx workflow.Context, e AuditEntry, a *approval, why string) {
	workflow.GetLogger(ctx).Info("decision ignored", "callId", e.ToolCallID, "messageId", e.AblyMessageID, "reason", why)
	bucket := ""
	if a != nil {
		bucket = a.call.CallID
	}
	r.audit.addIgnored(workflow.Now(ctx), e, bucket, why)
}

// noticeIgnored publishes approval-ignored, telling decision d's approver
// that the run did not count it and why: only for a call still pending
// (the approver may decide again), a signed decision (the caller leaves
// out those not well formed, and copies of one seen), whose signature is
// genuine (checked is whether onDecision checked it, verified whether it
// is good, retired whether it is good under a key the worker has retired;
// one refused before that is checked now: a forged decision gets no word
// out), at most MaxIgnoredNotices per approver and call. The checks made
// only for a notice, and the notices of retired keys, are at most
// maxNoticeChecks per call, so junk that names a call costs it a bounded
// number of them. The check and the publish run in a coroutine of their
// own (r.noticing; the run waits for them before it ends), so the
// decisions after this one are not held up behind them. Runs from before
// changeIgnoredNotice publish none, and runs from before
// changeRetiredKeyNotice none for a retired key. A notice that cannot be
// published is logged: the audit has the reason all the same.
func (r *run) noticeIgnored(ctx workflow.Context, d Decision, a *approval, why string, checked, verified, retired bool) {
	if a == nil || !a.isPending() || why == "duplicate" || d.Signature == "" || (checked && !verified && !retired) {
		return
	}
	key := d.ApproverClientID + "\x00" + a.call.CallID
	if r.notices[key] >= MaxIgnoredNotices || (!verified && r.noticeChecks[a.call.CallID] >= maxNoticeChecks) {
		return
	}
	if retired {
		if !r.noticesRetiredKeys(ctx) {
			return
		}
	} else if workflow.GetVersion(ctx, changeIgnoredNotice, workflow.DefaultVersion, 1) < 1 {
		return
	}
	if !verified {
		r.noticeChecks[a.call.CallID]++
	}
	// The approver's notice is counted now, so that decisions that arrive
	// while this one is checked do not all start checks of their own; one
	// that is not published gives its place back.
	r.notices[key]++
	r.noticing++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { r.noticing-- }()
		if !checked {
			// A decision ignored before its signature was checked: a
			// forged one gets no word out; one under a retired key does.
			if refused, genuine := r.verify(ctx, d); refused != "" && (!genuine || !r.noticesRetiredKeys(ctx)) {
				r.notices[key]--
				return
			}
		}
		if !a.isPending() {
			// Decided while the signature was checked.
			r.notices[key]--
			return
		}
		in := ApprovalIgnoredInput{Data: ApprovalIgnoredData{
			ToolCallID: a.call.CallID, WorkflowID: r.workflowID, Tool: a.call.Name,
			Approver: truncate(d.ApproverClientID, MaxClientIDLen), Role: truncate(d.ApproverRole, maxAuditFieldLen),
			Decision: truncate(d.Decision, 40), AblyMessageID: truncate(d.AblyMessageID, MaxMessageIDLen),
			Reason: truncate(why, maxAuditFieldLen), RunID: r.resetRunID,
		}}
		summary := fmt.Sprintf("approval ignored: %s (%s), %s's decision", a.call.Name, a.call.CallID, truncate(d.ApproverClientID, 80))
		if err := r.publishBestEffort(ctx, ActivityPublishApprovalIgnored, in, summary).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("approval-ignored not published", "callId", a.call.CallID, "approver", d.ApproverClientID, "error", err)
		}
	})
}

// noticesRetiredKeys reports whether the run tells the approver of a
// decision signed under a retired key that it did not count
// (changeRetiredKeyNotice).
func (r *run) noticesRetiredKeys(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, changeRetiredKeyNotice, workflow.DefaultVersion, 1) >= 1
}
